"""Intake under bursts: accepted fast, and the backlog of flow-run starts drains with nothing lost.

The whole system runs. First, single intakes at rest (each once the system is quiet again): the
baseline, the latency of one intake when nothing else happens. Then bursts of POST /api/suggestions
from a concurrent, open-loop client (each request leaves on its schedule whatever the answers do):
at 50 per second, and one as fast as the client can send. For each burst: every request's latency
(accepted: stored, acknowledgement and flow-run start queued, in one transaction), then the drain:
the time until every suggestion has its flow run (flow_run_id set, and the run exists in Prefect)
and its acknowledgement sent, and whether anything is missing. Between bursts the system is let
finish the first attempts it started (every suggestion waiting at triage), so bursts are alike.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import and_, func, select

from bench.figures.throughput import percentile
from bench.generate import suggestions
from bench.procs import delta, machine_cpu_seconds
from bench.report import Figure
from bench.system_driver import BenchSystem
from jianyi.models import OutboxMessage, Step, Suggestion
from jianyi.models.enums import OutboxState, StepKind, StepState

FAST_CONCURRENCY = 32  # requests in flight at once when sending as fast as possible


@dataclass
class Burst:
    label: str
    rate: float | None  # requests per second; None: as fast as possible
    latencies: list[float] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    failures: int = 0
    sent_seconds: float = 0.0  # first request out → last answer in
    drain_seconds: float | None = None  # last answer → every run created and acknowledgement sent
    settle_seconds: float | None = None  # last answer → every first attempt done (all at triage)
    lost: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # over the burst and its drain
    # While the requests were sent: the system's CPU by process, the machine's (busy counts every
    # process, the system's or not; steal is time the hypervisor took), and the executor's holds.
    cpu_sending: dict[str, float] = field(default_factory=dict)
    machine_sending: dict[str, float] = field(default_factory=dict)
    holds: list[str] = field(default_factory=list)

    @property
    def accepted_rate(self) -> float:
        return len(self.ids) / self.sent_seconds if self.sent_seconds else 0.0


async def _send(bench: BenchSystem, burst: Burst, payloads: list[dict[str, Any]]) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    gate = asyncio.Semaphore(FAST_CONCURRENCY if burst.rate is None else len(payloads))
    async with httpx.AsyncClient(base_url=bench.url, timeout=60, limits=limits) as http:

        async def one(n: int, payload: dict[str, Any]) -> None:
            if burst.rate is not None:
                await asyncio.sleep(max(0.0, start + n / burst.rate - time.perf_counter()))
            async with gate:
                t0 = time.perf_counter()
                response = await http.post("/api/suggestions", json=payload, headers=bench.headers())
                burst.latencies.append(time.perf_counter() - t0)
            if response.status_code == 201:
                burst.ids.append(response.json()["id"])
            else:
                burst.failures += 1

        start = time.perf_counter()
        async with asyncio.TaskGroup() as tasks:
            for n, payload in enumerate(payloads):
                tasks.create_task(one(n, payload))
        burst.sent_seconds = time.perf_counter() - start


def _counts(bench: BenchSystem, ids: list[int]) -> dict[str, int]:
    """How many of these suggestions are stored, have their run, their acknowledgement sent, wait at triage."""
    started = select(func.count()).where(Suggestion.id.in_(ids), Suggestion.flow_run_id.is_not(None))
    acked = select(func.count(func.distinct(OutboxMessage.suggestion_id))).where(
        OutboxMessage.suggestion_id.in_(ids),
        OutboxMessage.kind == "acknowledgement",
        OutboxMessage.state == OutboxState.sent,
    )
    at_triage = (
        select(func.count())
        .select_from(Step)
        .where(and_(Step.suggestion_id.in_(ids), Step.kind == StepKind.triage, Step.state == StepState.open))
    )
    stored = select(func.count()).where(Suggestion.id.in_(ids))
    with bench.probe.connect() as conn:
        return {
            "stored": conn.execute(stored).scalar_one(),
            "started": conn.execute(started).scalar_one(),
            "acknowledged": conn.execute(acked).scalar_one(),
            "at_triage": conn.execute(at_triage).scalar_one(),
        }


def _runs_in_prefect(bench: BenchSystem, ids: list[int]) -> int:
    """How many of these suggestions' flow runs the Prefect server has."""
    with bench.probe.connect() as conn:
        started = Suggestion.flow_run_id.is_not(None)
        runs = list(
            conn.execute(select(Suggestion.flow_run_id).where(Suggestion.id.in_(ids), started)).scalars()
        )
    found = 0
    for i in range(0, len(runs), 200):
        body = {"flow_runs": {"id": {"any_": runs[i : i + 200]}}}
        response = httpx.post(f"{bench.system.prefect_api_url}/flow_runs/count", json=body, timeout=60)
        response.raise_for_status()
        found += int(response.json())
    return found


def _drain(bench: BenchSystem, burst: Burst, *, settle: bool, timeout: float) -> None:
    """Wait for the backlog of this burst to drain (and, with ``settle``, its first attempts to end)."""
    done_at = time.perf_counter()
    n = len(burst.ids)
    deadline = done_at + timeout
    counts = _counts(bench, burst.ids)
    while time.perf_counter() < deadline:
        counts = _counts(bench, burst.ids)
        if counts["started"] == n and counts["acknowledged"] == n and burst.drain_seconds is None:
            burst.drain_seconds = time.perf_counter() - done_at
        if counts["at_triage"] == n and burst.settle_seconds is None:
            burst.settle_seconds = time.perf_counter() - done_at
        if burst.drain_seconds is not None and (not settle or burst.settle_seconds is not None):
            break
        time.sleep(0.25)
    in_prefect = _runs_in_prefect(bench, burst.ids)
    burst.lost = {
        "not_accepted": burst.failures,
        "not_stored": n - counts["stored"],
        "no_flow_run": n - counts["started"],
        "run_missing_in_prefect": n - in_prefect,
        "no_acknowledgement_sent": n - counts["acknowledged"],
    }


def _at_rest(bench: BenchSystem, count: int) -> tuple[list[float], list[float]]:
    """Single intakes, each once the previous one's run waits at triage: one intake on a quiet system.
    Its latency, and its drain (its run created and its acknowledgement sent)."""
    latencies, drains = [], []
    with httpx.Client(base_url=bench.url, timeout=60) as http:
        for g in suggestions(count, seed=21, prefix="rest"):
            t0 = time.perf_counter()
            response = http.post("/api/suggestions", json=g.data, headers=bench.headers())
            latencies.append(time.perf_counter() - t0)
            response.raise_for_status()
            sid, answered, drained = response.json()["id"], time.perf_counter(), False
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                counts = _counts(bench, [sid])
                if not drained and counts["started"] == counts["acknowledged"] == 1:
                    drains.append(time.perf_counter() - answered)
                    drained = True
                # Both: its first attempt can end before its acknowledgement is sent.
                if drained and counts["at_triage"] == 1:
                    break
                time.sleep(0.05)
            time.sleep(0.5)
    return latencies[1:], drains[1:]  # the first warms the API's caches and connections


def run(quick: bool) -> list[Figure]:
    # Full: three bursts of 200, at 50/s twice then as fast as possible. On 2 shared cores a burst's first
    # attempts take minutes to run (they are waited for between bursts, so each starts on a quiet system).
    plan = (
        [("50/s", 50.0, 50)]
        if quick
        else [("50/s #1", 50.0, 200), ("50/s #2", 50.0, 200), ("fast", None, 200)]
    )
    bench = BenchSystem("intake").start()
    bursts: list[Burst] = []
    try:
        rest, rest_drains = _at_rest(bench, 4 if quick else 11)
        for number, (label, rate, size) in enumerate(plan):
            burst = Burst(label, rate)
            payloads = [g.data for g in suggestions(size, seed=30 + number, prefix=f"burst{number}")]
            log = bench.log_path("executor")
            cpu0, machine0, log_at = bench.cpu(), machine_cpu_seconds(), log.stat().st_size
            asyncio.run(_send(bench, burst, payloads))
            burst.cpu_sending = _rounded(delta(cpu0, bench.cpu()))
            burst.machine_sending = _rounded(delta(machine0, machine_cpu_seconds()))
            _drain(bench, burst, settle=not quick and number < len(plan) - 1, timeout=60 if quick else 300)
            cpu1 = bench.cpu()
            burst.cpu = _rounded(delta(cpu0, cpu1))
            burst.holds = _holds(log, log_at)
            bursts.append(burst)
    finally:
        bench.stop()
    return figures(rest, rest_drains, bursts)


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in seconds.items()}


def _holds(log_path: Path, since: int) -> list[str]:
    """The executor's log lines about holding run starts for intake, written since ``since``."""
    with log_path.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    return [
        line.split(" - ", 1)[-1] for line in lines if "intake burst:" in line or "held for intake" in line
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def figures(rest: list[float], rest_drains: list[float], bursts: list[Burst]) -> list[Figure]:
    base = statistics.median(rest)
    one_by_one = "one client, one at a time, at rest"
    paced = [b for b in bursts if b.rate is not None]
    paced_lat = [x for b in paced for x in b.latencies]
    p95 = percentile(paced_lat, 0.95)
    rate = min(b.accepted_rate for b in paced)
    lost = {k: sum(b.lost.get(k, 0) for b in bursts) for k in bursts[0].lost}
    per_burst = [
        {
            "burst": b.label,
            "requests": len(b.latencies),
            "accepted_per_s": round(b.accepted_rate, 1),
            "p50_ms": round(1000 * percentile(b.latencies, 0.5), 1),
            "p95_ms": round(1000 * percentile(b.latencies, 0.95), 1),
            "max_ms": round(1000 * max(b.latencies), 1),
            "drain_s": _round(b.drain_seconds),
            "first_attempts_done_s": _round(b.settle_seconds),
            "lost": b.lost,
            "cpu_s": b.cpu,
            "cpu_while_sending_s": b.cpu_sending,
            "machine_while_sending_s": b.machine_sending,
            "executor_holds": b.holds,
        }
        for b in bursts
    ]
    rest_label = "one intake at rest"
    figs = [
        Figure(
            "intake.burst_p95",
            "intake latency in 50/s bursts, p95",
            1000 * p95,
            "ms",
            baseline=1000 * base,
            baseline_label=rest_label,
            goal="≥ 50/s with p95 ≤ 200 ms",
            met=rate >= 49.0 and p95 <= 0.2,  # 49: the pacing clock's own jitter over a short burst
            details={
                "bursts": per_burst,
                "at_rest_ms": [round(1000 * x, 1) for x in rest],
                "at_rest_drain_s": [round(x, 2) for x in rest_drains],
            },
        ),
        Figure(
            "intake.burst_p50",
            "intake latency in 50/s bursts, p50",
            1000 * percentile(paced_lat, 0.5),
            "ms",
            baseline=1000 * base,
            baseline_label=rest_label,
        ),
        Figure(
            "intake.accepted_rate",
            "accepted in the 50/s bursts (slowest burst)",
            rate,
            "/s",
            baseline=1 / base,
            baseline_label=one_by_one,
            goal="≥ 50/s",
            met=rate >= 49.0,
        ),
        Figure(
            "intake.drain",
            "flow-run starts drained after a 50/s burst (slowest)",
            max(b.drain_seconds if b.drain_seconds is not None else float("inf") for b in paced),
            "s",
            baseline=statistics.median(rest_drains),
            baseline_label="one suggestion's, at rest",
            goal="drains, nothing lost",
            met=all(v == 0 for v in lost.values()) and all(b.drain_seconds is not None for b in bursts),
            details={"lost": lost, "suggestions": sum(len(b.ids) for b in bursts)},
        ),
    ]
    for b in bursts:
        if b.rate is None:
            figs.append(
                Figure(
                    "intake.fast_rate",
                    f"accepted as fast as possible ({FAST_CONCURRENCY} in flight)",
                    b.accepted_rate,
                    "/s",
                    baseline=1 / base,
                    baseline_label=one_by_one,
                    details={
                        "p95_ms": round(1000 * percentile(b.latencies, 0.95), 1),
                        "drain_s": b.drain_seconds,
                    },
                )
            )
            figs.append(
                Figure(
                    "intake.fast_p95",
                    "intake latency as fast as possible, p95",
                    1000 * percentile(b.latencies, 0.95),
                    "ms",
                    baseline=1000 * base,
                    baseline_label=rest_label,
                )
            )
    return figs
