"""A pure-engine peer for context: SpiffWorkflow running the same seven-stage process.

The process is bench/peers/seven_stages.bpmn. Each case is persisted between its human steps as a
human-step engine must persist it (bench/peers/spiff_engine.py), and the cases play the scenarios of
tests/support.py. Every figure has a same-run baseline: the same steps with no engine, which load and
store JSON documents of the same size in the same SQLite table. The ratio is therefore the engine's own
cost (deserialize, run, serialize) on top of the storage work any durable engine does.

These figures are context. Nothing is judged against a goal, and no timing fails a run: the machine is
shared.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.peers.spiff_engine import (
    Cases,
    PlainCases,
    Played,
    Script,
    SpiffCases,
    SpiffProcess,
    Store,
    long_script,
    open_cases,
    play,
    scenario_scripts,
)
from bench.report import Figure

WORKERS = 2
LONG_REPORTS = 17  # progress reports of the long case: 25 steps in all, so it has a 20th step
NTH = 20
BASELINE = "same steps, JSON load/store only"


def run(quick: bool) -> list[Figure]:
    copies = 2 if quick else 40  # cases per scenario script; 47 steps per copy
    long_copies = 2 if quick else 20
    load_before = os.getloadavg()[0]
    process = SpiffProcess()
    scripts = scenario_scripts()
    long = long_script(LONG_REPORTS)
    # Playing every script once also warms the engine's code paths before anything is timed.
    documents = {s.name: process.documents(s) for s in [*scripts, long]}
    with tempfile.TemporaryDirectory(prefix="jianyi-bench-spiff-") as tmp:
        db = Path(tmp) / "cases.sqlite"
        store = Store(db)
        spiff_cases, plain_cases = SpiffCases(store, process), PlainCases(store, documents)
        seq = {c.kind: play(c, open_cases(c, scripts, copies)) for c in (spiff_cases, plain_cases)}
        par = {kind: _parallel(kind, db, scripts, copies, documents) for kind in ("spiff", "plain")}
        longs = {c.kind: play(c, open_cases(c, [long], long_copies)) for c in (spiff_cases, plain_cases)}
        synchronous = store.db.execute("PRAGMA synchronous").fetchone()[0]
        store.close()

    common = {
        "process": "bench/peers/seven_stages.bpmn",
        "task_specs": process.task_count,
        "user_tasks": process.user_task_count,
        "store": f"SQLite WAL, synchronous={synchronous}, one row per case, one transaction per step",
        "scripts": {s.name: {"steps": len(s.steps), "left_out": list(s.skipped)} for s in scripts},
        # The machine is shared: how busy it was says how far to trust the absolute figures.
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    sizes = {
        name: {"after_start": len(d[0]), "after_first_step": len(d[1]), "after_last_step": len(d[-1])}
        for name, d in documents.items()
    }
    spiff, plain = seq["spiff"], seq["plain"]
    figures = [
        Figure(
            "spiff.steps_per_s",
            "SpiffWorkflow human steps/s, 1 process",
            spiff.steps / spiff.wall,
            "steps/s",
            plain.steps / plain.wall,
            BASELINE,
            details=common
            | {
                "cases": len(spiff.costs),
                "steps": spiff.steps,
                "wall_s": round(spiff.wall, 2),
                "json_chars_per_case": sizes,
                "process_definition_chars_in_each_case": process.spec_share(documents[scripts[0].name][0]),
                "mean_ms_per_phase": {"spiff": _phases(spiff), "plain": _phases(plain)},
            },
        ),
        Figure(
            "spiff.steps_per_s_2proc",
            f"SpiffWorkflow human steps/s, {WORKERS} processes",
            _rate(par["spiff"]),
            "steps/s",
            _rate(par["plain"]),
            f"{BASELINE}, {WORKERS} processes",
            details={
                "workers": WORKERS,
                "each": "its own cases, one SQLite file shared",
                "steps": sum(p.steps for p in par["spiff"]),
                "vs_1_process": {k: round(_rate(par[k]) / (seq[k].steps / seq[k].wall), 2) for k in par},
                "cpu_s_per_step": {k: _cpu_per_step(v) for k, v in par.items()},
                "mean_ms_per_phase": {k: _phases(*v) for k, v in par.items()},
            },
        ),
        Figure(
            "spiff.cpu_per_step",
            "SpiffWorkflow CPU per human step",
            spiff.cpu / spiff.steps,
            "CPU-s",
            plain.cpu / plain.steps,
            BASELINE,
            details={"measured": "process CPU (user+system) of the single-process run ÷ its steps"},
        ),
        _nth_figure(longs, documents[long.name]),
    ]
    return figures


def _nth_figure(longs: dict[str, Played], docs: list[str]) -> Figure:
    """Does a step cost more as the case's history grows? Median CPU of step N ÷ step 1, same case."""
    cpu = {kind: _median_by_step(played) for kind, played in longs.items()}
    ratio = {kind: series[NTH - 1] / series[0] for kind, series in cpu.items()}
    return Figure(
        "spiff.step20_vs_step1",
        f"SpiffWorkflow CPU of step {NTH} ÷ step 1 of one case",
        ratio["spiff"],
        "×",
        ratio["plain"],
        "the same for JSON load/store only",
        details={
            "script": f"triage, opinion (adopt), review, reply, rating, {LONG_REPORTS}+1 progress reports, "
            "post-adoption communication, commendation result",
            "cases": len(longs["spiff"].costs),
            "median_cpu_ms_by_step": {k: [round(v * 1000, 2) for v in s] for k, s in cpu.items()},
            "json_chars_by_step": [len(d) for d in docs[1:]],
            "task_records_by_step": [SpiffProcess.task_records(d) for d in docs[1:]],
            "step_1_vs_20_json_chars": [len(docs[1]), len(docs[NTH])],
        },
    )


def _parallel(
    kind: str, db: Path, scripts: Sequence[Script], copies: int, documents: dict[str, list[str]]
) -> list[Played]:
    """The same work split between worker processes, each with its own cases, timed from a barrier."""
    # spawn: a fresh interpreter per worker, with no SQLite connection or engine state of ours in it.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results: Any = context.Queue()
    share = -(-copies // WORKERS)  # ceil: the whole work is at least the single process's
    workers = [
        context.Process(
            target=_worker, args=(kind, str(db), list(scripts), share, documents, barrier, results)
        )
        for _ in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    failures = [g for g in got if isinstance(g, str)]
    if failures:
        raise RuntimeError(f"a {kind} worker failed:\n{failures[0]}")
    return got


def _worker(
    kind: str,
    db: str,
    scripts: list[Script],
    copies: int,
    documents: dict[str, list[str]],
    barrier: Any,
    results: Any,
) -> None:
    """Set up untimed, wait for the other worker, play; put the result, or the traceback of a failure."""
    try:
        store = Store(db)
        cases: Cases
        if kind == "spiff":
            process = SpiffProcess()
            for script in scripts:  # warm-up, as the single process had
                process.documents(script)
            cases = SpiffCases(store, process)
        else:
            cases = PlainCases(store, documents)
        started = open_cases(cases, scripts, copies)
        barrier.wait(timeout=300)
        results.put(play(cases, started))
        store.close()
    except BaseException:
        barrier.abort()  # the other worker must not wait for this one at the barrier
        results.put(traceback.format_exc())


def _rate(played: list[Played]) -> float:
    wall = max(p.ended_at for p in played) - min(p.started_at for p in played)
    return sum(p.steps for p in played) / wall


def _cpu_per_step(played: list[Played]) -> float:
    return sum(p.cpu for p in played) / sum(p.steps for p in played)


def _phases(*played: Played) -> dict[str, float]:
    """Mean wall time of each phase of a step; "save" includes waiting for SQLite's write lock."""
    steps = [c for p in played for case in p.costs for c in case]
    return {
        phase: round(statistics.fmean(getattr(c, phase) for c in steps) * 1000, 3)
        for phase in ("load", "engine", "serialize", "save")
    }


def _median_by_step(played: Played) -> list[float]:
    length = min(len(case) for case in played.costs)
    return [statistics.median(case[i].cpu for case in played.costs) for i in range(length)]
