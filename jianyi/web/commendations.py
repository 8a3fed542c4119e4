"""The city office's page of the annual commendation (表彰奖励): a year's cycle, its state and
nominations (automatic or by hand), and the form that nominates an adopted or partly adopted item
by its tracking code, through the same service as the API (commendation.nominate_item)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.api.deps import SessionDep
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
