"""``jianyi``: the command line of the suggestion office."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from jianyi.cli import backup, serve
from jianyi.cli.calendar import calendar_app
from jianyi.cli.campaign import campaign_app
from jianyi.cli.commendation import commendation_app
from jianyi.cli.common import (
    TokenOption,
    actor,
    domain_errors_as_exit_codes,
    emit,
    fail,
    session,
    token_of,
)
from jianyi.cli.comms import comms_app
from jianyi.cli.digest import digest_app
from jianyi.cli.figures import figures_app
from jianyi.cli.reports import reports_app
from jianyi.cli.retention import retention_app
from jianyi.cli.rules import rules_app
from jianyi.cli.runs import runs_app
from jianyi.cli.supervision import supervision_app
from jianyi.db import read_scope, session_scope
from jianyi.errors import field_errors
from jianyi.models.enums import Role, StepState
from jianyi.models.schemas import EMAIL_PATTERN, SuggestionIn
from jianyi.services import accounts, auth, clocks, intake, owed, personal_data, steps, views

app = typer.Typer(
    help="jianyi 人民建议征集: suggestions from receipt to policy, through the seven steps.",
    no_args_is_help=True,
)
users_app = typer.Typer(help="Officials and their tokens.", no_args_is_help=True)
steps_app = typer.Typer(help="Human steps: list what your unit owes, complete one.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(steps_app, name="steps")
app.add_typer(calendar_app, name="calendar")
app.add_typer(rules_app, name="rules")
app.add_typer(supervision_app, name="supervision")
app.add_typer(comms_app, name="comms")
app.add_typer(figures_app, name="figures")
app.add_typer(reports_app, name="reports")
app.add_typer(digest_app, name="digest")
app.add_typer(campaign_app, name="campaign")
app.add_typer(commendation_app, name="commendation")
app.add_typer(runs_app, name="runs")
app.add_typer(retention_app, name="retention")
serve.register(app)
backup.register(app)


@app.callback()
def _private_files(ctx: typer.Context) -> None:
    # Every file a command creates (the SQLite database, logs, token files) is its owner's alone;
    # the previous mask comes back when the command ends (tests run commands in-process).
    previous = os.umask(0o077)  # as the system's processes (runtime/system.py)
    ctx.call_on_close(lambda: os.umask(previous))


def _read_json(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        return json.loads(text)
    except FileNotFoundError:
        fail(f"no file {path}")
    except json.JSONDecodeError as exc:
        fail(f"{path} is not valid JSON: {exc}")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="the official's name"),
    role: Role = typer.Option(..., "--role", help="office, supervisor, department, leader or admin"),
    unit: str | None = typer.Option(None, "--unit", help="code of the unit (see GET /api/units)"),
    email: str | None = typer.Option(None, "--email", help="where reminders and supervision notices go"),
    head: bool = typer.Option(False, "--head", help="the unit's head (负责人), told when a step falls due"),
) -> None:
    """Create an official and print their bearer token (shown once; only its hash is kept)."""
    if email is not None and not re.fullmatch(EMAIL_PATTERN, email):
        fail(f"--email: not an e-mail address: {email!r}", code=7)
    with session() as db:
        user, token = auth.create_user(db, name=name, role=role, unit_code=unit, email=email, head=head)
        user_id = user.id
    typer.echo(f"user {user_id} {name} ({role.value}{', ' + unit if unit else ''})", err=True)
    typer.echo(token)


@users_app.command("list")
def users_list() -> None:
    """Every official: id, name, role, unit, whether active, when their token expires (never the token)."""
    with session() as db:
        rows = [
            {
                "id": user.id,
                "name": user.name,
                "role": user.role.value,
                "unit": unit,
                "email": user.email,
                "head": user.head,
                "active": user.active,
                "token_expires_at": user.token_expires_at.isoformat(),
            }
            for user, unit in auth.list_users(db)
        ]
    typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@users_app.command("deactivate")
def users_deactivate(user_id: int = typer.Argument(..., help="the user's id (see users list)")) -> None:
    """Revoke an official's token at once; what they did stays theirs."""
    with session() as db:
        user = auth.deactivate(db, user_id=user_id)
        label = f"user {user.id} {user.name} deactivated"
    typer.echo(label, err=True)


@users_app.command("rotate")
def users_rotate(user_id: int = typer.Argument(..., help="the user's id (see users list)")) -> None:
    """Give an official a new token (printed once; the old one stops working) valid for the
    settings' token_days; a deactivated official is active again."""
    with session() as db:
        user, token = auth.rotate(db, user_id=user_id)
        label = f"user {user.id} {user.name}: new token, valid until {user.token_expires_at:%Y-%m-%d}"
    typer.echo(label, err=True)
    typer.echo(token)


@users_app.command("set-password")
def users_set_password(
    user_id: int = typer.Argument(..., help="the user's id (see users list)"),
    login: str = typer.Option(..., "--login", help="the name they sign in with on the web pages"),
) -> None:
    """Set an official's login name and password for the web pages (read from stdin, or asked for);
    it also unlocks an account locked after wrong passwords."""
    password = (
        sys.stdin.readline().rstrip("\n")
        if not sys.stdin.isatty()
        else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    with session() as db:
        user = accounts.set_password(db, user_id=user_id, login=login, password=password)
        label = f"user {user.id} {user.name} signs in as {user.login}"
    typer.echo(label, err=True)


@app.command()
def submit(
    file: Path = typer.Argument(
        ..., help="the suggestion as JSON (see POST /api/suggestions), or - for stdin"
    ),
    token: str | None = TokenOption,
) -> None:
    """Take in a suggestion (the same channel reference twice gives back the first)."""
    payload = _read_json(file)
    try:
        data = SuggestionIn.model_validate(payload)
    except ValidationError as exc:
        fail("invalid suggestion", code=7, detail=field_errors(exc.errors()))
    with domain_errors_as_exit_codes():
        result = intake.accept(read=read_scope, write=session_scope, token=token_of(token), data=data)
    emit(result)


@app.command()
def show(suggestion_id: int = typer.Argument(...), token: str | None = TokenOption) -> None:
    """A suggestion: stage, outcome, open steps, timeline, flow run."""
    with session() as db:
        who = actor(db, token)
        view = views.suggestion_view(db, actor=who, suggestion_id=suggestion_id)
        if view.proposer is not None and who.user_id is not None:  # staff shown personal data: audited
            personal_data.record_view(db, actor=who, suggestion_id=suggestion_id)
        emit(view)


@steps_app.command("list")
def steps_list(
    state: StepState = typer.Option(StepState.open, "--state"),
    limit: int = typer.Option(owed.API_PAGE, "--limit", min=1, max=500, help="at most so many steps"),
    after: str | None = typer.Option(None, "--after", help="the cursor printed after the previous page"),
    token: str | None = TokenOption,
) -> None:
    """The steps your unit owes, the earliest deadline first; a cursor for the next page goes to stderr."""
    with session() as db:
        found, cursor = owed.keyset_page(db, actor=actor(db, token), state=state, after=after, limit=limit)
        emit(views.step_views(db, found))
    if cursor is not None:
        typer.echo(f"more: --after {cursor}", err=True)


@steps_app.command("show")
def steps_show(step_id: int = typer.Argument(...), token: str | None = TokenOption) -> None:
    """One step with the JSON schema of its input."""
    with session() as db:
        emit(views.view_step(db, actor=actor(db, token), step_id=step_id))


@steps_app.command("complete")
def steps_complete(
    step_id: int = typer.Argument(...),
    json_file: Path = typer.Option(..., "--json", help="the step's input as JSON, or - for stdin"),
    token: str | None = TokenOption,
) -> None:
    """Complete a step (refused and recorded if it is not your unit's, already done, or invalid)."""
    payload = _read_json(json_file)
    with session() as db:
        step = steps.complete_or_refuse(db, actor=actor(db, token), step_id=step_id, payload=payload)
        view = views.step_view(db, step)
    emit(view)


@steps_app.command("pause")
def steps_pause(
    step_id: int = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="what you wait for from the proposer"),
    token: str | None = TokenOption,
) -> None:
    """Stop the step's deadline clock while you wait for the proposer."""
    with session() as db:
        view = views.step_view(db, clocks.pause(db, actor=actor(db, token), step_id=step_id, reason=reason))
    emit(view)


@steps_app.command("resume")
def steps_resume(
    step_id: int = typer.Argument(...),
    note: str | None = typer.Option(None, "--note"),
    token: str | None = TokenOption,
) -> None:
    """The proposer answered: the clock runs again, the deadline moved by the days it stood still."""
    with session() as db:
        view = views.step_view(db, clocks.resume(db, actor=actor(db, token), step_id=step_id, note=note))
    emit(view)


def main() -> None:  # pragma: no cover - the console script
    app()
