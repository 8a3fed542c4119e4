"""What waiting costs: the system idle with 100,000 suspended suggestions, beside the same system with one.

One system (Prefect server on its SQLite, API, executor, as ``jianyi up`` starts them) in a temporary
directory. A real suggestion is taken in and suspended at triage (the template), then, in order:

1. K suggestions played to their end, and the Prefect database per finished suggestion before and after
   Prefect's own retention (bench/prefect_db.py);
2. idle with 1 suggestion waiting (the template): CPU of each process over the window (% of a core),
   the executor's RSS sampled every 2 s, the system's live processes;
3. the Prefect server stopped, the template copied N times in SQL (bench/suspended_seed.py) and the
   server started again; the same executor and API ran on: the same window at N waiting;
4. (full only) the Prefect server restarted with Prefect's defaults for the services jianyi turns off
   or slows down (pause expirations, late runs, scheduler, foreman, cancellation cleanup every 20 s):
   the same window, for context.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench import prefect_db
from bench import suspended_seed as seed
from bench.procs import cpu_seconds, descendants, rss_bytes, tree_cpu_seconds
from bench.report import Figure
from jianyi.runtime.prefect_server import PrefectServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from support import SUGGESTION

# Prefect's defaults for the services jianyi's PrefectServer turns off or slows down.
PREFECT_DEFAULT_SERVICES = {
    **{
        f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "true"
        for name in ("PAUSE_EXPIRATIONS", "LATE_RUNS", "SCHEDULER", "FOREMAN")
    },
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS": "20",
}
RSS_EVERY = 2.0
WARM_UP = 35.0  # seconds after the executor starts: past its first supervision sweep (30 s)
T = TypeVar("T")
MB = 1024 * 1024


@dataclass
class Window:
    """One idle window: CPU in % of a core per process, the executor's RSS samples, live processes."""

    waiting: int
    seconds: float
    cpu: dict[str, float]
    rss: list[tuple[float, int]]  # (seconds into the window, bytes)
    processes: list[str]
    executor_log: dict[str, int]  # what the executor logged during the window: message → times

    @property
    def rss_mb(self) -> float:
        return max(r for _, r in self.rss) / MB

    @property
    def rss_drift_mb(self) -> float:
        """Last third of the window minus first third: growth while idle."""
        third = max(1, len(self.rss) // 3)
        return (
            statistics.mean(r for _, r in self.rss[-third:]) - statistics.mean(r for _, r in self.rss[:third])
        ) / MB

    def raw(self) -> dict[str, Any]:
        return {
            "waiting": self.waiting,
            "seconds": round(self.seconds, 1),
            "cpu_percent_of_a_core": {k: round(v, 2) for k, v in self.cpu.items()},
            "executor_rss_mb_samples": [(round(t, 1), round(r / MB, 1)) for t, r in self.rss],
            "processes": self.processes,
            "executor_log": self.executor_log,
        }


def _pids(office: seed.Office) -> dict[str, int]:
    system = office.system
    assert system.prefect is not None and system.prefect.pid and system.executor and system.api
    return {"prefect": system.prefect.pid, "executor": system.executor.pid, "api": system.api.pid}


def _processes() -> list[str]:
    """The live processes this benchmark started (server, its children, API, executor), by command."""
    names = []
    for pid in descendants(os.getpid()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        names.append(" ".join(a.decode(errors="replace") for a in argv[1:4] if a))
    return sorted(names)


def _log_lines(path: Path, since: int) -> dict[str, int]:
    """Lines logged after byte ``since``, by message with digits and hex masked (ids, times vary)."""
    with path.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    counts: dict[str, int] = {}
    for line in lines:
        key = re.sub(r"[0-9a-f]{8,}|\d+", "#", line.split(" | ")[-1])[:160]
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1])[:15])


def measure(office: seed.Office, waiting: int, seconds: float) -> Window:
    pids = _pids(office)
    log = office.system.home / "executor.log"
    log_at = log.stat().st_size
    started = time.monotonic()
    before = {k: tree_cpu_seconds(p) if k == "prefect" else cpu_seconds(p) for k, p in pids.items()}
    rss = []
    while (at := time.monotonic() - started) < seconds:
        rss.append((at, rss_bytes(pids["executor"])))
        time.sleep(min(RSS_EVERY, max(0.0, seconds - at)))
    wall = time.monotonic() - started
    after = {k: tree_cpu_seconds(p) if k == "prefect" else cpu_seconds(p) for k, p in pids.items()}
    rss.append((wall, rss_bytes(pids["executor"])))
    cpu = {k: 100 * (after[k] - before[k]) / wall for k in pids}
    return Window(waiting, wall, cpu, rss, _processes(), _log_lines(log, log_at))


def swap_prefect(office: seed.Office, extra_env: dict[str, str], while_stopped: Callable[[], T]) -> T:
    """Stop the Prefect server, do ``while_stopped``, start it again on the same port and database with
    ``extra_env``. The executor and the API run on: they ride out the outage as they would in an office."""
    system = office.system
    assert system.prefect is not None
    system.prefect.stop()
    result = while_stopped()
    system.prefect = PrefectServer(
        system.prefect.directory, port=system.prefect.port, ui=False, extra_env=extra_env
    )
    system.prefect.start()
    return result


# --- the group ------------------------------------------------------------------------------------


def run(quick: bool) -> list[Figure]:
    n = 2_000 if quick else 100_000
    k = 2 if quick else 20
    window = 10.0 if quick else 60.0
    settle = 3.0 if quick else 20.0
    home = Path(tempfile.mkdtemp(prefix="jianyi-bench-idle-"))
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def done(phase: str) -> None:
        nonlocal clock
        timings[phase] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    office = seed.start(home)
    executor_started = time.monotonic()
    defaults_n = None
    try:
        template = seed.make_template(office, SUGGESTION)
        done("start_and_template")
        growth = prefect_db.finished_suggestions(office, k)
        done("finished_and_retention")
        # One executor throughout, measured before and after the N suggestions appear. Its first rules
        # reload (10 s) and supervision sweep (30 s) each load code and rules once: a step in RSS that is
        # start-up, not waiting, so the first window starts after them.
        time.sleep(max(settle, executor_started + WARM_UP - time.monotonic()))
        idle0 = measure(office, 0, window)
        done("idle_at_0")
        assert office.system.prefect is not None
        prefect_file = office.system.prefect.directory / "prefect.db"

        def copy() -> dict[str, Any]:
            size = prefect_file.stat().st_size
            seeded = seed.clone(office.system.database_url, prefect_file, template, n)
            seeded["prefect_db_kb_per_suspended_run"] = round(
                (prefect_file.stat().st_size - size) / n / 1024, 1
            )
            return seeded

        seeded = swap_prefect(office, {}, copy)
        done("clone")
        time.sleep(settle)
        idle_n = measure(office, n, window)
        done("idle_at_n")
        if not quick:  # a third server start: too slow for --quick
            swap_prefect(office, PREFECT_DEFAULT_SERVICES, lambda: None)
            time.sleep(settle)
            defaults_n = measure(office, n, window)
            done("prefect_defaults_at_n")
    finally:
        office.system.stop()
        office.http.close()
        shutil.rmtree(home, ignore_errors=True)  # gigabytes at full volume
    seeded["phase_seconds"] = timings
    return figures(n, k, idle0, idle_n, defaults_n, growth, seeded)


def figures(
    n: int,
    k: int,
    idle0: Window,
    idle_n: Window,
    defaults_n: Window | None,
    growth: prefect_db.DbGrowth,
    seeded: dict[str, Any],
) -> list[Figure]:
    windows = {"at_0": idle0.raw(), f"at_{n}": idle_n.raw()}
    per_process = (len(idle_n.processes) - len(idle0.processes)) / n
    rss_ratio = idle_n.rss_mb / idle0.rss_mb
    after = growth.per_suggestion_kb("events_retention")
    result = [
        Figure(
            "idle.prefect_cpu",
            f"Prefect server CPU, idle, {n:,} suspended",
            idle_n.cpu["prefect"],
            "% of a core",
            baseline=idle0.cpu["prefect"],
            baseline_label="1 suspended",
            goal="≤ 5 % of a core with 100,000 suspended",
            met=idle_n.cpu["prefect"] <= 5.0,
            details={"seeding": seeded, **windows},
        ),
        Figure(
            "idle.executor_rss",
            f"Executor RSS, idle, {n:,} waiting",
            idle_n.rss_mb,
            "MB",
            baseline=idle0.rss_mb,
            baseline_label="1 waiting",
            goal="flat: ≤ 1.1× the RSS at 1 waiting, < 2 MB drift over the window",
            met=rss_ratio <= 1.1 and abs(idle_n.rss_drift_mb) < 2,
            details={
                "drift_mb": {"at_0": round(idle0.rss_drift_mb, 2), f"at_{n}": round(idle_n.rss_drift_mb, 2)}
            },
        ),
        Figure(
            "idle.executor_cpu",
            f"Executor CPU, idle, {n:,} waiting",
            idle_n.cpu["executor"],
            "% of a core",
            baseline=idle0.cpu["executor"],
            baseline_label="1 waiting",
            details={"api_cpu": {"at_0": round(idle0.cpu["api"], 2), f"at_{n}": round(idle_n.cpu["api"], 2)}},
        ),
        Figure(
            "idle.processes_per_waiting",
            "Processes alive per waiting suggestion",
            per_process,
            "processes",
            goal="0",
            met=per_process == 0,
            details={"at_0": idle0.processes, f"at_{n}": idle_n.processes},
        ),
        Figure(
            "idle.prefect_db_per_finished",
            "Prefect database per finished suggestion, after event retention",
            after,
            "KB",
            baseline=growth.per_suggestion_kb("finished"),
            baseline_label="before retention",
            goal="≤ 50 KB",
            met=after <= 50,
            details={
                "suggestions": k,
                "kb_of_rows_per_run_after_events_retention": growth.runs_kb,
                "bytes_after_vacuum": growth.sizes,
                "kb_per_suggestion_by_table": {s: growth.table_kb(s) for s in growth.sizes if s != "before"},
                "retention": "Prefect's events vacuum, PREFECT_SERVER_EVENTS_RETENTION_PERIOD 7 days; rows aged 8 days",
            },
        ),
        Figure(
            "idle.prefect_db_per_finished_pruned",
            "Prefect database per finished suggestion, after jianyi's 30-day retention job",
            growth.per_suggestion_kb("orphans_vacuumed"),
            "KB",
            baseline=growth.per_suggestion_kb("finished"),
            baseline_label="before retention",
            goal="≤ 50 KB",
            met=growth.per_suggestion_kb("orphans_vacuumed") <= 50,
            details={
                "runs_deleted": growth.pruned,
                "kb_after_the_job_before_the_orphan_vacuum": round(
                    growth.per_suggestion_kb("runs_pruned"), 1
                ),
                "how": "jianyi/executor/retention.py (clock 31 days ahead) deletes through the API the Completed runs "
                "of suggestions closed 30 days ago (the server then deletes their logs); Prefect's orphan vacuum "
                "(PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,orphans, daily) catches any left over",
            },
        ),
    ]
    if defaults_n is not None:
        result.insert(
            1,
            Figure(
                "idle.prefect_cpu_defaults",
                f"Prefect server CPU with Prefect's default services, {n:,} suspended",
                defaults_n.cpu["prefect"],
                "% of a core",
                baseline=idle_n.cpu["prefect"],
                baseline_label="jianyi's settings",
                details={"settings": PREFECT_DEFAULT_SERVICES, f"at_{n}_prefect_defaults": defaults_n.raw()},
            ),
        )
    return result
