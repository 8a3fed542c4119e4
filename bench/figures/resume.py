"""Does a suggestion's 20th resume cost what a 1st resume does? (Earlier stages are never replayed.)

The whole system runs. Eleven suggestions are driven to implementation (triage, opinion, review,
reply, rating). Then one of them, the veteran, has its lead department report progress 29 times,
one report after the other. From its 20th report on, each of the veteran's resumes is followed by
the 1st progress resume of one of the ten others. So the 20th–29th resumes are measured beside 1st
resumes taken in the same minute: a machine that slows down during the run (another tenant, a
throttled core) slows both, and the ratio still shows only what the number of resumes adds.

For each resume the bench records:
- the wall time from the completion's HTTP request to the next progress step being open, as the
  department sees it through the API;
- the CPU of the executor and of the Prefect server over the resume's whole cycle, from its
  completion to the next one's. The cycle includes a fixed pause, because a resume's tail (its
  suspend, flushed logs and events) lands in its own cycle.

The figures are the mean of the veteran's 20th–29th resumes ÷ the mean of the 1st resumes beside them.
The veteran's own 20th ÷ its own 1st, taken half a minute apart, is in the details.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx
from sqlalchemy import select

from bench.figures.throughput import take_in
from bench.procs import delta, machine_cpu_seconds
from bench.report import Figure
from bench.system_driver import OFFICE, BenchSystem, Case, Departments, Move
from jianyi.models import Step
from jianyi.models.enums import StepKind, StepState

LEAD = "city-transport"
SETTLE_SECONDS = 1.0  # between a resume's next step being visible and the next completion
POLL_SECONDS = 0.05  # the executor's: the wall figure should show the attempt, not the polling
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
    suggestion_id: int
    number: int  # the suggestion's own count of progress resumes
    wall: float
    executor_cpu: float
    prefect_cpu: float
    steal: float  # CPU-s the hypervisor gave away during the cycle: a slow cycle not of our making


@dataclass
class Measured:
    veteran: list[Resume]  # resumes 1..n of one suggestion
    firsts: list[Resume]  # the 1st resumes of the others, each right after one of the veteran's last


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


class _Resumer:
    """Completes one suggestion's open progress step and measures the cycle until the next is open."""

    def __init__(self, bench: BenchSystem, http: httpx.Client, cases: list[Case]) -> None:
        self.bench, self.http = bench, http
        self.step = {c.suggestion_id: _open_progress(bench, c.suggestion_id, http, None) for c in cases}
        self.count = dict.fromkeys(self.step, 0)
        time.sleep(SETTLE_SECONDS)
        self.cpu, self.machine = bench.cpu(), machine_cpu_seconds()

    def resume(self, sid: int) -> Resume:
        self.count[sid] += 1
        t0 = time.perf_counter()
        response = self.http.post(
            f"/api/steps/{self.step[sid]}/complete",
            json={**PROGRESS, "milestone": f"第{self.count[sid]}次进展"},
            headers=self.bench.headers(LEAD),
        )
        response.raise_for_status()
        self.step[sid] = _open_progress(self.bench, sid, self.http, not_id=self.step[sid])
        wall = time.perf_counter() - t0
        time.sleep(SETTLE_SECONDS)
        cpu, machine = self.bench.cpu(), machine_cpu_seconds()
        spent, steal = delta(self.cpu, cpu), machine["steal"] - self.machine["steal"]
        self.cpu, self.machine = cpu, machine
        return Resume(sid, self.count[sid], wall, spent["executor"], spent["prefect"], steal)


def measure(resumes: int, fresh: int, *, env: dict[str, str] | None = None) -> Measured:
    bench = BenchSystem(
        "resume", extra_env={"JIANYI_EXECUTOR_POLL_SECONDS": str(POLL_SECONDS), **(env or {})}
    ).start()
    try:
        cases = take_in(bench, 1 + fresh, seed=5, prefix="resume")
        for case in cases:
            case.moves = TO_IMPLEMENTATION
        ids = [c.suggestion_id for c in cases]
        with httpx.Client(base_url=bench.url, timeout=60) as http:
            asyncio.run(Departments(bench).play(cases, len(cases), wait_closed=False))
            resumer = _Resumer(bench, http, cases)
            veteran, others = ids[0], iter(ids[1:])
            measured = Measured([], [])
            for n in range(1, resumes + 1):
                measured.veteran.append(resumer.resume(veteran))
                if n > resumes - fresh:
                    measured.firsts.append(resumer.resume(next(others)))
            bench.check_alive()
    finally:
        bench.stop()
    return measured


def _rows(resumes: list[Resume]) -> list[dict[str, float]]:
    return [{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(r).items()} for r in resumes]


def run(quick: bool) -> list[Figure]:
    resumes, fresh = (6, 2) if quick else (29, 10)
    measured = measure(resumes, fresh)
    later = measured.veteran[resumes - fresh :]
    span = f"{later[0].number}–{later[-1].number}" if len(later) > 1 else f"{later[0].number}"
    nth = min(20, resumes)
    tick = 0.01  # /proc's CPU clock: a zero reading is "less than a tick"
    figures: list[Figure] = []
    picks: list[tuple[str, str, str, Callable[[Resume], float]]] = [
        ("wall", "wall time", "s", lambda r: r.wall),
        ("executor_cpu", "executor CPU", "CPU-s", lambda r: r.executor_cpu),
        ("prefect_cpu", "Prefect server CPU", "CPU-s", lambda r: r.prefect_cpu),
    ]
    for key, title, unit, pick in picks:
        value = statistics.fmean(map(pick, later))
        baseline = max(statistics.fmean(map(pick, measured.firsts)), tick)
        own_first = max(pick(measured.veteran[0]), tick)
        details: dict[str, object] = {
            f"veteran_{nth}th_vs_its_1st": round(pick(measured.veteran[nth - 1]) / own_first, 3),
            "veteran_last5_vs_its_2to6": round(
                statistics.fmean(map(pick, measured.veteran[-5:]))
                / max(statistics.fmean(map(pick, measured.veteran[1:6])), tick),
                3,
            ),
        }
        if key == "wall":
            details |= {
                "veteran": _rows(measured.veteran),
                "firsts": _rows(measured.firsts),
                "settle_s": SETTLE_SECONDS,
                "executor_poll_s": POLL_SECONDS,
            }
        figures.append(
            Figure(
                f"resume.{key}_later_vs_first",
                f"resumes {span} of one suggestion ÷ 1st resumes beside them: {title}",
                value,
                unit,
                baseline=baseline,
                baseline_label=f"{len(measured.firsts)} 1st resumes",
                goal="≤ 1.2×",
                met=value <= 1.2 * baseline,
                details=details,
            )
        )
    return figures
