"""The city office's campaign desk (主动征集): the campaigns with their state and participation, the
form that opens one (validated by the API's model, errors beside their fields), and, once a window
has ended, the collective feedback (集中反馈) written and published: stored through the same service
as the API, then the campaign's cycle run at once (a Prefect flow run), which publishes it on the
public page and sends it once to each participant — what ``jianyi campaign feedback`` does.

Its paths are under /campaigns/manage: include this router before web/campaigns.py's, whose
/campaigns/{campaign_id} would otherwise take "manage" for an id."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jianyi.api.deps import RecordId, SessionDep
from jianyi.db import read_scope, session_scope
from jianyi.errors import Conflict, InvalidInput
from jianyi.models.base import utcnow
from jianyi.models.campaign_schemas import CampaignIn, FeedbackIn
from jianyi.models.enums import Channel
from jianyi.services.actors import Actor
from jianyi.services.cycles import campaigns
from jianyi.services.deadlines import current_rules
from jianyi.services.figures.catalog import CHANNEL_LABELS
from jianyi.web.accounts import Official
from jianyi.web.forms import chinese
from jianyi.web.templating import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("jianyi.web")
STATES = {
    campaigns.OPEN: "征集中",
    campaigns.AWAITING: "已截止，待集中反馈",
    campaigns.GIVEN: "反馈已提交，待发布",
    campaigns.PUBLISHED: "已发布集中反馈",
}
_CREATE_FIELDS = ("code", "topic", "explanation", "host_units", "opens_at", "closes_at", "deadline_profile")


@router.get("/campaigns/manage", response_class=HTMLResponse)
def desk(request: Request, official: Official, session: SessionDep) -> Response:
    campaigns.require_office(session, official)
    rows = [campaigns.office_view(session, c) for c in campaigns.list_campaigns(session)]
    return render(request, "campaign_desk.html.j2", {"rows": rows, "states": STATES})


def _new_page(
    request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "channels": [(c.value, CHANNEL_LABELS.get(c, c.value)) for c in Channel],
        "profiles": [p.id for p in current_rules().profiles],
    }
    return render(request, "campaign_new.html.j2", context, status_code=status)


@router.get("/campaigns/manage/new", response_class=HTMLResponse)
def new(request: Request, official: Official, session: SessionDep) -> Response:
    campaigns.require_office(session, official)
    return _new_page(request, {"channels": [Channel.web.value]}, {})


def _local(value: str) -> str:
    # A datetime-local input is Shanghai wall time.
    return f"{value}+08:00" if value and len(value) <= 16 else value


@router.post("/campaigns/manage", response_class=HTMLResponse)
async def create(request: Request, official: Official, session: SessionDep) -> Response:
    await run_in_threadpool(campaigns.require_office, session, official)
    form = await request.form()
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in _CREATE_FIELDS}
    values["channels"] = [str(v) for v in form.getlist("channels")]
    payload = {
        **values,
        "host_units": [c.strip() for c in values["host_units"].replace("，", ",").split(",") if c.strip()],
        "opens_at": _local(values["opens_at"]),
        "closes_at": _local(values["closes_at"]),
        "deadline_profile": values["deadline_profile"] or None,
    }
    try:
        data = CampaignIn.model_validate(payload)
    except ValidationError as exc:
        errors = {k.split(".")[0]: v for k, v in reversed(chinese(exc.errors()).items())}
        return _new_page(request, values, errors, 422)
    try:
        campaign = await run_in_threadpool(campaigns.create, session, actor=official, data=data, now=utcnow())
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        if isinstance(exc, Conflict):
            errors = {"code": "此代码已被其他征集使用"}
        else:
            errors = {
                d["field"]: f"填写有误：{d['message']}" for d in exc.detail or [] if isinstance(d, dict)
            }
        return _new_page(request, values, errors, 422)
    return RedirectResponse(f"/campaigns/manage/{campaign.id}", status_code=303)


def _campaign_page(
    request: Request,
    session: Session,
    official: Actor,
    campaign_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    campaigns.require_office(session, official)
    campaign = campaigns.get(session, campaign_id=campaign_id)
    context = {
        "c": campaigns.office_view(session, campaign),
        "states": STATES,
        # The feedback follows the window's end (the executor closes it within minutes; so does this form).
        "may_give": campaign.state == campaigns.AWAITING
        or (campaign.state == campaigns.OPEN and campaign.closes_at <= utcnow()),
        "values": values or {},
        "errors": errors or {},
    }
    return render(request, "campaign_office.html.j2", context, status_code=status)


@router.get("/campaigns/manage/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request, campaign_id: RecordId, official: Official, session: SessionDep
) -> Response:
    return _campaign_page(request, session, official, campaign_id)


def _give(official: Actor, campaign_id: int, data: FeedbackIn) -> None:
    """Close the campaign if its window has ended and no round has yet, store the feedback (one unit
    of work), then run its cycle, which publishes and sends it (the executor's round would too)."""
    now = utcnow()
    with session_scope() as session:
        campaigns.require_office(session, official)
        campaigns.close(session, campaign_id=campaign_id, now=now)  # False: not due, or closed already
        campaigns.give_feedback(session, actor=official, campaign_id=campaign_id, data=data, now=now)
    from jianyi.tasks.campaigns import run_cycle

    try:
        run_cycle(campaign_id, now)
    except Exception:  # stored: the executor's next round publishes it
        log.exception("campaign %d: publishing its feedback now failed", campaign_id)


@router.post("/campaigns/manage/{campaign_id}/feedback", response_class=HTMLResponse)
async def feedback(request: Request, campaign_id: RecordId, official: Official) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("summary", "next_steps")}
    try:
        data = FeedbackIn.model_validate(values)
    except ValidationError as exc:
        with read_scope() as session:
            errors = chinese(exc.errors())
            return _campaign_page(request, session, official, campaign_id, values, errors, 422)
    await run_in_threadpool(_give, official, campaign_id, data)
    return RedirectResponse(f"/campaigns/manage/{campaign_id}", status_code=303)
