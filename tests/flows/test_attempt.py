"""One attempt, as the flow and the executor both run it (``jianyi.tasks.attempt``), against the real
database: the suspender protocol, and which errors are tried again."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable

import pytest
from databases import Users
from engine import EngineDriver
from prefect.input import RunInput
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from support import SCENARIOS

import jianyi.db
from jianyi.errors import NotFound
from jianyi.models import Step
from jianyi.models.enums import StepKind, StepState
from jianyi.services.lifecycle.engine import CaseInvariantError, WaitPoint
from jianyi.tasks.attempt import (
    SUSPEND_TRIES,
    AttemptRefused,
    advance_in_transaction,
    completion_input,
    passes,
    run_attempt,
    with_database_retries,
)

COMPLAINT = next(s for s in SCENARIOS if s.name == "complaint")


class PlayedSuspender:
    """The Prefect side of an attempt as a test plays it: whether each suspension is accepted (False:
    the key had already fired), and what the attempt asked for."""

    def __init__(self, *accepted: bool) -> None:
        self.accepted = list(accepted)
        self.suspensions: list[tuple[WaitPoint, type[RunInput]]] = []
        self.completed = 0
        self.failures: list[str] = []

    async def suspend(self, wait: WaitPoint, run_input: type[RunInput]) -> bool:
        self.suspensions.append((wait, run_input))
        return self.accepted.pop(0) if self.accepted else True

    async def complete(self) -> None:
        self.completed += 1

    async def fail(self, reason: str) -> None:
        self.failures.append(reason)

    @property
    def keys(self) -> list[str]:
        return [wait.key for wait, _ in self.suspensions]


@pytest.fixture
def driver(sessions: sessionmaker[Session], users: Users, cli_on: None) -> EngineDriver:
    return EngineDriver(sessions, users)


def test_an_open_case_is_suspended_at_its_wait_with_the_waits_typed_input(driver: EngineDriver) -> None:
    suggestion_id = driver.submit()
    suspender = PlayedSuspender()
    assert asyncio.run(run_attempt(suggestion_id, suspender)) == "suspended"
    [(wait, run_input)] = suspender.suspensions
    assert wait.key == "w1" and wait.kinds == [StepKind.triage]
    assert run_input is completion_input((StepKind.triage,))
    run_input.model_validate({"step_id": wait.steps[0].step_id, "kind": "triage", "data": None})
    with pytest.raises(ValueError):
        run_input.model_validate({"step_id": wait.steps[0].step_id, "kind": "opinion"})
    assert suspender.completed == 0 and suspender.failures == []


def test_a_closed_case_completes_the_run(driver: EngineDriver) -> None:
    suggestion_id = driver.play(COMPLAINT)
    suspender = PlayedSuspender()
    assert asyncio.run(run_attempt(suggestion_id, suspender)) == "closed"
    assert suspender.completed == 1 and suspender.suspensions == [] and suspender.failures == []


def test_a_key_that_had_fired_is_followed_by_another_advance_and_a_new_key(driver: EngineDriver) -> None:
    suggestion_id = driver.submit()
    suspender = PlayedSuspender(False, True)
    assert asyncio.run(run_attempt(suggestion_id, suspender)) == "suspended"
    assert suspender.keys == ["w1", "w2"]


def test_the_attempt_gives_up_when_every_key_had_fired(driver: EngineDriver) -> None:
    suggestion_id = driver.submit()
    suspender = PlayedSuspender(*[False] * SUSPEND_TRIES)
    with pytest.raises(AttemptRefused, match="already fired"):
        asyncio.run(run_attempt(suggestion_id, suspender))
    assert suspender.keys == [f"w{n}" for n in range(1, SUSPEND_TRIES + 1)]
    assert suspender.completed == 0 and suspender.failures == []


def test_a_missing_suggestion_fails_the_run_at_once(driver: EngineDriver) -> None:
    suspender = PlayedSuspender()
    began = time.monotonic()
    with pytest.raises(NotFound):
        asyncio.run(run_attempt(10**9, suspender))
    assert time.monotonic() - began < 0.9  # the first database retry would wait 1 s
    [reason] = suspender.failures
    assert reason.startswith("advance failed: NotFound(")
    assert suspender.suspensions == [] and suspender.completed == 0


def _counted(work: Callable[[], WaitPoint | None], calls: list[BaseException | None]) -> Callable[[], object]:
    def counted() -> WaitPoint | None:
        try:
            result = work()
        except Exception as exc:
            calls.append(exc)
            raise
        calls.append(None)
        return result

    return counted


def test_a_case_invariant_error_is_not_tried_again(
    sessions: sessionmaker[Session], driver: EngineDriver
) -> None:
    suggestion_id = driver.submit()
    assert driver.advance(suggestion_id) is not None  # the triage is open
    with sessions() as session:  # a bug's work: an open case with nothing to wait for
        session.execute(
            update(Step).where(Step.suggestion_id == suggestion_id).values(state=StepState.cancelled)
        )
        session.commit()
    calls: list[BaseException | None] = []
    with pytest.raises(CaseInvariantError):
        asyncio.run(
            with_database_retries(
                _counted(lambda: advance_in_transaction(suggestion_id), calls), delays=(0.0, 0.0, 0.0)
            )
        )
    assert len(calls) == 1

    suspender = PlayedSuspender()
    with pytest.raises(CaseInvariantError):
        asyncio.run(run_attempt(suggestion_id, suspender))
    [reason] = suspender.failures
    assert reason.startswith("advance failed: CaseInvariantError(")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("released_after", [1, None])
def test_a_locked_database_is_tried_again_until_the_tries_run_out(
    db_url: str, driver: EngineDriver, monkeypatch: pytest.MonkeyPatch, released_after: int | None
) -> None:
    """Another process holds SQLite's write lock: each try fails "database is locked" (at once, here),
    and the attempt goes on once the lock is released; if it never is, the error is raised."""
    suggestion_id = driver.submit()
    monkeypatch.setattr(jianyi.db, "LOCK_WAIT_SECONDS", 0.05)
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    calls: list[BaseException | None] = []

    def work() -> WaitPoint | None:
        try:
            return advance_in_transaction(suggestion_id)
        finally:
            if len(calls) + 1 == released_after:
                other.rollback()

    try:
        if released_after is None:
            with pytest.raises(OperationalError, match="database is locked"):
                asyncio.run(with_database_retries(_counted(work, calls), delays=(0.0, 0.0, 0.0)))
            assert len(calls) == 4 and all(isinstance(c, OperationalError) for c in calls)
        else:
            wait = asyncio.run(with_database_retries(_counted(work, calls), delays=(0.0, 0.0, 0.0)))
            assert isinstance(wait, WaitPoint) and wait.key == "w1"
            assert isinstance(calls[0], OperationalError) and calls[1:] == [None]
    finally:
        other.rollback()
        other.close()


def test_only_database_errors_that_pass_are_tried_again() -> None:
    locked = OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
    assert passes(locked)
    lost = DBAPIError(
        "SELECT 1", None, Exception("server closed the connection"), connection_invalidated=True
    )
    assert passes(lost)
    assert not passes(IntegrityError("INSERT", None, Exception("duplicate key")))
    assert not passes(CaseInvariantError("no open step"))
    assert not passes(NotFound("suggestion 1 does not exist"))
    assert not passes(ValueError("a bug"))
