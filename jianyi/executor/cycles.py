"""The digest of important suggestions on the rules' schedule: the executor's APScheduler runs it.

As for the periodic reports (jianyi/executor/reports.py), the executor registers the deployment
``digest-of-important-suggestions/weekly`` (no work pool, no Prefect schedule) and a cron job, read from
the rules (``cycles.digest.cron``, in the calendar's time zone), creates its flow run and runs it in
this process, in a thread. The run's idempotency key is the local date, so two executors (or a second
trigger) make one run. No catch-up is needed: a missed week's items wait for the next issue, which
takes every item not yet digested.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import StateType
from prefect.flow_engine import run_flow

from jianyi.flows.digest import digest_of_important_suggestions
from jianyi.models.base import utcnow
from jianyi.rules.schema import RuleSet
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
