"""``jianyi comms``: the communications the office owes its proposers, and logging them."""

from __future__ import annotations

from datetime import datetime

import typer

from jianyi.cli.common import TokenOption, actor, emit, fail, session
from jianyi.models.base import utcnow
from jianyi.models.enums import CommunicationKind, ContactMethod

comms_app = typer.Typer(
    help="Communications with proposers (事前/事中/事后沟通, letters): what is owed, log one.",
    no_args_is_help=True,
)


@comms_app.command("list")
def comms_list(
    overdue: bool = typer.Option(False, "--overdue", help="only those past their due time"),
    token: str | None = TokenOption,
) -> None:
    """The calls, meetings and letters your office still owes, the most urgent first."""
    from jianyi.services import communication_duties

    now = utcnow()
    with session() as db:
        plans = communication_duties.outstanding(db, actor=actor(db, token), now=now, overdue_only=overdue)
        emit([communication_duties.view(db, p, now=now) for p in plans])


@comms_app.command("show")
def comms_show(planned_id: int = typer.Argument(...), token: str | None = TokenOption) -> None:
    """One planned communication, with the text of a letter to print."""
    from jianyi.services import communication_duties

    with session() as db:
        emit(communication_duties.get(db, actor=actor(db, token), planned_id=planned_id, now=utcnow()))


@comms_app.command("log")
def comms_log(
    suggestion_id: int = typer.Argument(...),
    kind: CommunicationKind = typer.Option(
        ..., "--kind", help="e.g. commendation, pre_report, post_adoption"
    ),
    method: ContactMethod = typer.Option(..., "--method", help="phone, meeting, letter, …"),
    summary: str = typer.Option(..., "--summary", help="what was said or sent"),
    at: str | None = typer.Option(None, "--at", help="when (ISO 8601 with offset); default: now"),
    token: str | None = TokenOption,
) -> None:
    """Log a contact with the proposer; it settles what was awaited of that kind (refusals are recorded)."""
    from jianyi.services import communication_duties

    payload: dict[str, str] = {"kind": kind.value, "method": method.value, "summary": summary}
    if at is not None:
        try:
            datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at: not an ISO 8601 instant: {at!r}", code=7)
        payload["at"] = at
    with session() as db:
        communication = communication_duties.log_or_refuse(
            db, actor=actor(db, token), suggestion_id=suggestion_id, payload=payload, now=utcnow()
        )
        logged = communication_duties.logged_view(db, communication)
    emit(logged)
