"""``jianyi campaign``: open a campaign (主动征集), list and show them, run its cycle (close it when its
window has ended), give its collective feedback (集中反馈), which is then published and sent."""

from __future__ import annotations

from datetime import datetime

import typer
from pydantic import ValidationError

from jianyi.cli.common import TokenOption, actor, domain_errors_as_exit_codes, emit, fail, session
from jianyi.errors import field_errors
from jianyi.models.base import utcnow
from jianyi.models.campaign_schemas import CampaignIn, FeedbackIn
from jianyi.services.cycles import campaigns

campaign_app = typer.Typer(
    help="主动征集: campaigns on a topic, and their collective feedback.", no_args_is_help=True
)


def _at(now: datetime | None) -> datetime:
    return utcnow() if now is None else now if now.tzinfo else now.astimezone()  # naive: local time


def _advance(campaign_id: int, at: datetime, local: bool) -> None:
    """Run the campaign's cycle: as a Prefect flow run when PREFECT_API_URL is set, else here."""
    from jianyi.tasks.campaigns import run_cycle

    with domain_errors_as_exit_codes():
        run_cycle(campaign_id, at, local=local)


def _valid(model: type[CampaignIn] | type[FeedbackIn], values: dict[str, object]) -> CampaignIn | FeedbackIn:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = field_errors(exc.errors())
        fail("; ".join(f"{e['field']}: {e['message']}" for e in errors), code=7, detail=errors)


@campaign_app.command("create")
def create(
    code: str = typer.Option(..., "--code"),
    topic: str = typer.Option(..., "--topic"),
    explanation: str = typer.Option(..., "--explanation"),
    host: list[str] = typer.Option(..., "--host", help="a host unit's code (repeat for several)"),
    channel: list[str] = typer.Option(
        ..., "--channel", help="a channel it takes (repeat), e.g. campaign, app"
    ),
    opens: datetime = typer.Option(..., "--opens", formats=["%Y-%m-%dT%H:%M:%S%z"]),
    closes: datetime = typer.Option(..., "--closes", formats=["%Y-%m-%dT%H:%M:%S%z"]),
    profile: str | None = typer.Option(
        None, "--profile", help="a deadline profile of the rules listing the code"
    ),
    now: datetime | None = typer.Option(None, "--now"),
    token: str | None = TokenOption,
) -> None:
    """Open a campaign."""
    data = _valid(
        CampaignIn,
        {
            "code": code,
            "topic": topic,
            "explanation": explanation,
            "host_units": host,
            "channels": channel,
            "opens_at": opens,
            "closes_at": closes,
            "deadline_profile": profile,
        },
    )
    assert isinstance(data, CampaignIn)
    with session() as db:
        emit(campaigns.office_view(db, campaigns.create(db, actor=actor(db, token), data=data, now=_at(now))))


@campaign_app.command("list")
def list_(state: str | None = typer.Option(None, "--state"), token: str | None = TokenOption) -> None:
    with session() as db:
        actor(db, token)
        emit([campaigns.office_view(db, c) for c in campaigns.list_campaigns(db, state=state)])


@campaign_app.command("show")
def show(
    campaign_id: int = typer.Argument(...),
    public: bool = typer.Option(False, "--public"),
    token: str | None = TokenOption,
) -> None:
    """One campaign; --public: its public page as anyone sees it."""
    with session() as db:
        campaign = campaigns.get(db, campaign_id=campaign_id)
        if public:
            emit(campaigns.public_view(db, campaign))
        else:
            actor(db, token)
            emit(campaigns.office_view(db, campaign))


@campaign_app.command("run")
def run(
    campaign_id: int = typer.Argument(...),
    now: datetime | None = typer.Option(None, "--now", help="as of this instant (ISO 8601)"),
    local: bool = typer.Option(False, "--local", help="without Prefect"),
    token: str | None = TokenOption,
) -> None:
    """Do what the campaign's state calls for now: close it if its window has ended, publish and send
    its feedback once given (the executor does this every few minutes)."""
    with session() as db:
        campaigns.require_office(db, actor(db, token))
        campaigns.get(db, campaign_id=campaign_id)
    _advance(campaign_id, _at(now), local)
    with session() as db:
        emit(campaigns.office_view(db, campaigns.get(db, campaign_id=campaign_id)))


@campaign_app.command("feedback")
def feedback(
    campaign_id: int = typer.Argument(...),
    summary: str = typer.Option(..., "--summary", help="what was heard, what was adopted"),
    next_steps: str = typer.Option(..., "--next-steps"),
    now: datetime | None = typer.Option(None, "--now"),
    local: bool = typer.Option(False, "--local", help="publish without Prefect"),
    token: str | None = TokenOption,
) -> None:
    """Give the closed campaign's collective feedback, then publish and send it."""
    data = _valid(FeedbackIn, {"summary": summary, "next_steps": next_steps})
    assert isinstance(data, FeedbackIn)
    with session() as db:
        campaigns.give_feedback(db, actor=actor(db, token), campaign_id=campaign_id, data=data, now=_at(now))
    _advance(campaign_id, _at(now), local)
    with session() as db:
        emit(campaigns.office_view(db, campaigns.get(db, campaign_id=campaign_id)))
