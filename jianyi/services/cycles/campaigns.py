"""Campaigns (主动征集): the office opens one on a topic, suggestions answer it by reference, its
window closes (on schedule), the office gives collective feedback (集中反馈, Art. 12), which is
published on the campaign's page without personal data and sent once to each participant who gave
an e-mail address or a mobile number.

A campaign waits in the database like a case does: ``open`` → ``awaiting_feedback`` (closed, its
participation frozen) → ``feedback_given`` → ``published``. The flow ``jianyi.flows.campaigns`` does
what the state calls for.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import Conflict, Forbidden, InvalidInput, NotFound
from jianyi.models import Campaign, Proposer, Suggestion, Unit
from jianyi.models.campaign_schemas import CampaignIn, CampaignOut, CampaignPublic, FeedbackIn
from jianyi.models.enums import Decision, OutboxChannel, Role
from jianyi.rules.lookup import campaign_route_rule
from jianyi.rules.messages import RenderedMail
from jianyi.services import audit
from jianyi.services.actors import Actor
from jianyi.services.cycles.digest import district_of
from jianyi.services.deadlines import current_rules
from jianyi.services.figures.catalog import CHANNEL_LABELS
from jianyi.services.network import UnknownUnit, get_unit_by_code
from jianyi.services.outbox import mail_row, queue_mails
from jianyi.services.reports.access import reads_city_reports

OPEN, AWAITING, GIVEN, PUBLISHED = "open", "awaiting_feedback", "feedback_given", "published"


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", detail=[{"field": field, "message": message}])


def require_office(session: Session, actor: Actor) -> None:
    if actor.role is Role.leader or not reads_city_reports(session, actor):
        raise Forbidden("campaigns are run by the city suggestion office")


def create(session: Session, *, actor: Actor, data: CampaignIn, now: datetime) -> Campaign:
    require_office(session, actor)
    if session.scalar(select(Campaign.id).where(Campaign.code == data.code)) is not None:
        raise Conflict(f"code: a campaign {data.code!r} exists already")
    for code in data.host_units:
        try:
            get_unit_by_code(session, code=code)
        except UnknownUnit as exc:
            raise _invalid("host_units", f"no unit with code {code!r}") from exc
    if data.deadline_profile is not None:
        profile = next((p for p in current_rules().profiles if p.id == data.deadline_profile), None)
        if profile is None:
            raise _invalid("deadline_profile", f"no profile {data.deadline_profile!r} in the rules")
        if not profile.is_active(data.code):  # the rules say which campaigns a profile times
            raise _invalid(
                "deadline_profile",
                f"profile {profile.id!r} is not switched on for {data.code!r}: add the code to its "
                "active.campaigns in the rules first",
            )
    campaign = Campaign(
        code=data.code,
        topic=data.topic,
        explanation=data.explanation,
        host_units=list(data.host_units),
        channels=[c.value for c in data.channels],
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        deadline_profile=data.deadline_profile,
        state=OPEN,
        created_by=actor.name or actor.label,
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    audit.record(session, actor=actor, action="campaign.created", detail={"campaign": campaign.code})
    return campaign


def get(session: Session, *, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def list_campaigns(session: Session, *, state: str | None = None) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.opens_at.desc(), Campaign.id.desc())
    if state:
        query = query.where(Campaign.state == state)
    return list(session.scalars(query.limit(500)))


def for_intake(session: Session, *, campaign_id: int, channel: str, now: datetime) -> str:
    """The code a suggestion answering the campaign is stored with: the campaign must exist, be open
    at ``now`` and take suggestions by ``channel``. Refused otherwise, naming ``campaign_id``."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise _invalid("campaign_id", f"no campaign {campaign_id}")
    if not (campaign.state == OPEN and campaign.opens_at <= now < campaign.closes_at):
        raise _invalid("campaign_id", f"campaign {campaign_id} is not open for suggestions now")
    if channel not in campaign.channels and channel != "campaign":
        raise _invalid(
            "channel", f"campaign {campaign_id} takes suggestions by {', '.join(campaign.channels)}"
        )
    return campaign.code


def routing_proposal(
    session: Session, *, code: str, category: str | None, text: str, district: str | None
) -> dict[str, Any] | None:
    """Triage's proposal for an item answering campaign ``code``: the campaign's own routing rows in
    the rules (``match.campaigns``), else its host units (the first leads, the others co-handle);
    None for a code no campaign has (the general table then proposes)."""
    own = campaign_route_rule(current_rules(), campaign=code, category=category, text=text, district=district)
    if own is not None:
        return {"kind": "suggestion", "lead_unit": own.lead, "co_units": list(own.co), "rule": own.id}
    hosts = session.scalar(select(Campaign.host_units).where(Campaign.code == code))
    if not hosts:
        return None
    return {
        "kind": "suggestion",
        "lead_unit": hosts[0],
        "co_units": list(hosts[1:]),
        "rule": f"campaign:{code}",
    }


def suggestions_of(session: Session, campaign: Campaign) -> list[Suggestion]:
    return list(
        session.scalars(
            select(Suggestion).where(Suggestion.campaign == campaign.code).order_by(Suggestion.id)
        )
    )


def close(session: Session, *, campaign_id: int, now: datetime) -> bool:
    """Close a campaign whose window has ended: its participation (by channel and district) frozen; it
    then waits for the office's feedback. False if not due or closed already."""
    campaign = get(session, campaign_id=campaign_id)
    if campaign.state != OPEN or now < campaign.closes_at:
        return False
    items = suggestions_of(session, campaign)
    channels = Counter(CHANNEL_LABELS.get(s.channel, s.channel.value) for s in items)
    districts = Counter(district_of(session, s) or "市级" for s in items)
    campaign.participation = {
        "suggestions": len(items),
        "by_channel": dict(channels.most_common()),
        "by_district": dict(districts.most_common()),
    }
    campaign.state, campaign.closed_at = AWAITING, now
    audit.record(
        session, actor=Actor(label="campaigns"), action="campaign.closed", detail={"campaign": campaign.code}
    )
    session.flush()
    return True


def due_to_close(session: Session, *, now: datetime) -> list[int]:
    return list(session.scalars(select(Campaign.id).where(Campaign.state == OPEN, Campaign.closes_at <= now)))


def give_feedback(
    session: Session, *, actor: Actor, campaign_id: int, data: FeedbackIn, now: datetime
) -> Campaign:
    """The office's collective feedback, stored; the flow publishes and sends it. Once."""
    require_office(session, actor)
    campaign = get(session, campaign_id=campaign_id)
    if campaign.state == OPEN:
        raise Conflict(f"campaign {campaign_id} is still open: feedback follows its close")
    if campaign.state != AWAITING:
        raise Conflict(f"campaign {campaign_id} has its feedback already")
    campaign.feedback = {
        **data.model_dump(),
        "given_by": actor.name or actor.label,
        "given_at": now.isoformat(),
    }
    campaign.state = GIVEN
    audit.record(session, actor=actor, action="campaign.feedback", detail={"campaign": campaign.code})
    session.flush()
    return campaign


def _adopted(session: Session, campaign: Campaign) -> list[dict[str, Any]]:
    """What was adopted and by whom: the item's title and the unit that adopted it (no proposer)."""
    out = []
    for s in suggestions_of(session, campaign):
        if s.decision in (Decision.adopt, Decision.partly_adopt):
            unit = session.get(Unit, s.lead_unit_id) if s.lead_unit_id else None
            out.append(
                {
                    "title": s.title,
                    "unit": unit.name if unit else None,
                    "decision": "采纳" if s.decision is Decision.adopt else "部分采纳",
                }
            )
    return out


def published_feedback(session: Session, campaign: Campaign) -> dict[str, Any]:
    assert campaign.feedback is not None and campaign.participation is not None
    return {
        "participation": campaign.participation,
        "adopted": _adopted(session, campaign),
        "summary": campaign.feedback["summary"],
        "next_steps": campaign.feedback["next_steps"],
    }


def publish(session: Session, *, campaign_id: int, now: datetime) -> int:
    """Publish the feedback on the campaign's page and queue it once to each participant (by e-mail,
    else by SMS to a mobile number; one message per address however many suggestions they sent).
    Returns how many messages were queued now (0 when published already)."""
    campaign = get(session, campaign_id=campaign_id)
    if campaign.state != GIVEN:
        return 0
    feedback = published_feedback(session, campaign)
    campaign.feedback = {**(campaign.feedback or {}), "published": feedback}
    campaign.state, campaign.published_at = PUBLISHED, now
    text = (
        f"您参与的“{campaign.topic}”人民建议主动征集已集中反馈：共收到建议{feedback['participation']['suggestions']}件，"
        f"采纳{len(feedback['adopted'])}件。{feedback['summary']} 下一步：{feedback['next_steps']}"
    )
    rows, seen = [], set()
    for s in suggestions_of(session, campaign):
        proposer = session.get(Proposer, s.proposer_id)
        if proposer is None:
            continue
        address, channel = (
            (proposer.email, OutboxChannel.email) if proposer.email else (proposer.mobile, OutboxChannel.sms)
        )
        if not address or address.lower() in seen:
            continue
        seen.add(address.lower())
        mail = RenderedMail(subject=f"【集中反馈】{campaign.topic}", text=text, html=f"<p>{escape(text)}</p>")
        rows.append(
            mail_row(
                dedupe_key=f"campaign:{campaign.id}:feedback:{address.lower()}",
                suggestion_id=s.id,
                kind="campaign_feedback",
                to_addr=address,
                mail=mail,
                channel=channel,
            )
        )
    queue_mails(session, rows)
    audit.record(
        session,
        actor=Actor(label="campaigns"),
        action="campaign.published",
        detail={"campaign": campaign.code, "messages": len(rows)},
    )
    session.flush()
    return len(rows)


def _names(session: Session, codes: list[str]) -> list[str]:
    units = {u.code: u.name for u in session.scalars(select(Unit).where(Unit.code.in_(codes)))}
    return [units.get(code, code) for code in codes]


def public_view(session: Session, campaign: Campaign) -> CampaignPublic:
    """The public page: what Art. 8 wants public, and the feedback once published. No personal data."""
    return CampaignPublic(
        id=campaign.id,
        code=campaign.code,
        topic=campaign.topic,
        explanation=campaign.explanation,
        host_units=_names(session, campaign.host_units),
        channels=[CHANNEL_LABELS.get(c, c) for c in campaign.channels],
        opens_at=campaign.opens_at,
        closes_at=campaign.closes_at,
        state=campaign.state,
        feedback=(campaign.feedback or {}).get("published") if campaign.state == PUBLISHED else None,
    )


def office_view(session: Session, campaign: Campaign) -> CampaignOut:
    public = public_view(session, campaign)
    return CampaignOut(
        **public.model_dump(),
        deadline_profile=campaign.deadline_profile,
        participation=campaign.participation,
        closed_at=campaign.closed_at,
        published_at=campaign.published_at,
        created_by=campaign.created_by,
        flow_run_id=campaign.flow_run_id,
        participants=len(suggestions_of(session, campaign)),
    )
