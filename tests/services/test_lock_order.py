"""The order rows are locked in, on PostgreSQL: a step before its timers, and a sweep that never waits.

An answer locks its step, then makes its timers moot; an extension re-plans a step's timers; the sweep
claims due timers and lapses their steps. Taken in crossed orders these deadlocked (one of them then
failed with a 500). Every writer now takes a suggestion, then its steps, then their timers. Each test
holds a row in one transaction as the interleaving would, and checks the other side waits or skips
instead of crossing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from databases import fresh_database
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker
from support import triage

from jianyi.models import Step, StepTimer, Suggestion
from jianyi.models.enums import StepKind, StepState
from jianyi.models.step_timer import TimerState
from jianyi.services import deadlines, escalation

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request, "postgresql", tmp_path)  # SQLite writes one transaction at a time


@pytest.fixture
def opinion(sessions: sessionmaker[Session], users: Any) -> Step:
    """A lead unit's opinion step, open, with its pending escalation rungs."""
    clock = Clock(sessions, users)
    suggestion_id = clock.submit(MONDAY)
    clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    step = clock.step(suggestion_id, StepKind.opinion)
    assert clock.timers(step.id)
    return step


def _hold_step(session: Session, step_id: int) -> None:
    """What an answer does first: the conditional update that takes the step's row."""
    session.execute(update(Step).where(Step.id == step_id).values(state=StepState.open))


def _waits_for_a_lock(sessions: sessionmaker[Session], timeout: float = 10) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    with sessions() as watcher:
        while datetime.now(UTC) < deadline:
            waiting = watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
            watcher.rollback()  # a fresh snapshot each look
            if waiting:
                return
    raise AssertionError("the other transaction never waited")


def _in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_a_replan_waits_for_an_answer_holding_the_step(
    sessions: sessionmaker[Session], opinion: Step
) -> None:
    def extend() -> None:
        with sessions() as session:
            step = session.get(Step, opinion.id)
            assert step is not None
            deadlines.extend(session, step=step, working_days=5)
            session.commit()

    with sessions() as answer:
        _hold_step(answer, opinion.id)
        thread, errors = _in_thread(extend)
        _waits_for_a_lock(sessions)  # the re-plan waits on the step, holding none of its timers
        deadlines.moot_timers(answer, step_ids=[opinion.id])  # crossed orders deadlocked here
        answer.commit()
    thread.join(timeout=30)
    assert not thread.is_alive() and errors == []


def _last_rung(sessions: sessionmaker[Session], step_id: int) -> datetime:
    with sessions() as session:
        last = session.scalar(
            select(StepTimer.fire_at).where(StepTimer.step_id == step_id).order_by(StepTimer.fire_at.desc())
        )
    assert last is not None
    return last


def _rungs_of(session: Session, claimed: list[int], step_id: int) -> list[int]:
    timers = session.scalars(select(StepTimer).where(StepTimer.id.in_(claimed)))
    return [t.id for t in timers if t.step_id == step_id]


def test_a_sweep_waits_for_an_answer_holding_the_step(sessions: sessionmaker[Session], opinion: Step) -> None:
    later = _last_rung(sessions, opinion.id) + timedelta(days=1)
    claimed: list[list[int]] = []

    def sweep() -> None:
        with sessions() as session:
            ids = escalation.claim_due(session, now=later, limit=500)
            claimed.append(_rungs_of(session, ids, opinion.id))
            session.rollback()

    with sessions() as answer:  # the answer: its step, then its timers made moot
        answer.execute(update(Step).where(Step.id == opinion.id).values(state=StepState.submitted))
        deadlines.moot_timers(answer, step_ids=[opinion.id])
        thread, errors = _in_thread(sweep)
        _waits_for_a_lock(sessions)  # the sweep holds the suggestion and waits for the step
        answer.commit()
    thread.join(timeout=30)
    assert not thread.is_alive() and errors == []
    assert claimed == [[]]  # answered meanwhile: nothing of it is due any more


def test_a_sweep_skips_a_suggestion_an_attempt_holds(sessions: sessionmaker[Session], opinion: Step) -> None:
    later = _last_rung(sessions, opinion.id) + timedelta(days=1)
    with sessions() as attempt:  # what the engine's lock takes
        attempt.execute(
            select(Suggestion.id)
            .where(Suggestion.id == opinion.suggestion_id)
            .with_for_update(key_share=True)
        )
        claimed: list[list[int]] = []

        def sweep() -> None:
            with sessions() as session:
                ids = escalation.claim_due(session, now=later, limit=500)
                claimed.append(_rungs_of(session, ids, opinion.id))
                session.rollback()

        thread, errors = _in_thread(sweep)
        thread.join(timeout=30)  # it does not wait for the attempt: it passes the suggestion by
        assert not thread.is_alive() and errors == []
        assert claimed == [[]]
        attempt.rollback()

    with sessions() as session:  # released, its rungs are the sweep's again
        ids = escalation.claim_due(session, now=later, limit=500)
        assert _rungs_of(session, ids, opinion.id)
        states = session.scalars(select(StepTimer.state).where(StepTimer.id.in_(ids)))
        assert all(state is TimerState.fired for state in states)
        session.rollback()
