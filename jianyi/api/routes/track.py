"""Public tracking: the proposer follows a suggestion with its tracking code and check code, and
rates the reply. No token, no personal data. Every failure (an unknown code, a wrong, malformed or
missing check code) is the same 404, and failures are rate-limited per client and per code (429,
api/throttle.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from jianyi.api.deps import SessionDep
from jianyi.api.errors import PageError
from jianyi.api.throttle import check_not_blocked, client_of, limits_of, record_failure
from jianyi.errors import JianyiError, NotFound
from jianyi.models import Suggestion
from jianyi.models.enums import Role
from jianyi.models.schemas import PublicTracking, StepView
from jianyi.models.step_inputs import RatingInput
from jianyi.services import steps, views
from jianyi.services.actors import Actor

router = APIRouter(tags=["tracking"])
# Every template here is HTML: escaped always (Starlette's default environment leaves *.html.j2
# unescaped, so a title could carry a script into the page).
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[2] / "templates" / "web"),
        autoescape=True,
        undefined=StrictUndefined,
    )
)
# Any text at all: a malformed or missing check code is answered like a wrong one (404).
CheckCode = Annotated[str, Query(alias="check", description="the secret check code")]


def _proposer(tracking_code: str) -> Actor:
    return Actor(label=f"proposer:{tracking_code}", role=Role.proposer, name="建议人")


def _tracked(request: Request, session: Session, tracking_code: str, check: str) -> Suggestion:
    """The suggestion the codes prove; a failure is counted against the client and the code."""
    limits, client = limits_of(request), client_of(request)
    check_not_blocked(limits, client=client, code=tracking_code)
    try:
        return views.find_tracked(session, tracking_code=tracking_code, check_code=check)
    except NotFound:
        record_failure(limits, client=client, code=tracking_code)
        raise


@router.get("/api/track/{tracking_code}", response_model=PublicTracking)
def track(request: Request, tracking_code: str, session: SessionDep, check: CheckCode = "") -> PublicTracking:
    return views.tracking_of(session, _tracked(request, session, tracking_code, check))


@router.post("/api/track/{tracking_code}/rating", response_model=StepView)
def rate(
    request: Request, tracking_code: str, rating: RatingInput, session: SessionDep, check: CheckCode = ""
) -> StepView:
    suggestion = _tracked(request, session, tracking_code, check)
    step = views.open_rating_step(session, suggestion=suggestion)
    done = steps.complete_or_refuse(
        session, actor=_proposer(tracking_code), step_id=step.id, payload=rating.model_dump(mode="json")
    )
    return views.step_view(session, done)


@router.get("/track/{tracking_code}", response_class=HTMLResponse, include_in_schema=False)
def track_page(
    request: Request, tracking_code: str, session: SessionDep, check: CheckCode = ""
) -> HTMLResponse:
    try:
        tracking = views.tracking_of(session, _tracked(request, session, tracking_code, check))
    except JianyiError as exc:
        raise PageError(exc) from exc
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
        suggestion = _tracked(request, session, tracking_code, check)
        step = views.open_rating_step(session, suggestion=suggestion)
        steps.complete_or_refuse(
            session,
            actor=_proposer(tracking_code),
            step_id=step.id,
            payload={"rating": rating, "comment": comment or None},
        )
    except JianyiError as exc:
        raise PageError(exc) from exc  # rolled back, then answered as a page (api/errors.py)
    query = urlencode({"check": check, "done": 1})
    return RedirectResponse(f"/track/{suggestion.tracking_code}?{query}", status_code=303)
