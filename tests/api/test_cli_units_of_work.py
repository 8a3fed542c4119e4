"""Each CLI command is one unit of work: committed when it succeeds, rolled back on any error, a
refusal audited in a transaction of its own and given its exit code."""

from __future__ import annotations

import json
from typing import Any

from api_probes import Commits, actions, stored_step, triage_step
from engine import EngineDriver
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION, triage
from typer.testing import CliRunner, Result

from jianyi.cli.main import app
from jianyi.models import Suggestion
from jianyi.models.enums import StepState


def _jianyi(users: Any, who: str | None, *args: str, stdin: Any = None) -> Result:
    env = {"JIANYI_TOKEN": users.tokens[who] if who else ""}
    return CliRunner().invoke(app, list(args), env=env, input=None if stdin is None else json.dumps(stdin))


def test_refused_completions_exit_with_their_code_are_audited_and_change_nothing(
    cli_on: None, driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    suggestion_id, step_id = triage_step(driver)
    before = stored_step(sessions, step_id)
    audited = actions(sessions, suggestion_id=suggestion_id)
    complete = ("steps", "complete", str(step_id), "--json", "-")

    wrong_unit = _jianyi(users, "transport", *complete, stdin=triage())
    invalid = _jianyi(users, "office", *complete, stdin=triage(level="urgent"))

    assert (wrong_unit.exit_code, invalid.exit_code) == (4, 7)
    assert "another unit" in wrong_unit.output and "level:" in invalid.output
    assert stored_step(sessions, step_id) == before
    assert actions(sessions, suggestion_id=suggestion_id) == [
        *audited,
        ("step.refused", "Forbidden"),
        ("step.refused", "InvalidInput"),
    ]

    done = _jianyi(users, "office", *complete, stdin=triage())
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["state"] == "submitted"
    assert stored_step(sessions, step_id)["state"] is StepState.submitted
    twice = _jianyi(users, "office", *complete, stdin=triage(lead="city-edu"))
    assert twice.exit_code == 6
    assert actions(sessions, step_id=step_id)[-2:] == [
        ("step.submitted", None),
        ("step.refused", "Conflict"),
    ]


def test_a_failed_commit_prints_nothing_and_writes_nothing(
    cli_on: None, driver: EngineDriver, sessions: sessionmaker[Session], users: Any, engine: Any
) -> None:
    suggestion_id, step_id = triage_step(driver)
    before = stored_step(sessions, step_id)
    audited = actions(sessions, suggestion_id=suggestion_id)
    commits = Commits(engine)
    try:
        commits.fail_next = True
        failed = _jianyi(users, "office", "steps", "complete", str(step_id), "--json", "-", stdin=triage())
    finally:
        commits.remove()
    assert failed.exit_code != 0 and failed.stdout == ""  # no answer printed for a lost completion
    assert stored_step(sessions, step_id) == before
    assert actions(sessions, suggestion_id=suggestion_id) == audited


def test_submit_reads_then_stores_once(
    cli_on: None, sessions: sessionmaker[Session], users: Any, tmp_path: Any
) -> None:
    def stored() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(Suggestion)) or 0

    before = stored()
    data = {**SUGGESTION, "channel_ref": "cli-once"}
    assert _jianyi(users, None, "submit", "-", stdin=data).exit_code == 3  # no token: nothing stored
    assert stored() == before
    first = _jianyi(users, "office", "submit", "-", stdin=data)
    again = _jianyi(users, "office", "submit", "-", stdin=data)
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    created, repeated = json.loads(first.stdout), json.loads(again.stdout)
    assert created["created"] and not repeated["created"] and repeated["id"] == created["id"]
    assert stored() == before + 1
