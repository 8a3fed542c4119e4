"""Each request is one unit of work: committed before its answer, rolled back on any error; a refused
change is audited in a transaction of its own and changes nothing else."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from api_probes import Commits, actions, headers, stored_step, triage_step
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION, triage

from jianyi.models import Communication, Proposer, Suggestion
from jianyi.models.enums import StepState


@pytest.fixture
def commits(http: TestClient, engine: Engine) -> Iterator[Commits]:
    counter = Commits(engine)
    yield counter
    counter.remove()


def test_refused_completions_are_audited_and_change_nothing(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any, commits: Commits
) -> None:
    suggestion_id, step_id = triage_step(driver)
    before = stored_step(sessions, step_id)
    audited = actions(sessions, suggestion_id=suggestion_id)
    url = f"/api/steps/{step_id}/complete"

    wrong_unit = http.post(url, json=triage(), headers=headers(users, "transport"))
    invalid = http.post(url, json=triage(level="urgent"), headers=headers(users, "office"))
    missing = http.post("/api/steps/999999/complete", json=triage(), headers=headers(users, "office"))

    assert (wrong_unit.status_code, invalid.status_code, missing.status_code) == (403, 422, 404)
    assert [d["field"] for d in invalid.json()["detail"]] == ["level"]
    assert stored_step(sessions, step_id) == before
    refused = [("step.refused", "Forbidden"), ("step.refused", "InvalidInput")]
    assert actions(sessions, suggestion_id=suggestion_id) == audited + refused
    # A step that does not exist: audited too, naming no step or suggestion.
    assert actions(sessions, suggestion_id=None, action="step.refused") == [("step.refused", "NotFound")]
    assert commits.count == 3  # each refusal's own transaction; the refused ones were rolled back


def test_a_completion_is_committed_once_when_its_request_ends(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any, commits: Commits
) -> None:
    _suggestion_id, step_id = triage_step(driver)
    url = f"/api/steps/{step_id}/complete"

    done = http.post(url, json=triage(), headers=headers(users, "office"))

    assert done.status_code == 200 and done.json()["state"] == "submitted"
    assert commits.count == 1  # the request's transaction, and nothing before it
    stored = stored_step(sessions, step_id)
    assert stored["state"] is StepState.submitted and stored["input"]["lead_unit"] == "city-transport"
    assert actions(sessions, step_id=step_id)[-1] == ("step.submitted", None)

    twice = http.post(url, json=triage(lead="city-edu"), headers=headers(users, "office"))
    assert twice.status_code == 409
    assert stored_step(sessions, step_id) == stored
    assert actions(sessions, step_id=step_id)[-2:] == [
        ("step.submitted", None),
        ("step.refused", "Conflict"),
    ]


def test_reading_requests_never_commit(
    http: TestClient, driver: EngineDriver, users: Any, commits: Commits
) -> None:
    suggestion_id, step_id = triage_step(driver)
    office = headers(users, "office")
    for path in (f"/api/steps/{step_id}", "/api/steps", f"/api/suggestions/{suggestion_id}", "/api/units"):
        assert http.get(path, headers=office).status_code == 200, path
    assert http.get("/api/health").status_code == 200
    # The one write: the audit that the office was shown the proposer's data (its own short
    # transaction after the read, once an hour per official and suggestion: services/personal_data).
    assert commits.count == 1
    assert http.get(f"/api/suggestions/{suggestion_id}", headers=office).status_code == 200
    assert commits.count == 1


def test_reading_requests_take_no_write_lock(
    http: TestClient, driver: EngineDriver, users: Any, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    _suggestion_id, step_id = triage_step(driver)
    holder = sqlite3.connect(make_url(db_url).database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        assert http.get(f"/api/steps/{step_id}", headers=headers(users, "office")).status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_failed_commit_answers_500_and_writes_nothing(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any, commits: Commits
) -> None:
    suggestion_id, step_id = triage_step(driver)
    before = stored_step(sessions, step_id)
    audited = actions(sessions, suggestion_id=suggestion_id)

    commits.fail_next = True
    failed = http.post(f"/api/steps/{step_id}/complete", json=triage(), headers=headers(users, "office"))

    # The commit runs before the answer is sent: a client never reads 200 for a lost completion.
    assert failed.status_code == 500
    assert stored_step(sessions, step_id) == before
    assert actions(sessions, suggestion_id=suggestion_id) == audited
    retried = http.post(f"/api/steps/{step_id}/complete", json=triage(), headers=headers(users, "office"))
    assert retried.status_code == 200


def test_a_failed_intake_commit_answers_500_and_stores_nothing(
    http: TestClient, sessions: sessionmaker[Session], users: Any, commits: Commits
) -> None:
    def counts() -> tuple[int, int]:
        with sessions() as session:
            return (
                session.scalar(select(func.count()).select_from(Suggestion)) or 0,
                session.scalar(select(func.count()).select_from(Proposer)) or 0,
            )

    before = counts()
    data = {**SUGGESTION, "channel_ref": "commit-fails"}
    commits.fail_next = True
    assert http.post("/api/suggestions", json=data, headers=headers(users, "office")).status_code == 500
    assert counts() == before
    stored = http.post("/api/suggestions", json=data, headers=headers(users, "office"))
    again = http.post("/api/suggestions", json=data, headers=headers(users, "office"))
    assert (stored.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == stored.json()["id"] and counts() == (before[0] + 1, before[1] + 1)
    assert commits.count == 1  # the second intake only read


def test_a_refused_communication_log_is_audited_and_a_logged_one_committed(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    suggestion_id, _step_id = triage_step(driver)
    url = f"/api/suggestions/{suggestion_id}/communications"
    call = {"kind": "pre_report", "method": "phone", "summary": "电话了解建议背景"}

    assert http.post(url, json=call, headers=headers(users, "transport")).status_code == 403
    assert http.post(url, json={**call, "methd": "x"}, headers=headers(users, "office")).status_code == 422
    missing = http.post("/api/suggestions/999999/communications", json=call, headers=headers(users, "office"))
    assert missing.status_code == 404

    def phoned() -> list[str]:
        with sessions() as session:
            rows = session.scalars(select(Communication).filter_by(suggestion_id=suggestion_id))
            return [c.summary for c in rows if c.method.value == "phone"]

    assert phoned() == []
    refused = actions(sessions, action="communication.refused")
    assert refused == [
        ("communication.refused", "Forbidden"),
        ("communication.refused", "InvalidInput"),
        ("communication.refused", "NotFound"),
    ]
    assert actions(sessions, action="communication.refused", suggestion_id=suggestion_id) == refused[:2]

    logged = http.post(url, json=call, headers=headers(users, "office"))
    assert logged.status_code == 200, logged.text
    assert phoned() == ["电话了解建议背景"]


def test_the_rating_form_answers_a_refusal_as_a_page(http: TestClient, users: Any) -> None:
    data = {**SUGGESTION, "channel_ref": "rating-form"}
    created = http.post("/api/suggestions", json=data, headers=headers(users, "office")).json()
    page = http.post(
        f"/track/{created['tracking_code']}/rating",
        data={"check": created["check_code"], "rating": "satisfied"},
        follow_redirects=False,
    )
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "未找到" in page.text and "nothing to rate" not in page.text  # Chinese, no internals
