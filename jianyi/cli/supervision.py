"""``jianyi supervision``: run the rules' sweep by hand (the executor runs it on a schedule)."""

from __future__ import annotations

from datetime import datetime, timedelta

import typer

from jianyi.cli.common import TokenOption, actor, database_errors, emit, fail, session
from jianyi.errors import Forbidden
from jianyi.models import Unit
from jianyi.models.base import utcnow
from jianyi.models.enums import Role, UnitKind
from jianyi.services import audit

supervision_app = typer.Typer(
    help="Supervision (督办): reminders, supervision orders, escalation.", no_args_is_help=True
)

# A --now this far past the real clock sweeps ahead of time: reminders, orders and escalations fire
# early, and cannot be taken back.
AHEAD = timedelta(minutes=1)


def _allow_sweep_ahead(at: datetime, token: str | None) -> None:
    """Sweeping ahead is for an administrator or a supervisor of the city office, and is audited."""
    with session() as db:
        caller = actor(db, token)
        unit = db.get(Unit, caller.unit_id) if caller.unit_id is not None else None
        city_supervisor = (
            caller.role is Role.supervisor and unit is not None and unit.kind is UnitKind.city_office
        )
        if not (caller.role is Role.admin or city_supervisor):
            raise Forbidden("sweeping ahead of the clock is for an administrator or a city supervisor")
        audit.record(db, actor=caller, action="supervision.swept_ahead", detail={"now": at.isoformat()})


@supervision_app.command("sweep")
def sweep(
    now: str | None = typer.Option(
        None,
        "--now",
        help="sweep as of this instant (ISO 8601 with offset); default: the present. Later than the "
        "present needs an administrator's or a city supervisor's --token (rungs fired early stay fired)",
    ),
    token: str | None = TokenOption,
) -> None:
    """Fire every due rung once and remind the offices of overdue communications (safe to run
    beside the executor: nothing fires twice)."""
    from jianyi.executor.sweeps import sweep_once

    at = None
    if now is not None:
        try:
            at = datetime.fromisoformat(now)
        except ValueError:
            fail(f"--now: not an ISO 8601 instant: {now!r}", code=7)
        if at.tzinfo is None:
            fail("--now: give the offset, e.g. 2026-12-01T09:00:00+08:00", code=7)
        if at > utcnow() + AHEAD:
            _allow_sweep_ahead(at, token)
    with database_errors():
        result = sweep_once(at)
    emit({"fired": [f.__dict__ for f in result.fired], "reminded": [r.__dict__ for r in result.reminded]})
