"""The office's cycles on schedule: the digest of important suggestions on the rules' cron, and the
campaigns whose window has closed or whose feedback was given. The executor's APScheduler runs them.

As for the periodic reports (jianyi/executor/reports.py), the executor registers the deployment
``digest-of-important-suggestions/weekly`` (no work pool, no Prefect schedule) and a cron job, read from
the rules (``cycles.digest.cron``, in the calendar's time zone), creates its flow run and runs it in
this process, in a thread. The run's idempotency key is the local date, so two executors (or a second
trigger) make one run. No catch-up is needed: a missed week's items wait for the next issue, which
takes every item not yet digested.

Campaigns: every few minutes a job reads the campaigns due for a step (closed window, feedback given)
and runs ``campaign-cycle/on-close`` for each, keyed by the campaign and its state: one run per step.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import StateType
from prefect.flow_engine import run_flow
from sqlalchemy import select

from jianyi.db import read_scope
from jianyi.flows.campaigns import campaign_cycle
from jianyi.flows.digest import digest_of_important_suggestions
from jianyi.models import Campaign
from jianyi.models.base import utcnow
from jianyi.rules.schema import RuleSet
from jianyi.services.cycles import campaigns
from jianyi.services.deadlines import current_rules

log = logging.getLogger("jianyi.digest")


async def ensure_deployment() -> UUID:
    rules = current_rules()
    deployment = await digest_of_important_suggestions.ato_deployment(
        name="weekly",
        tags=["jianyi", "digest"],
        description=f"人民建议摘报: run by jianyi's executor at cron {rules.cycles.digest.cron!r} "
        f"({rules.calendar.time_zone}), from the rules",
    )
    return await deployment.aapply()


async def make(client: PrefectClient, deployment_id: UUID, key: str) -> bool:
    """Create (or get back) the run keyed ``key`` and run it here; False if it had run already."""
    run = await client.create_flow_run_from_deployment(
        deployment_id,
        parameters={"by": "schedule"},
        name=f"人民建议摘报 {key}",
        idempotency_key=f"{deployment_id}:{key}",
        tags=["jianyi", "digest"],
    )
    if run.state is None or run.state.type is not StateType.SCHEDULED:
        return False  # completed, or being made by another executor
    await asyncio.to_thread(
        run_flow, digest_of_important_suggestions, flow_run=run, parameters=run.parameters
    )
    return True


def trigger(rules: RuleSet) -> CronTrigger:
    return CronTrigger.from_crontab(rules.cycles.digest.cron, timezone=ZoneInfo(rules.calendar.time_zone))


def add_jobs(scheduler: AsyncIOScheduler, deployment_id: UUID) -> None:
    rules = current_rules()
    if not rules.cycles.digest.scheduled:
        return

    async def one() -> None:
        key = utcnow().astimezone(ZoneInfo(rules.calendar.time_zone)).date().isoformat()
        try:
            async with get_client() as client:
                if await make(client, deployment_id, key):
                    log.info("compiled the digest of %s", key)
        except Exception:  # logged; what waits goes into the next issue
            log.exception("the digest of %s failed", key)

    scheduler.add_job(
        one, trigger(rules), id="digest", max_instances=1, coalesce=True, misfire_grace_time=3600
    )


async def ensure_campaign_deployment() -> UUID:
    deployment = await campaign_cycle.ato_deployment(
        name="on-close",
        tags=["jianyi", "campaign"],
        description="主动征集: closes a campaign at its window's end, publishes and sends its feedback",
    )
    return await deployment.aapply()


def due_campaigns() -> list[tuple[int, str]]:
    """The campaigns a run has something to do for: (id, state)."""
    with read_scope() as session:
        closing = campaigns.due_to_close(session, now=utcnow())
        given = list(session.scalars(select(Campaign.id).where(Campaign.state == campaigns.GIVEN)))
    return [(i, campaigns.OPEN) for i in closing] + [(i, campaigns.GIVEN) for i in given]


async def make_campaign_run(client: PrefectClient, deployment_id: UUID, campaign_id: int, state: str) -> bool:
    run = await client.create_flow_run_from_deployment(
        deployment_id,
        parameters={"campaign_id": campaign_id},
        name=f"主动征集 {campaign_id} {state}",
        idempotency_key=f"{deployment_id}:{campaign_id}:{state}",
        tags=["jianyi", "campaign"],
    )
    if run.state is None or run.state.type is not StateType.SCHEDULED:
        return False
    await asyncio.to_thread(run_flow, campaign_cycle, flow_run=run, parameters=run.parameters)
    return True


def add_campaign_jobs(scheduler: AsyncIOScheduler, deployment_id: UUID, *, minutes: int = 5) -> None:
    async def due() -> None:
        try:
            async with get_client() as client:
                for campaign_id, state in await asyncio.to_thread(due_campaigns):
                    await make_campaign_run(client, deployment_id, campaign_id, state)
        except Exception:  # logged; the next round tries again
            log.exception("the campaigns' round failed")

    scheduler.add_job(
        due,
        IntervalTrigger(minutes=minutes),
        id="campaigns",
        max_instances=1,
        coalesce=True,
        next_run_time=utcnow(),
    )
