from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query

from jianyi.api.deps import CurrentActor, SessionDep
from jianyi.models.enums import StepState
from jianyi.models.schemas import StepView
from jianyi.services import steps, views

router = APIRouter(prefix="/api/steps", tags=["steps"])


@router.get("", response_model=list[StepView])
def list_steps(
    session: SessionDep, actor: CurrentActor, state: StepState | None = Query(default=StepState.open)
) -> list[StepView]:
    """The steps the caller's unit owes (a department sees only what is referred to it)."""
    return [views.step_view(session, s) for s in steps.open_steps_for(session, actor=actor, state=state)]


@router.get("/{step_id}", response_model=StepView)
def get_step(step_id: int, session: SessionDep, actor: CurrentActor) -> StepView:
    """One step, with the JSON schema of the input that completes it."""
    return views.view_step(session, actor=actor, step_id=step_id)


@router.post("/{step_id}/complete", response_model=StepView)
def complete_step(
    step_id: int, session: SessionDep, actor: CurrentActor, payload: dict[str, Any] = Body(...)
) -> StepView:
    """Complete a step: 422 names each bad field, 403 if another unit owes it, 409 if already done."""
    step = steps.complete_or_record_refusal(session, actor=actor, step_id=step_id, payload=payload)
    return views.step_view(session, step)


@router.post("/{step_id}/lapse", response_model=StepView)
def lapse_step(step_id: int, session: SessionDep, actor: CurrentActor) -> StepView:
    """Close a step's window unanswered (e.g. no rating within the deadline): the case moves on."""
    step = steps.lapse(session, actor=actor, step_id=step_id)
    session.commit()
    return views.step_view(session, step)
