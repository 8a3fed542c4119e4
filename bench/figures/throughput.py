"""Human steps end to end under load, beside the standard Prefect way in the same run.

The whole system runs (Prefect server, API, executor; SQLite). N suggestions are taken in and wait
at triage; then the city's units work them, ``concurrency`` suggestions at a time, each completing
the steps it owes as soon as they open, along the scripts of tests/support.py (cycling). For each
completion: the time from its HTTP response to the next step of that suggestion being open and seen
by its unit via the API (or the suggestion seen closed). Over the loaded window (after a warm-up,
while the backlog lasts): steps per second, p50/p95 of that latency, and the CPU of each process.

Then, on the same machine and Prefect server, the executor is swapped for the standard way (a
Prefect process worker, one process per attempt; bench/prefect_standard.py) and a smaller set of
suggestions is worked the same way, for a fixed time: its steps/s and CPU per step are the baseline.

JIANYI_BENCH_BACKEND=postgresql runs both databases (jianyi's and the Prefect server's) on a local
PostgreSQL cluster instead, and adds the cluster's CPU (its backends) to the split.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import and_, func, select

from bench import prefect_standard
from bench.generate import Generated, suggestions
from bench.procs import cpu_seconds, delta, machine_cpu_seconds
from bench.report import Figure
from bench.system_driver import SCENARIOS, BenchSystem, Case, Departments, script
from jianyi.models import Step, Suggestion
from jianyi.models.enums import StepKind, StepState

POLL_SECONDS = 0.5  # the executor's default (JIANYI_EXECUTOR_POLL_SECONDS): what an office runs


@dataclass
class Tick:
    at: float
    steps: int  # completions answered so far
    backlog: int  # suggestions not yet taken up
    cpu: dict[str, float]
    machine: dict[str, float]  # the whole machine's busy, idle and steal CPU-s so far (procs.py)


@dataclass
class Phase:
    """One way of executing, worked for a while: what the figures are computed from."""

    label: str
    departments: Departments
    ticks: list[Tick]
    cases: list[Case]
    warmup: bool = True
    window: tuple[Tick, Tick] = field(init=False)

    def __post_init__(self) -> None:
        self.window = _window(self.ticks, 0.1 if self.warmup else 0.0)

    @property
    def seconds(self) -> float:
        return self.window[1].at - self.window[0].at

    @property
    def steps(self) -> int:
        start, end = self.window
        return sum(1 for t in self.departments.completions if start.at <= t <= end.at)

    @property
    def rate(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def latencies(self, *, window_only: bool = True) -> list[float]:
        start, end = self.window
        return sorted(
            s.latency for s in self.departments.samples if not window_only or start.at <= s.done_at <= end.at
        )

    def cpu(self) -> dict[str, float]:
        start, end = self.window
        return delta(start.cpu, end.cpu)

    def machine(self) -> dict[str, float]:
        start, end = self.window
        return delta(start.machine, end.machine)

    def cpu_per_step(self) -> dict[str, float]:
        return {k: v / max(self.steps, 1) for k, v in self.cpu().items()}

    def outcomes_as_scripted(self) -> tuple[int, int]:
        closed = self.departments.closed
        return sum(1 for c in self.cases if closed.get(c.suggestion_id) == c.outcome), len(closed)


def _window(ticks: list[Tick], warmup_fraction: float) -> tuple[Tick, Tick]:
    """After a warm-up (that fraction of the ticks), while the backlog lasts: the loaded part. When
    the backlog is too short to give one (quick runs, the baseline), up to the end."""
    start = ticks[int(len(ticks) * warmup_fraction)]
    loaded = [t for t in ticks if t.at > start.at and t.backlog > 0]
    end = loaded[-1] if len(loaded) >= max(4, len(ticks) // 3) else ticks[-1]
    return start, end


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def submit(bench: BenchSystem, http: httpx.Client, generated: Generated, number: int) -> Case:
    """Intake over the API, as the office's intake desk does; the case with its script (cycling)."""
    scenario = SCENARIOS[number % len(SCENARIOS)]
    response = http.post("/api/suggestions", json=generated.data, headers=bench.headers())
    response.raise_for_status()
    body = response.json()
    moves = script(scenario, generated, number)
    return Case(
        body["id"], body["tracking_code"], body["check_code"], scenario.name, scenario.outcome.value, moves
    )


def wait_for(what: Any, timeout: float, message: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {message}")


def take_in(
    bench: BenchSystem, count: int, *, seed: int, prefix: str, first: int = 0, each: float = 10.0
) -> list[Case]:
    """Submit ``count`` suggestions and wait until each waits at triage (its run started and suspended)."""
    with httpx.Client(base_url=bench.url, timeout=60) as http:
        cases = [
            submit(bench, http, g, first + n)
            for n, g in enumerate(suggestions(count, seed=seed, prefix=prefix))
        ]
    ids = [c.suggestion_id for c in cases]
    query = (
        select(func.count(Step.id))
        .join(Suggestion, and_(Suggestion.id == Step.suggestion_id, Suggestion.flow_run_id.is_not(None)))
        .where(Step.suggestion_id.in_(ids), Step.kind == StepKind.triage, Step.state == StepState.open)
    )

    def all_at_triage() -> bool:
        bench.check_alive()
        with bench.probe.connect() as conn:
            return conn.execute(query).scalar_one() == count

    wait_for(all_at_triage, timeout=60 + each * count, message=f"{count} suggestions at triage", every=0.5)
    return cases


async def _work(
    bench: BenchSystem, cases: list[Case], concurrency: int, seconds: float | None
) -> tuple[Departments, list[Tick]]:
    departments = Departments(bench)
    ticks: list[Tick] = []

    async def sample() -> None:
        while True:
            cpu = await asyncio.to_thread(bench.cpu)
            backlog = departments.backlog
            ticks.append(
                Tick(time.monotonic(), len(departments.completions), backlog, cpu, machine_cpu_seconds())
            )
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.wait_for(departments.play(cases, concurrency), timeout=seconds)
    except TimeoutError:
        if seconds is None:
            raise
    finally:
        sampler.cancel()
    ticks.append(
        Tick(
            time.monotonic(),
            len(departments.completions),
            departments.backlog,
            bench.cpu(),
            machine_cpu_seconds(),
        )
    )
    return departments, ticks


def work(
    label: str,
    bench: BenchSystem,
    cases: list[Case],
    concurrency: int,
    seconds: float | None,
    warmup: bool = True,
) -> Phase:
    departments, ticks = asyncio.run(_work(bench, cases, concurrency, seconds))
    return Phase(label, departments, ticks, cases, warmup)


def _split_details(phase: Phase) -> dict[str, Any]:
    first = phase.window[0]
    return {
        "steps": phase.steps,
        "window_s": round(phase.seconds, 1),
        "cpu_s": {k: round(v, 2) for k, v in phase.cpu().items()},
        "cpu_per_step_s": {k: round(v, 4) for k, v in phase.cpu_per_step().items()},
        "suggestions_closed": len(phase.departments.closed),
        "outcomes_as_scripted": phase.outcomes_as_scripted()[0],
        "steps_before_window": first.steps,
        # Steal: CPU the hypervisor gave to others while the window ran (this machine is shared).
        "machine_cpu_s": {k: round(v, 1) for k, v in phase.machine().items()},
    }


# (suggestions, worked at once, at most seconds) for jianyi and for the standard way. Full: enough
# suggestions that the backlog lasts the whole measurement on a machine as slow as ours; the standard
# way spends seconds of CPU on each attempt, so a few suggestions keep it busy.
QUICK = ((3, 3, None), (1, 1, 12.0))
FULL = ((160, 16, 300.0), (6, 6, 150.0))


def run(quick: bool) -> list[Figure]:
    backend = os.environ.get("JIANYI_BENCH_BACKEND", "sqlite")
    (count, concurrency, seconds), (base_count, base_concurrency, base_seconds) = QUICK if quick else FULL
    env = {"JIANYI_EXECUTOR_POLL_SECONDS": str(POLL_SECONDS)}
    bench = BenchSystem("throughput", extra_env=env, backend=backend).start()
    try:
        cases = take_in(bench, count, seed=11, prefix="tp")
        own_cpu0 = cpu_seconds(os.getpid())
        ours = work("jianyi", bench, cases, concurrency, seconds)
        own_cpu = cpu_seconds(os.getpid()) - own_cpu0
        print(f"   jianyi: {ours.steps} steps in {ours.seconds:.0f} s; now the standard way …", flush=True)
        prefect_standard.start(bench, poll_seconds=POLL_SECONDS)
        # Scripts from the third on (not_adopted, kept…): the first two close at triage.
        # Each first attempt is a process of its own, all at once: allow a minute apiece.
        base_cases = take_in(bench, base_count, seed=12, prefix="tp-std", first=2, each=60.0)
        # Quick: too short a time for a warm-up; the window is all of it (the standard way's first
        # completion is answered at once, its next step opens some 15 s later on a slow machine).
        standard = work("standard", bench, base_cases, base_concurrency, base_seconds, warmup=not quick)
    finally:
        bench.stop()
    return figures(ours, standard, own_cpu, quick=quick, backend=backend)


def figures(ours: Phase, standard: Phase, own_cpu: float, *, quick: bool, backend: str) -> list[Figure]:
    # The standard way completes few steps in its time: all its samples, not only its window's.
    lat, base_lat = ours.latencies(), standard.latencies(window_only=False)
    p50, p95 = percentile(lat, 0.5), percentile(lat, 0.95)
    ours_split, std_split = ours.cpu_per_step(), standard.cpu_per_step()
    total, std_total = sum(ours_split.values()), sum(std_split.values())
    # The standard way's "executor" is our starter/waker half plus the worker and its flow-run processes.
    std_exec = std_split.get("executor", 0.0) + std_split.get("worker", 0.0)
    std = "standard Prefect, process per attempt"
    database = (
        "SQLite: the database work is inside the API and executor processes (and the Prefect server's "
        "own SQLite inside that server), counted with them"
        if backend == "sqlite"
        else "PostgreSQL (one local cluster, fsync off) for jianyi and the Prefect server: its backends "
        "are counted as postgres"
    )
    common = {
        "backend": backend,
        "database": database,
        "bench_process_cpu_s": round(own_cpu, 2),
        "bench_process": "SMTP/SMS sinks, simulated departments and their database probe: not counted",
        "quick": quick,
    }
    rate_met = ours.rate >= 10 and ours.rate >= 10 * standard.rate
    return [
        Figure(
            "throughput.steps_per_s",
            "human steps completed end to end",
            ours.rate,
            "steps/s",
            baseline=standard.rate,
            baseline_label=std,
            goal="≥ 10/s and ≥ 10× the standard way",
            met=rate_met,
            details={**_split_details(ours), "standard": _split_details(standard), **common},
        ),
        Figure(
            "throughput.latency_p95",
            "complete → next wait visible, p95",
            p95,
            "s",
            baseline=percentile(base_lat, 0.95),
            baseline_label=std,
            goal="p95 ≤ 2 s",
            met=p95 <= 2.0,
            details={
                "p50_s": round(p50, 3),
                "max_s": round(max(lat, default=float("nan")), 3),
                "n": len(lat),
                "mean_s": round(statistics.fmean(lat), 3) if lat else None,
                "standard_p50_s": round(percentile(base_lat, 0.5), 3),
                "standard_n": len(base_lat),
            },
        ),
        Figure(
            "throughput.latency_p50",
            "complete → next wait visible, p50",
            p50,
            "s",
            baseline=percentile(base_lat, 0.5),
            baseline_label=std,
        ),
        Figure(
            "throughput.cpu_per_step",
            "CPU per human step, all processes",
            total,
            "CPU-s",
            baseline=std_total,
            baseline_label=std,
            goal="≤ 0.2 CPU-s",
            met=total <= 0.2,
            details={"split": ours_split, "standard_split": std_split, **common},
        ),
        Figure(
            "throughput.cpu_executor",
            "  of which executor",
            ours_split.get("executor", 0.0),
            "CPU-s",
            baseline=std_exec,
            baseline_label="worker + its processes + starter/waker",
        ),
        Figure(
            "throughput.cpu_prefect",
            "  of which Prefect server" + (" (incl. its SQLite)" if backend == "sqlite" else ""),
            ours_split.get("prefect", 0.0),
            "CPU-s",
            baseline=std_split.get("prefect"),
            baseline_label=std,
        ),
        Figure(
            "throughput.cpu_api",
            "  of which API" + (" (incl. its SQLite work)" if backend == "sqlite" else ""),
            ours_split.get("api", 0.0),
            "CPU-s",
            baseline=std_split.get("api"),
            baseline_label=std,
        ),
        *(
            [
                Figure(
                    "throughput.cpu_postgres",
                    "  of which PostgreSQL backends",
                    ours_split.get("postgres", 0.0),
                    "CPU-s",
                    baseline=std_split.get("postgres"),
                    baseline_label=std,
                )
            ]
            if backend != "sqlite"
            else []
        ),
    ]
