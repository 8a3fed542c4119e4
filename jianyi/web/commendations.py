"""The annual commendation's pages (表彰奖励). The city office's: a year's cycle, its state and
nominations (automatic or by hand), and the form that nominates an adopted or partly adopted item
by its tracking code (commendation.nominate_item, as the API). A reviewer's: the items of the panel
they sit on, less those of their own unit (a declared conflict), scored in their own name
(commendation.score_own, as the API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.api.deps import RecordId, SessionDep
from jianyi.errors import Conflict, InvalidInput, NotFound
from jianyi.models import Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.rules.calendar import SHANGHAI
from jianyi.services.actors import Actor
from jianyi.services.cycles import commendation
from jianyi.web.accounts import Official
from jianyi.web.templating import render

router = APIRouter(include_in_schema=False)
Year = Annotated[int, Path(ge=2000, le=2100)]
STATES = {
    commendation.NOMINATING: "提名中",
    commendation.REVIEWING: "评审中",
    commendation.APPROVED: "已审定",
    commendation.PUBLISHED: "已公布",
}
SOURCES = {"automatic": "落实后自动提名", "manual": "征集办提名"}


def _page(
    request: Request,
    session: Session,
    official: Actor,
    year: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    commendation.require_office(session, official)
    try:
        cycle = commendation.get_cycle(session, year=year)
    except NotFound:
        cycle = None
    rows = []
    for item in commendation.nominations(session, cycle) if cycle is not None else []:
        s = session.get_one(Suggestion, item.suggestion_id)
        unit = session.get(Unit, s.lead_unit_id) if s.lead_unit_id else None
        rows.append({"s": s, "unit": unit.name if unit else None, "item": item})
    context = {
        "year": year,
        "cycle": cycle,
        "state": STATES.get(cycle.state, cycle.state) if cycle is not None else None,
        "rows": rows,
        "sources": SOURCES,
        "values": values or {},
        "errors": errors or {},
    }
    return render(request, "commendation_desk.html.j2", context, status_code=status)


@router.get("/commendations/manage", response_class=HTMLResponse)
def desk(
    request: Request,
    official: Official,
    session: SessionDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """The year's cycle (this year's by default)."""
    return _page(request, session, official, year or utcnow().astimezone(SHANGHAI).year)


@router.post("/commendations/manage/{year}/nominations", response_class=HTMLResponse)
def nominate(
    request: Request,
    year: Year,
    official: Official,
    session: SessionDep,
    tracking_code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    code = tracking_code.strip().upper()
    suggestion_id = session.scalar(select(Suggestion.id).where(Suggestion.tracking_code == code))
    try:
        if suggestion_id is None:
            raise InvalidInput(
                f"tracking_code: no suggestion {code!r}",
                detail=[{"field": "tracking_code", "message": "没有此跟踪编号的建议"}],
            )
        commendation.nominate_item(
            session, actor=official, year=year, suggestion_id=suggestion_id, now=utcnow()
        )
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        details = (
            [d for d in exc.detail or [] if isinstance(d, dict)] if isinstance(exc, InvalidInput) else []
        )
        message = details[0]["message"] if details else exc.message
        error = {"tracking_code": f"未能提名：{message}"}
        return _page(request, session, official, year, {"tracking_code": tracking_code}, error, 422)
    return RedirectResponse(f"/commendations/manage?year={year}", status_code=303)


def _review_page(
    request: Request,
    session: Session,
    official: Actor,
    year: int,
    errors: dict[int, str] | None = None,
    status: int = 200,
) -> Response:
    expert, items = commendation.to_review(session, actor=official, year=year)
    cycle = commendation.get_cycle(session, year=year)
    rows = []
    for item in items:
        s = session.get_one(Suggestion, item.suggestion_id)
        unit = session.get(Unit, s.lead_unit_id) if s.lead_unit_id else None
        rows.append({"s": s, "unit": unit.name if unit else None, "score": item.scores.get(str(expert.id))})
    context = {
        "year": year,
        "expert": expert,
        "rows": rows,
        "open": cycle.state == commendation.REVIEWING,
        "errors": errors or {},
    }
    return render(request, "commendation_review.html.j2", context, status_code=status)


@router.get("/commendations/review", response_class=HTMLResponse)
def review(
    request: Request,
    official: Official,
    session: SessionDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """A reviewer's items of the year (their own unit's left out), to score in their own name."""
    return _review_page(request, session, official, year or utcnow().astimezone(SHANGHAI).year)


@router.post("/commendations/review/{year}/{suggestion_id}", response_class=HTMLResponse)
def score(
    request: Request,
    year: Year,
    suggestion_id: RecordId,
    official: Official,
    session: SessionDep,
    value: Annotated[str, Form(alias="score", max_length=8)] = "",
) -> Response:
    if not value.strip().isdigit() or not 0 <= int(value) <= 100:
        return _review_page(request, session, official, year, {suggestion_id: "请填写 0 到 100 的整数"}, 422)
    try:
        commendation.score_own(
            session, actor=official, year=year, suggestion_id=suggestion_id, value=int(value)
        )
    except InvalidInput as exc:
        session.rollback()
        return _review_page(
            request, session, official, year, {suggestion_id: f"未能评分：{exc.message}"}, 422
        )
    return RedirectResponse(f"/commendations/review?year={year}#item-{suggestion_id}", status_code=303)
