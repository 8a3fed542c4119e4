"""The campaign flow's tasks: close a campaign whose window ended, publish its feedback. Each opens its
own unit of work; the plain functions are what the CLI runs without Prefect."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from jianyi.db import session_scope
from jianyi.services.cycles import campaigns


def close_campaign(campaign_id: int, now: datetime) -> bool:
    with session_scope() as session:
        return campaigns.close(session, campaign_id=campaign_id, now=now)


def publish_feedback(campaign_id: int, now: datetime) -> int:
    with session_scope() as session:
        return campaigns.publish(session, campaign_id=campaign_id, now=now)


def advance_campaign(campaign_id: int, now: datetime) -> dict[str, int | bool]:
    """What the campaign's state calls for, without Prefect."""
    return {"closed": close_campaign(campaign_id, now), "messages_queued": publish_feedback(campaign_id, now)}


def run_cycle(campaign_id: int, now: datetime, *, local: bool = False) -> None:
    """Run the campaign's cycle now (the CLI, the office's feedback page): as a Prefect flow run when
    PREFECT_API_URL is set, else here."""
    from prefect.settings import PREFECT_API_URL

    if local or not PREFECT_API_URL.value():
        advance_campaign(campaign_id, now)
    else:
        from jianyi.flows.campaigns import campaign_cycle  # the flow imports these tasks

        campaign_cycle(campaign_id=campaign_id, now=now.isoformat())


@task(name="close", cache_policy=NO_CACHE, persist_result=False)
def close_task(campaign_id: int, now: str) -> bool:
    return close_campaign(campaign_id, datetime.fromisoformat(now))


@task(name="publish", cache_policy=NO_CACHE, persist_result=False)
def publish_task(campaign_id: int, now: str) -> int:
    return publish_feedback(campaign_id, datetime.fromisoformat(now))
