"""Does the 20th resume of one suggestion cost what the 1st does? (Earlier stages are never replayed.)

The whole system runs; one suggestion is driven to implementation (triage, opinion, review, reply,
rating), then its lead department reports progress 25 times, one after the other. For each resume:
the wall time from the completion's HTTP request to the next progress step being open (seen by the
department via the API), and the CPU of the executor and of the Prefect server over the resume's
whole cycle (its completion to the next one's, which includes a fixed pause: a resume's tail, its
suspend and flushed logs and events, lands in its own cycle). Each figure is the 20th ÷ the 1st, and
the mean of the last five ÷ the mean of resumes 2–6 (steadier on a shared machine).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from bench.figures.throughput import submit, wait_for
from bench.generate import suggestions
from bench.report import Figure
from bench.system_driver import OFFICE, BenchSystem, Departments, Move
from jianyi.models import Step
from jianyi.models.enums import StepKind, StepState

LEAD = "city-transport"
SETTLE_SECONDS = 1.0  # between a resume's next step being visible and the next completion
PROGRESS = {"percent": 50, "form": "work_improvement"}
TO_IMPLEMENTATION = [
    Move(
        StepKind.triage,
        OFFICE,
        {"kind": "suggestion", "category": "交通出行", "level": "general", "lead_unit": LEAD},
    ),
    Move(
        StepKind.opinion,
        LEAD,
        {
            "decision": "adopt",
            "reasons": "可行",
            "measures": "高峰加密至5分钟一班",
            "planned_completion": "2027-03-01",
            "consultation": "上门走访",
        },
    ),
    Move(StepKind.review, OFFICE, {"action": "accept"}),
    Move(StepKind.reply, OFFICE, {"method": "phone", "text": "已电话答复"}),
    Move(StepKind.rating, None, {"rating": "satisfied"}),
]


@dataclass
class Resume:
    number: int
    wall: float
    executor_cpu: float
    prefect_cpu: float


def _open_progress(bench: BenchSystem, sid: int, http: httpx.Client, not_id: int | None) -> int:
    """The suggestion's open progress step (not ``not_id``), once its department sees it via the API."""
    query = select(Step.id).where(
        Step.suggestion_id == sid, Step.kind == StepKind.progress, Step.state == StepState.open
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with bench.probe.connect() as conn:
            found = [i for i in conn.execute(query).scalars() if i != not_id]
        if found:
            view = http.get(f"/api/steps/{found[0]}", headers=bench.headers(LEAD)).json()
            if view["state"] == "open":
                return found[0]
        time.sleep(0.01)
    raise TimeoutError(f"no new progress step of suggestion {sid} within 60 s")


def measure(resumes: int, *, poll: float = 0.05, env: dict[str, str] | None = None) -> list[Resume]:
    # Poll often: the wall figure should show the attempt, not the executor's polling interval.
    bench = BenchSystem(
        "resume", extra_env={"JIANYI_EXECUTOR_POLL_SECONDS": str(poll), **(env or {})}
    ).start()
    try:
        pids = bench.pids()
        with httpx.Client(base_url=bench.url, timeout=60) as http:
            generated = next(iter(suggestions(1, seed=5, prefix="resume")))
            case = submit(bench, http, generated, 0)
            case.moves = TO_IMPLEMENTATION
            wait_for(lambda: _at_triage(bench, case.suggestion_id), 60, "the suggestion at triage")
            asyncio.run(Departments(bench).play([case], 1, wait_closed=False))
            step_id = _open_progress(bench, case.suggestion_id, http, None)
            rows: list[Resume] = []
            time.sleep(SETTLE_SECONDS)
            cpu0 = bench.cpu()
            for n in range(1, resumes + 1):
                t0 = time.perf_counter()
                response = http.post(
                    f"/api/steps/{step_id}/complete",
                    json={**PROGRESS, "milestone": f"第{n}次进展"},
                    headers=bench.headers(LEAD),
                )
                response.raise_for_status()
                step_id = _open_progress(bench, case.suggestion_id, http, not_id=step_id)
                wall = time.perf_counter() - t0
                time.sleep(SETTLE_SECONDS)
                cpu1 = bench.cpu()
                rows.append(
                    Resume(
                        n,
                        wall,
                        cpu1["executor"] - cpu0["executor"],
                        cpu1["prefect"] - cpu0["prefect"],
                    )
                )
                cpu0 = cpu1
            assert bench.pids().keys() == pids.keys(), "a process of the system died"
    finally:
        bench.stop()
    return rows


def _at_triage(bench: BenchSystem, sid: int) -> bool:
    query = select(Step.id).where(Step.suggestion_id == sid, Step.kind == StepKind.triage)
    with bench.probe.connect() as conn:
        return conn.execute(query).first() is not None


def run(quick: bool) -> list[Figure]:
    rows = measure(6 if quick else 25)
    nth = min(20, len(rows))
    first, later = rows[0], rows[nth - 1]
    early, late = rows[1:6], rows[-5:]
    details = {
        "resumes": [
            {
                "n": r.number,
                "wall_s": round(r.wall, 3),
                "executor_cpu_s": round(r.executor_cpu, 2),
                "prefect_cpu_s": round(r.prefect_cpu, 2),
            }
            for r in rows
        ],
        "settle_s": SETTLE_SECONDS,
        "executor_poll_s": 0.05,
    }
    figures: list[Figure] = []
    for key, title, unit, pick in (
        ("wall", "wall time", "s", lambda r: r.wall),
        ("executor_cpu", "executor CPU", "CPU-s", lambda r: r.executor_cpu),
        ("prefect_cpu", "Prefect server CPU", "CPU-s", lambda r: r.prefect_cpu),
    ):
        tick = 0.01  # /proc's CPU clock: a zero reading is "less than a tick"
        figures.append(
            Figure(
                f"resume.{key}_{nth}_vs_1",
                f"resume {nth} ÷ resume 1: {title}",
                pick(later),
                unit,
                baseline=max(pick(first), tick),
                baseline_label="resume 1",
                goal="≤ 1.2× the 1st",
                met=pick(later) <= 1.2 * max(pick(first), tick),
                details=details if key == "wall" else {},
            )
        )
        mean_late, mean_early = statistics.fmean(map(pick, late)), statistics.fmean(map(pick, early))
        figures.append(
            Figure(
                f"resume.{key}_last5_vs_2to6",
                f"resume mean of last 5 ÷ of 2–6: {title}",
                mean_late,
                unit,
                baseline=max(mean_early, tick),
                baseline_label="resumes 2–6",
                goal="≤ 1.2×",
                met=mean_late <= 1.2 * max(mean_early, tick),
            )
        )
    return figures
