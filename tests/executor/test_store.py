"""The executor's claims in the application database: the lock between executors (Prefect accepts
Running for a run already Running, so only the claim keeps two attempts of one run apart)."""

from __future__ import annotations

import uuid

import pytest
from databases import Users
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.executor import store
from jianyi.models import RunClaim
from jianyi.models.schemas import SuggestionIn
from jianyi.services import intake


@pytest.fixture
def suggestion_id(sessions: sessionmaker[Session], users: Users, cli_on: None) -> int:
    with sessions() as session:
        created = intake.submit(
            session, actor=users.actors["office"], data=SuggestionIn.model_validate(SUGGESTION)
        )
        session.commit()
        return created.id


def holder(sessions: sessionmaker[Session], run_id: str) -> str | None:
    with sessions() as session:
        return session.scalar(select(RunClaim.executor_id).where(RunClaim.flow_run_id == run_id))


def test_one_executor_holds_a_run_until_it_drops_it(
    sessions: sessionmaker[Session], suggestion_id: int
) -> None:
    run_id = str(uuid.uuid4())
    claim = store.claim("executor-a", run_id, suggestion_id)
    # the attempt is named for Prefect
    assert claim is not None and claim.attempt_name.startswith("梳理研判 triage")
    assert store.claim("executor-b", run_id, suggestion_id) is None  # refused: a's attempt applies the step
    assert holder(sessions, run_id) == "executor-a"
    store.release([claim])
    assert store.claim("executor-b", run_id, suggestion_id) is not None
    assert holder(sessions, run_id) == "executor-b"
    store.drop_claim(run_id)  # as for an executor that fell silent: whoever holds it
    assert holder(sessions, run_id) is None


def test_a_late_release_leaves_the_next_attempts_claim(
    sessions: sessionmaker[Session], suggestion_id: int
) -> None:
    """An attempt's claim is released in a later batch; by then the same executor may have taken the
    run again for its next attempt, whose claim must stay (it is the lock against other executors)."""
    run_id, other_run = str(uuid.uuid4()), str(uuid.uuid4())
    first = store.claim("executor-a", run_id, suggestion_id)
    ended = store.claim("executor-a", other_run, suggestion_id)
    second = store.claim("executor-a", run_id, suggestion_id)  # the next attempt, before the release
    assert first is not None and ended is not None and second is not None
    assert second.claimed_at != first.claimed_at
    store.release([first, ended])
    assert holder(sessions, run_id) == "executor-a"  # the second attempt's claim
    assert holder(sessions, other_run) is None
    assert store.claim("executor-b", run_id, suggestion_id) is None
    store.release([second])
    assert holder(sessions, run_id) is None


def test_an_executor_takes_again_a_claim_of_its_own_left_behind(
    sessions: sessionmaker[Session], suggestion_id: int
) -> None:
    run_id = str(uuid.uuid4())
    assert store.claim("executor-a", run_id, suggestion_id) is not None
    # Its attempt ended without dropping the claim (the connection was lost): a later wake of the
    # same executor must not be locked out of the run for good.
    assert store.claim("executor-a", run_id, suggestion_id) is not None
    assert store.claim("executor-b", run_id, suggestion_id) is None
