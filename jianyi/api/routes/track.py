"""Public tracking: the proposer follows a suggestion with its tracking code and check code, and
rates the reply. No token, no personal data. Every failure (an unknown code, a wrong, malformed or
missing check code) is the same 404, and failures are rate-limited per client and per code (429,
api/throttle.py). The tracking page and its rating form are jianyi/web/public.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from jianyi.api.deps import SessionDep
from jianyi.api.throttle import check_not_blocked, client_of, limits_of, record_failure
from jianyi.errors import NotFound
from jianyi.models import Suggestion
from jianyi.models.enums import Role
from jianyi.models.schemas import PublicTracking, StepView
from jianyi.models.step_inputs import RatingInput
from jianyi.services import steps, tracking, views
from jianyi.services.actors import Actor

router = APIRouter(tags=["tracking"])
# Any text at all: a malformed or missing check code is answered like a wrong one (404).
CheckCode = Annotated[str, Query(alias="check", description="the secret check code")]


def proposer_actor(tracking_code: str) -> Actor:
    return Actor(label=f"proposer:{tracking_code}", role=Role.proposer, name="建议人")


def tracked(request: Request, session: Session, tracking_code: str, check: str) -> Suggestion:
    """The suggestion the codes prove; a failure is counted against the client and the code."""
    limits, client = limits_of(request), client_of(request)
    check_not_blocked(limits, client=client, code=tracking_code)
    try:
        return tracking.find_tracked(session, tracking_code=tracking_code, check_code=check)
    except NotFound:
        record_failure(limits, client=client, code=tracking_code)
        raise


@router.get("/api/track/{tracking_code}", response_model=PublicTracking)
def track(request: Request, tracking_code: str, session: SessionDep, check: CheckCode = "") -> PublicTracking:
    return tracking.tracking_of(session, tracked(request, session, tracking_code, check))


@router.post("/api/track/{tracking_code}/rating", response_model=StepView)
def rate(
    request: Request, tracking_code: str, rating: RatingInput, session: SessionDep, check: CheckCode = ""
) -> StepView:
    suggestion = tracked(request, session, tracking_code, check)
    step = tracking.open_rating_step(session, suggestion=suggestion)
    done = steps.complete_or_refuse(
        session, actor=proposer_actor(tracking_code), step_id=step.id, payload=rating.model_dump(mode="json")
    )
    return views.step_view(session, done)
