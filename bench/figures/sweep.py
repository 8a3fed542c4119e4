"""sweep: the supervision sweep over 1,000,000 open steps (quick: 20,000), on SQLite and PostgreSQL.

The issue's goal: "escalation sweep over 1,000,000 open steps: ≤ 1 s on PostgreSQL, ≤ 3 s on SQLite".
Both databases get the same rows (``bench.seed_volume``): open suggestions at every stage, their open
steps with the timers the rules lay, and about 2 % of the timers due at the sweep instant (rungs that
fell due at the last midnight, half of them already worked off). On each backend, as the executor's
job does (one transaction, ``limit=500``, commit):

- the claim alone (``escalation.claim_due``, rolled back), the median of three;
- one sweep that fires the due rungs (each writes its mail to the outbox and its audit row);
- an idle sweep: the backlog worked off, nothing due, the median of ten (past psycopg's prepare
  threshold and PostgreSQL's first custom plans, so a generic plan would show) — what the executor
  pays every 30 s.

The baseline, on the same data in the same run, is the naive sweep the issue forbids: a Python loop
over every open step and its timers, loaded in two queries, checking each timer in Python.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bench.report import Figure
from bench.seed_volume import NOW, Seeded, Volume, prepare, seed
from jianyi.db import make_engine
from jianyi.models import AuditEntry, OutboxMessage, Step, StepTimer
from jianyi.models.enums import StepState
from jianyi.models.step_timer import TimerState
from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.services import escalation

LIMIT = 500  # what the executor's job claims per sweep (jianyi.executor.sweeps.sweep_once)
QUICK_LIMIT = 100  # quick mode checks that everything runs, not how long it takes
GOALS = {"sqlite": 3.0, "postgresql": 1.0}  # seconds


@contextmanager
def databases() -> Iterator[dict[str, str]]:
    """An SQLite file and a PostgreSQL database of a throwaway cluster; both removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="jianyi-bench-sweep-") as directory:
        cluster = TemporaryPostgres().start()
        try:
            urls = {
                "sqlite": f"sqlite:///{Path(directory) / 'sweep.db'}",
                "postgresql": cluster.create_database("sweep"),
            }
            for url in urls.values():
                prepare(url)
            yield urls
        finally:
            cluster.stop()


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def naive(sessions: sessionmaker[Session], now: datetime) -> tuple[int, int, int]:
    """What the issue forbids: every open step and its timers into Python, each timer checked there.
    Only the columns the check needs, as plain rows: the kindest form of it (ORM objects would cost
    several times more), so the ratio understates what the indexed claim saves."""
    with sessions() as session:
        steps = list(session.scalars(select(Step.id).where(Step.state == StepState.open)))
        timers: dict[int, list[Any]] = defaultdict(list)
        rows = session.execute(
            select(StepTimer.step_id, StepTimer.state, StepTimer.fire_at)
            .join(Step, Step.id == StepTimer.step_id)
            .where(Step.state == StepState.open)
            .execution_options(yield_per=50_000)
        )
        for timer in rows:
            timers[timer.step_id].append(timer)
        due = 0
        for step_id in steps:
            for timer in timers.get(step_id, ()):
                due += timer.state is TimerState.pending and timer.fire_at <= now
        return due, len(steps), sum(len(t) for t in timers.values())


def claim_only(sessions: sessionmaker[Session], now: datetime, limit: int) -> int:
    with sessions() as session:
        claimed = escalation.claim_due(session, now=now, limit=limit)
        session.rollback()  # leaves the rungs due for the sweep that fires them
        return len(claimed)


def sweep(sessions: sessionmaker[Session], now: datetime, limit: int, *, keep: bool = True) -> int:
    with sessions() as session:
        fired = escalation.sweep(session, now=now, limit=limit)
        if keep:
            session.commit()
        else:
            session.rollback()
        return len(fired)


def count(engine: Engine, model: type[Any]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def measure(backend: str, url: str, seeded: Seeded, now: datetime, limit: int) -> list[Figure]:
    # The application's engine: WAL and BEGIN IMMEDIATE on SQLite, a pool on PostgreSQL.
    engine = make_engine(url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        naive_s, (naive_due, naive_steps, naive_timers) = timed(lambda: naive(sessions, now))
        sweep(sessions, now, 5, keep=False)  # warm: rules, calendar, templates, as in a running executor
        claims = [timed(lambda: claim_only(sessions, now, limit)) for _ in range(3)]
        claim_s, claimed = statistics.median(t for t, _ in claims), claims[0][1]
        mails, audits = count(engine, OutboxMessage), count(engine, AuditEntry)
        fire_s, fired = timed(lambda: sweep(sessions, now, limit))
        mails, audits = count(engine, OutboxMessage) - mails, count(engine, AuditEntry) - audits
        with engine.begin() as conn:  # the rest of the backlog worked off by the sweeps that follow
            conn.execute(
                update(StepTimer)
                .where(StepTimer.state == TimerState.pending, StepTimer.fire_at <= now)
                .values(state=TimerState.fired, fired_at=now)
            )
        idles = [timed(lambda: sweep(sessions, now, limit)) for _ in range(10)]
        idle_s = statistics.median(t for t, _ in idles)
    finally:
        engine.dispose()
    goal, counts = GOALS[backend], seeded.counts
    scale, label = f"{counts['open_steps']:,} open steps", "naive Python loop"
    details = {
        **{
            k: counts[k]
            for k in ("open_steps", "open_suggestions", "steps", "timers", "pending_timers", "due_timers")
        },
        "due_share_of_timers": round(counts["due_timers"] / max(1, counts["timers"]), 4),
        "naive_loaded": {"steps": naive_steps, "timers": naive_timers, "due_found": naive_due},
        "limit": limit,
        "seed_seconds_both_backends": round(seeded.seconds, 1),
        "left_out": "the fired and moot timers of completed steps (outside the due index and the naive loop)",
    }
    fire = {"fired": fired, "mails_written": mails, "audit_rows_written": audits}
    return [
        Figure(
            key=f"sweep.{backend}.claim",
            title=f"sweep claim of {claimed} due rungs, {scale} ({backend})",
            value=claim_s,
            unit="s",
            baseline=naive_s,
            baseline_label=label,
            details=details | {"claimed": claimed},
        ),
        Figure(
            key=f"sweep.{backend}.fire",
            title=f"sweep firing {fired} rungs, {scale} ({backend})",
            value=fire_s,
            unit="s",
            baseline=naive_s,
            baseline_label=label,
            goal=f"≤ {goal:g} s",
            met=fire_s <= goal,
            details=details | fire | {"ms_per_fired_rung": round(1000 * fire_s / max(1, fired), 2)},
        ),
        Figure(
            key=f"sweep.{backend}.idle",
            title=f"idle sweep, nothing due, {scale} ({backend})",
            value=idle_s,
            unit="s",
            baseline=naive_s,
            baseline_label=label,
            goal=f"≤ {goal:g} s",
            met=idle_s <= goal,
            details=details | {"fired": sum(f for _, f in idles), "max_s": max(t for t, _ in idles)},
        ),
    ]


def run(quick: bool) -> list[Figure]:
    open_steps, limit = (20_000, QUICK_LIMIT) if quick else (1_000_000, LIMIT)
    # The fired and moot timers of completed steps sit outside the partial index the sweep reads and
    # outside what the naive loop loads: they are left out, which keeps seeding within minutes.
    volume = Volume(open_steps=open_steps, closed_share=0.0, history_timers=False, now=NOW)
    figures: list[Figure] = []
    with databases() as urls:
        seeded = seed(list(urls.values()), volume)
        print(f"   seeded {dict(seeded.counts)} into both in {seeded.seconds:.0f} s", flush=True)
        for backend, url in urls.items():
            figures += measure(backend, url, seeded, volume.now, limit)
    return figures
