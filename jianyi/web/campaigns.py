"""The campaigns' public pages, no login (主动征集, Art. 8): the open campaigns, and each campaign's page
with its topic, explanation, host units, channels, window and deadline; while it is open, the
submission form that answers it by reference (the public form of web/public.py: the same honeypot,
rate limit and model, with ``campaign_id``); after its close, the published collective feedback
(集中反馈, Art. 12). Nothing here shows personal data (services/cycles/campaigns.public_view)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from jianyi.api.deps import RecordId, SessionDep
from jianyi.db import read_scope
from jianyi.models import Campaign
from jianyi.models.base import utcnow
from jianyi.models.enums import Channel
from jianyi.services.cycles import campaigns
from jianyi.web.public import take_in
from jianyi.web.templating import render

router = APIRouter(include_in_schema=False)
# The form answering a campaign posts here, a fixed path, so that asgi-csrf protects it even from a
# browser without a cookie yet (web/app.ALWAYS_PROTECTED lists exact paths).
SUGGEST = "/campaigns/suggest"
CLOSED = "本次征集已经截止，未能提交。您填写的内容保留在下方，可以作为一般建议提交。"
STATE_LABELS = {
    campaigns.OPEN: "征集中",
    campaigns.AWAITING: "已截止，正在汇总",
    campaigns.GIVEN: "已截止，正在汇总",
    campaigns.PUBLISHED: "已集中反馈",
}


def is_open(campaign: Campaign) -> bool:
    """Taking suggestions now: open and within its window (intake checks the same)."""
    now = utcnow()
    return campaign.state == campaigns.OPEN and campaign.opens_at <= now < campaign.closes_at


def channel_of(campaign: Campaign) -> Channel:
    """The channel a suggestion sent from its page comes by: this site, or the campaign itself."""
    return Channel.web if Channel.web.value in campaign.channels else Channel.campaign


@router.get("/campaigns", response_class=HTMLResponse)
def campaign_list(request: Request, session: SessionDep) -> Response:
    """The campaigns open now, then those whose collective feedback is published."""
    rows = campaigns.list_campaigns(session)
    context = {
        "open": [campaigns.public_view(session, c) for c in rows if is_open(c)],
        "published": [campaigns.public_view(session, c) for c in rows if c.state == campaigns.PUBLISHED],
    }
    return render(request, "campaign_list.html.j2", context)


def _page(
    request: Request,
    session: Session,
    campaign_id: int,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    campaign = campaigns.get(session, campaign_id=campaign_id)
    context = {
        "c": campaigns.public_view(session, campaign),
        "taking": is_open(campaign),
        "state": STATE_LABELS.get(campaign.state, campaign.state),
        "values": values or {},
        "errors": errors or {},
        "action": SUGGEST,
    }
    return render(request, "campaign_page.html.j2", context, status_code=status)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: RecordId, session: SessionDep) -> Response:
    return _page(request, session, campaign_id)


@router.post(SUGGEST, response_class=HTMLResponse)
async def answer(request: Request, campaign: Annotated[int, Form(ge=1, le=2**31 - 1)]) -> Response:
    """A suggestion answering the campaign, from its page's form."""
    with read_scope() as session:
        channel = channel_of(campaigns.get(session, campaign_id=campaign))  # 404 for no such campaign

    def again(values: dict[str, Any], errors: dict[str, str], status: int) -> Response:
        with read_scope() as session:
            if is_open(campaigns.get(session, campaign_id=campaign)):
                return _page(request, session, campaign, values, errors, status)
        # Closed meanwhile: what they wrote is kept, in the home page's form, to send as a suggestion.
        context = {"values": values, "errors": {"form": CLOSED}}
        return render(request, "home.html.j2", context, status_code=status)

    return await take_in(request, again=again, campaign_id=campaign, channel=channel)
