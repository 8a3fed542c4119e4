"""Retention of proposers' data through its public surfaces: `jianyi retention run [--dry-run]`,
`erase`, `views`, `jianyi show` audited, and the office's API for erasure requests and views."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from support import SCENARIOS
from typer.testing import CliRunner, Result

from jianyi.api.app import create_app
from jianyi.cli.main import app
from jianyi.models import Proposer, Suggestion
from jianyi.models.base import utcnow
from jianyi.services import personal_data

NOT_ADOPTED = next(s for s in SCENARIOS if s.name == "not_adopted")


def _jianyi(*args: str, token: str = "") -> Result:
    return CliRunner().invoke(app, list(args), env={"JIANYI_TOKEN": token})


def test_retention_erasure_and_views_through_the_cli_and_the_api(
    cli_on: None, users: Any, sessions: sessionmaker[Session]
) -> None:
    driver = EngineDriver(sessions, users)
    closed, still_open = driver.play(NOT_ADOPTED), driver.submit()
    office, transport, supervisor = (users.tokens[k] for k in ("office", "transport", "supervisor"))

    assert _jianyi("show", str(closed), token=office).exit_code == 0
    with TestClient(create_app()) as http:
        seen = http.get(f"/api/suggestions/{closed}", headers={"Authorization": f"Bearer {supervisor}"})
        assert seen.status_code == 200 and seen.json()["proposer"]["name"]
        listed = http.get(
            f"/api/suggestions/{closed}/personal-data-views", headers={"Authorization": f"Bearer {office}"}
        )
        assert listed.status_code == 200
        assert [e["action"] for e in listed.json()] == [personal_data.VIEWED] * 2
        denied = http.get(
            f"/api/suggestions/{closed}/personal-data-views", headers={"Authorization": f"Bearer {transport}"}
        )
        assert denied.status_code == 403
        missing = http.post(
            f"/api/suggestions/{still_open}/erasure", json={}, headers={"Authorization": f"Bearer {office}"}
        )
        assert missing.status_code == 422 and "basis" in missing.text
        refused = http.post(
            f"/api/suggestions/{still_open}/erasure",
            json={"basis": "本人申请"},
            headers={"Authorization": f"Bearer {office}"},
        )
        assert refused.status_code == 409
    views = _jianyi("retention", "views", str(closed), token=office)
    assert views.exit_code == 0 and len(json.loads(views.output)["entries"]) == 2
    assert _jianyi("retention", "views", str(closed), token=transport).exit_code == 4

    with sessions() as session:  # the case closed seven months ago
        session.execute(
            update(Suggestion).where(Suggestion.id == closed).values(closed_at=utcnow() - timedelta(days=213))
        )
        session.commit()
    dry = _jianyi("retention", "run", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert [e["suggestion_id"] for e in json.loads(dry.output)["erased"]] == [closed]
    with sessions() as session:
        assert session.get(Proposer, session.get(Suggestion, closed).proposer_id).email  # type: ignore[union-attr]
    done = _jianyi("retention", "run")
    assert done.exit_code == 0 and [e["suggestion_id"] for e in json.loads(done.output)["erased"]] == [closed]
    with sessions() as session:
        proposer = session.get(Proposer, session.get(Suggestion, closed).proposer_id)  # type: ignore[union-attr]
        assert proposer is not None and (proposer.name, proposer.email, proposer.phone) == (
            personal_data.TOMBSTONE,
            None,
            None,
        )
    assert json.loads(_jianyi("retention", "run").output)["erased"] == []
    again = _jianyi("retention", "erase", str(closed), "--basis", "本人申请", token=office)
    assert again.exit_code == 6, again.output


def test_the_executors_job_erases_what_is_due(
    cli_on: None, users: Any, sessions: sessionmaker[Session]
) -> None:
    from jianyi.executor import erasure

    driver = EngineDriver(sessions, users)
    closed = driver.play(NOT_ADOPTED)
    assert erasure.erase_due(timedelta(days=183)) == 0
    with sessions() as session:
        session.execute(
            update(Suggestion).where(Suggestion.id == closed).values(closed_at=utcnow() - timedelta(days=184))
        )
        session.commit()
    assert erasure.erase_due(timedelta(days=183)) == 1
    assert erasure.erase_due(timedelta(days=183)) == 0
