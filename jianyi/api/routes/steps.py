from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import Field

from jianyi.api.deps import CurrentActor, RecordId, SessionDep
from jianyi.api.errors import documented
from jianyi.api.openapi import BODY, STEP_INPUT
from jianyi.models.enums import StepState
from jianyi.models.schemas import StepView
from jianyi.models.step_inputs import NOTE, TextInput
from jianyi.services import clocks, owed, steps, views

STEP_CURSOR = r"^([0-9]{1,17}|n)\.[0-9]{1,10}$"
router = APIRouter(prefix="/api/steps", tags=["steps"])


@router.get("", response_model=list[StepView])
def list_steps(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: CurrentActor,
    state: StepState | None = Query(default=StepState.open),
    after: str | None = Query(
        default=None, max_length=40, pattern=STEP_CURSOR, description="the cursor of the `next` link"
    ),
    limit: int = Query(default=owed.API_PAGE, ge=1, le=500),
) -> list[StepView]:
    """The steps the caller's unit owes (a department sees only what is referred to it), the earliest
    deadline first, a page at a time: a ``Link: <…>; rel="next"`` header gives the next page."""
    found, cursor = owed.keyset_page(session, actor=actor, state=state, after=after, limit=limit)
    if cursor is not None:
        following = request.url.include_query_params(after=cursor)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return views.step_views(session, found)


@router.get("/{step_id}", response_model=StepView)
def get_step(step_id: RecordId, session: SessionDep, actor: CurrentActor) -> StepView:
    """One step, with the JSON schema of the input that completes it."""
    return views.view_step(session, actor=actor, step_id=step_id)


@router.post(
    "/{step_id}/complete",
    response_model=StepView,
    responses=documented(409),
    openapi_extra={BODY: STEP_INPUT},
)
def complete_step(
    step_id: RecordId, session: SessionDep, actor: CurrentActor, payload: dict[str, Any] = Body(...)
) -> StepView:
    """Complete a step with the input of its kind (``GET /api/steps/{id}`` serves its schema): 422
    names each bad field, 403 if another unit owes it, 409 if already done."""
    # A plain object here: the step's kind decides which model validates it (stages.SPECS).
    step = steps.complete_or_refuse(session, actor=actor, step_id=step_id, payload=payload)
    return views.step_view(session, step)


class PauseIn(TextInput):
    reason: str = Field(
        min_length=1, max_length=NOTE, description="what the unit waits for from the proposer"
    )


class ResumeIn(TextInput):
    note: str | None = Field(default=None, max_length=NOTE)


@router.post("/{step_id}/pause", response_model=StepView, responses=documented(409))
def pause_step(step_id: RecordId, body: PauseIn, session: SessionDep, actor: CurrentActor) -> StepView:
    """The unit waits for the proposer: the step's deadline clock stops (if its rule allows it)."""
    step = clocks.pause(session, actor=actor, step_id=step_id, reason=body.reason)
    return views.step_view(session, step)


@router.post("/{step_id}/resume", response_model=StepView, responses=documented(409))
def resume_step(step_id: RecordId, body: ResumeIn, session: SessionDep, actor: CurrentActor) -> StepView:
    """The proposer answered: the clock runs again; the deadline moves by the working days it stood still."""
    step = clocks.resume(session, actor=actor, step_id=step_id, note=body.note)
    return views.step_view(session, step)


@router.post("/{step_id}/lapse", response_model=StepView, responses=documented(409))
def lapse_step(step_id: RecordId, session: SessionDep, actor: CurrentActor) -> StepView:
    """Close a step's window unanswered (e.g. no rating within the deadline): the case moves on."""
    step = steps.lapse(session, actor=actor, step_id=step_id)
    return views.step_view(session, step)
