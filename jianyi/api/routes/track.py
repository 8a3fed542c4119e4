"""Public tracking: the proposer follows a suggestion with its tracking code and check code, and
rates the reply. No token, no personal data, the same 404 for a wrong code and a wrong check code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from jianyi.api.deps import SessionDep
from jianyi.api.errors import PageError
from jianyi.errors import JianyiError
from jianyi.models.enums import Role
from jianyi.models.schemas import PublicTracking, StepView
from jianyi.models.step_inputs import RatingInput
from jianyi.services import steps, views
from jianyi.services.actors import Actor

router = APIRouter(tags=["tracking"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates" / "web")
CheckCode = Annotated[
    str, Query(alias="check", min_length=4, max_length=12, description="the secret check code")
]


def _proposer(tracking_code: str) -> Actor:
    return Actor(label=f"proposer:{tracking_code}", role=Role.proposer, name="建议人")


@router.get("/api/track/{tracking_code}", response_model=PublicTracking)
def track(tracking_code: str, check: CheckCode, session: SessionDep) -> PublicTracking:
    return views.public_tracking(session, tracking_code=tracking_code, check_code=check)


@router.post("/api/track/{tracking_code}/rating", response_model=StepView)
def rate(tracking_code: str, check: CheckCode, rating: RatingInput, session: SessionDep) -> StepView:
    suggestion = views.find_tracked(session, tracking_code=tracking_code, check_code=check)
    step = views.open_rating_step(session, suggestion=suggestion)
    done = steps.complete_or_refuse(
        session, actor=_proposer(tracking_code), step_id=step.id, payload=rating.model_dump(mode="json")
    )
    return views.step_view(session, done)


@router.get("/track/{tracking_code}", response_class=HTMLResponse, include_in_schema=False)
def track_page(request: Request, tracking_code: str, check: CheckCode, session: SessionDep) -> HTMLResponse:
    tracking = views.public_tracking(session, tracking_code=tracking_code, check_code=check)
    return templates.TemplateResponse(
        request, "track.html.j2", {"t": tracking, "check": check, "message": request.query_params.get("done")}
    )


@router.post("/track/{tracking_code}/rating", include_in_schema=False, response_model=None)
def rate_form(
    request: Request,
    tracking_code: str,
    check: Annotated[str, Form()],
    rating: Annotated[str, Form()],
    session: SessionDep,
    comment: Annotated[str | None, Form()] = None,
) -> RedirectResponse:
    try:
        suggestion = views.find_tracked(session, tracking_code=tracking_code, check_code=check)
        step = views.open_rating_step(session, suggestion=suggestion)
        steps.complete_or_refuse(
            session,
            actor=_proposer(tracking_code),
            step_id=step.id,
            payload={"rating": rating, "comment": comment or None},
        )
    except JianyiError as exc:
        raise PageError(exc) from exc  # rolled back, then answered as a page (api/errors.py)
    return RedirectResponse(f"/track/{tracking_code}?check={check}&done=1", status_code=303)
