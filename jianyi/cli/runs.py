"""``jianyi runs``: a suggestion's flow run, when a person stopped it in Prefect.

A run cancelled through Prefect's UI or API puts the suggestion on hold, nothing more: it is not
an outcome. The suggestion stays open, its steps can still be answered (they wait, stored), the
rules' sweep still chases its open steps; but no attempt applies anything, because the executor
leaves a cancelled run cancelled. ``jianyi runs resume`` is the office's explicit way back: the run
is scheduled again, and its next attempt applies what was answered meanwhile and waits as before.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import typer

from jianyi.cli.common import TokenOption, actor, emit, session
from jianyi.errors import Conflict, Forbidden, NotFound
from jianyi.executor.prefect_glue import reschedule_cancelled
from jianyi.models import Suggestion
from jianyi.models.enums import Role
from jianyi.services import audit
from jianyi.services.actors import Actor

runs_app = typer.Typer(help="Suggestions' flow runs stopped in Prefect.", no_args_is_help=True)


def _may_resume(who: Actor, suggestion: Suggestion) -> bool:
    return who.role is Role.admin or (
        who.role in (Role.office, Role.supervisor) and who.unit_id == suggestion.office_unit_id
    )


async def _with_prefect(run_id: UUID, why: str) -> str:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return await reschedule_cancelled(client, run_id, why=why)


@runs_app.command("resume")
def resume(
    suggestion_id: int = typer.Argument(..., help="the suggestion whose run was cancelled in Prefect"),
    note: str | None = typer.Option(None, "--note", help="why the run goes on (kept in the audit)"),
    token: str | None = TokenOption,
) -> None:
    """Schedule again a suggestion's flow run cancelled in Prefect: the next attempt applies the
    steps answered meanwhile. The handling office or an administrator."""
    with session() as db:
        who = actor(db, token)
        suggestion = db.get(Suggestion, suggestion_id)
        if suggestion is None:
            raise NotFound(f"suggestion {suggestion_id} does not exist")
        if not _may_resume(who, suggestion):
            raise Forbidden(f"only the handling office resumes suggestion {suggestion_id}'s run")
        if suggestion.outcome is not None or suggestion.flow_run_id is None:
            raise Conflict(f"suggestion {suggestion_id} has no run to resume (closed, or not started yet)")
        run_id = UUID(suggestion.flow_run_id)
        was = asyncio.run(_with_prefect(run_id, f"resumed by {who.label}" + (f": {note}" if note else "")))
        audit.record(
            db,
            actor=who,
            action="run.resumed",
            suggestion_id=suggestion_id,
            detail={"flow_run_id": str(run_id), "was": was, "note": note},
        )
    emit({"suggestion_id": suggestion_id, "flow_run_id": str(run_id), "was": was, "now": "scheduled"})
