"""Communications with proposers: what the office owes (calls, meetings, letters), and logging them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query

from jianyi.api.deps import CurrentActor, RecordId, SessionDep
from jianyi.api.errors import documented
from jianyi.api.openapi import BODY, COMMUNICATION_LOG
from jianyi.models.base import utcnow
from jianyi.models.outbox_schemas import FailedMessageView
from jianyi.models.schemas import CommunicationLogged, PlannedCommunicationView
from jianyi.services import communication_duties, outbox

router = APIRouter(tags=["communications"])


@router.get("/api/communications", response_model=list[PlannedCommunicationView])
def list_owed(
    session: SessionDep,
    actor: CurrentActor,
    overdue: bool = Query(default=False, description="only those past their due time"),
) -> list[PlannedCommunicationView]:
    """The communications your office still owes its proposers, the most urgent first."""
    now = utcnow()
    plans = communication_duties.outstanding(session, actor=actor, now=now, overdue_only=overdue)
    return [communication_duties.view(session, p, now=now) for p in plans]


@router.get("/api/communications/failed", response_model=list[FailedMessageView])
def list_failed(session: SessionDep, actor: CurrentActor) -> list[FailedMessageView]:
    """Messages to your office's proposers that could not be delivered (the dispatcher gave up: a
    refused or malformed address, or every attempt failed), with the reason, newest first."""
    return outbox.failed(session, actor=actor)


@router.get("/api/communications/{planned_id}", response_model=PlannedCommunicationView)
def get_one(planned_id: RecordId, session: SessionDep, actor: CurrentActor) -> PlannedCommunicationView:
    """One planned communication, with the text of a letter to print."""
    return communication_duties.get(session, actor=actor, planned_id=planned_id, now=utcnow())


@router.post(
    "/api/suggestions/{suggestion_id}/communications",
    response_model=CommunicationLogged,
    responses=documented(409),
    openapi_extra={BODY: COMMUNICATION_LOG},
)
def log_communication(
    suggestion_id: RecordId, session: SessionDep, actor: CurrentActor, payload: dict[str, Any] = Body(...)
) -> CommunicationLogged:
    """Log a call, meeting or letter with the proposer: {kind, method, summary, at?}. It settles what
    was awaited of that kind; 422 names each bad field, 403 unless your office handles the suggestion."""
    communication = communication_duties.log_or_refuse(
        session, actor=actor, suggestion_id=suggestion_id, payload=payload, now=utcnow()
    )
    return communication_duties.logged_view(session, communication)
