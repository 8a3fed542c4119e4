"""Tokens and who may do what, through the CLI (issue 14, item 9): ``jianyi users list|deactivate|
rotate``, a missing unit named, and sweeping ahead of the clock only with an administrator's or a
city supervisor's token."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from jianyi.api.app import create_app
from jianyi.cli.main import app
from jianyi.models import AuditEntry, User
from jianyi.models.base import utcnow


def _jianyi(*args: str, token: str = "") -> Result:
    return CliRunner().invoke(app, list(args), env={"JIANYI_TOKEN": token})


def _units(token: str) -> int:
    with TestClient(create_app()) as http:
        return http.get("/api/units", headers={"Authorization": f"Bearer {token}"}).status_code


def _user_id(sessions: sessionmaker[Session], name: str) -> int:
    with sessions() as session:
        return session.scalars(select(User.id).where(User.name == name)).one()


def test_users_are_listed_deactivated_and_rotated(
    cli_on: None, users: Any, sessions: sessionmaker[Session]
) -> None:
    listed = _jianyi("users", "list")
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    transport = rows["市交通委 赵经办"]
    assert transport["unit"] == "city-transport" and transport["active"] is True
    assert "token" not in transport and users.tokens["transport"] not in listed.output
    assert transport["token_expires_at"] > (utcnow() + timedelta(days=80)).isoformat()

    old = users.tokens["transport"]
    assert _jianyi("users", "deactivate", str(transport["id"])).exit_code == 0
    assert _units(old) == 401

    rotated = _jianyi("users", "rotate", str(transport["id"]))
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert new and new != old
    assert (_units(new), _units(old)) == (200, 401)
    with sessions() as session:
        stored = session.get_one(User, transport["id"])
        assert new not in stored.token_hash and stored.active  # only its hash is kept

    assert _jianyi("users", "rotate", "999999").exit_code == 5


def test_adding_a_user_to_a_missing_unit_names_the_code(cli_on: None) -> None:
    added = _jianyi("users", "add", "--role", "department", "--unit", "nope", "某经办")
    assert added.exit_code == 7
    assert "'nope'" in added.output


def test_sweeping_ahead_of_the_clock_needs_an_administrator(
    cli_on: None, users: Any, sessions: sessionmaker[Session]
) -> None:
    ahead = (utcnow() + timedelta(days=30)).isoformat()
    assert _jianyi("supervision", "sweep", "--now", ahead).exit_code == 3
    refused = _jianyi("supervision", "sweep", "--now", ahead, token=users.tokens["transport"])
    assert refused.exit_code == 4
    assert _jianyi("supervision", "sweep", "--now", ahead, token=users.tokens["huangpu"]).exit_code == 4
    # The present, or the past, needs nobody: that is what the executor sweeps anyway.
    now = _jianyi("supervision", "sweep", "--now", utcnow().isoformat())
    assert now.exit_code == 0, now.output
    for who in ("admin", "supervisor"):
        swept = _jianyi("supervision", "sweep", "--now", ahead, token=users.tokens[who])
        assert swept.exit_code == 0, swept.output
    with sessions() as session:
        audited = session.scalars(
            select(AuditEntry.actor_label).where(AuditEntry.action == "supervision.swept_ahead")
        ).all()
    assert len(audited) == 2
