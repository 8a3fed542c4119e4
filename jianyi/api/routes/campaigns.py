"""Campaigns (主动征集): the office opens one and gives its collective feedback; officials read them;
anyone reads a campaign's public page (``/api/public/campaigns/{id}``: no token, the public slots of
the gate, no personal data). Suggestions answer a campaign with ``campaign_id`` at intake."""

from __future__ import annotations

from fastapi import APIRouter, Query

from jianyi.api.deps import CurrentActor, RecordId, SessionDep
from jianyi.api.errors import documented
from jianyi.models.base import utcnow
from jianyi.models.campaign_schemas import CampaignIn, CampaignOut, CampaignPublic, FeedbackIn
from jianyi.services.cycles import campaigns

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
public = APIRouter(prefix="/api/public/campaigns", tags=["campaigns"])


@router.post("", response_model=CampaignOut, status_code=201, responses=documented(409))
def create_campaign(body: CampaignIn, session: SessionDep, actor: CurrentActor) -> CampaignOut:
    """Open a campaign: topic, explanation, host units, channels, window, optional deadline profile."""
    return campaigns.office_view(session, campaigns.create(session, actor=actor, data=body, now=utcnow()))


@router.get("", response_model=list[CampaignOut])
def list_campaigns(
    session: SessionDep, actor: CurrentActor, state: str | None = Query(default=None, max_length=32)
) -> list[CampaignOut]:
    """The campaigns, the newest window first."""
    return [campaigns.office_view(session, c) for c in campaigns.list_campaigns(session, state=state)]


@router.get("/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: RecordId, session: SessionDep, actor: CurrentActor) -> CampaignOut:
    return campaigns.office_view(session, campaigns.get(session, campaign_id=campaign_id))


@router.post("/{campaign_id}/feedback", response_model=CampaignOut, responses=documented(409))
def give_feedback(
    campaign_id: RecordId, body: FeedbackIn, session: SessionDep, actor: CurrentActor
) -> CampaignOut:
    """The office's collective feedback (集中反馈) on a closed campaign; the executor's campaign run then
    publishes it on the public page and sends it once to each participant."""
    campaign = campaigns.give_feedback(session, actor=actor, campaign_id=campaign_id, data=body, now=utcnow())
    return campaigns.office_view(session, campaign)


@public.get("/{campaign_id}", response_model=CampaignPublic)
def campaign_page(campaign_id: RecordId, session: SessionDep) -> CampaignPublic:
    """A campaign's public page: topic, explanation, host units, channels, window; its feedback once
    published. No personal data."""
    return campaigns.public_view(session, campaigns.get(session, campaign_id=campaign_id))
