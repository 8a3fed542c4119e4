"""The periodic reports on schedule: the executor's APScheduler runs them, not Prefect's scheduler.

At start the executor registers one deployment of the report flow per kind (no work pool, no
Prefect schedule). A cron job per kind (Asia/Shanghai, ``kinds.KINDS``) creates that deployment's
flow run for the period just ended and runs it in this process, in a thread, like a worker would:
the run, its task runs and its artifact are in Prefect as usual. The run's idempotency key is the
period, so a second trigger (a catch-up, another executor) gets the same run back: one Completed, or
Running for less than an hour (another executor's), is left alone; a Failed, Crashed or stale one is
run again. Every hour, and once at start, a
catch-up makes any period whose report is missing (the executor was down at its hour, or the run
failed): a few reads of our database, nothing in Prefect. Periods that ended before the first
suggestion are not caught up on.

Prefect's scheduler service stays off (jianyi/runtime/prefect_server.py): it would poll the
deployments table every minute and keep runs scheduled ahead for five deployments that make a few
dozen runs a year.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from uuid import UUID

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import StateType
from prefect.flow_engine import run_flow
from sqlalchemy import func, select

from jianyi.db import read_scope
from jianyi.executor import prefect_glue
from jianyi.flows.reports import periodic_report
from jianyi.models import Suggestion
from jianyi.models.base import utcnow
from jianyi.services.figures import Period
from jianyi.services.reports import freeze
from jianyi.services.reports.kinds import KINDS, SHANGHAI

log = logging.getLogger("jianyi.reports")
# A report's run still Running after this long was left by an executor that died: made again.
STALE = timedelta(hours=1)


async def ensure_deployments() -> dict[str, UUID]:
    """One deployment per kind, named after it (``periodic-report/weekly`` …)."""
    ids: dict[str, UUID] = {}
    for kind in KINDS.values():
        deployment = await periodic_report.ato_deployment(
            name=kind.name,
            parameters={"kind": kind.name},
            tags=["jianyi", "report"],
            description=f"{kind.title}: run by jianyi's executor at cron {kind.cron!r} (Asia/Shanghai)",
        )
        ids[kind.name] = await deployment.aapply()
    return ids


async def make(client: PrefectClient, deployment_id: UUID, kind: str, period: str) -> bool:
    """Create (or get back) the period's run and run it here; False if it had completed already."""
    run = await client.create_flow_run_from_deployment(
        deployment_id,
        parameters={"kind": kind, "period": period},
        name=f"{KINDS[kind].title} {period}",
        idempotency_key=f"{deployment_id}:{period}",
        tags=["jianyi", "report"],
    )
    state = run.state.type if run.state else None
    if state is StateType.COMPLETED:
        return False
    if state in (StateType.PENDING, StateType.RUNNING):
        started = run.start_time or (run.state.timestamp if run.state else None)
        if started is not None and utcnow() - started < STALE:
            return False  # another executor is making it
    if state is not StateType.SCHEDULED:  # Failed, Crashed, or left running by a dead executor
        await prefect_glue.reschedule(client, run.id, why="the report is made again")
        run = await client.read_flow_run(run.id)
    # A sync flow in a thread: rendering a PDF takes a second or two, the event loop must not wait.
    await asyncio.to_thread(run_flow, periodic_report, flow_run=run, parameters=run.parameters)
    return True


def missing(now: datetime) -> list[tuple[str, str]]:
    """The kinds whose last ended period has no report yet, leaving out periods that ended before
    the first suggestion came in (a new installation mails no empty reports of last year)."""
    with read_scope() as session:
        first = session.scalar(select(func.min(Suggestion.received_at)))
        if first is None:
            return []
        due = [(kind.name, kind.last_complete(now)) for kind in KINDS.values()]
        return [
            (k, p)
            for k, p in due
            if Period.parse(p).end > first and freeze.latest(session, kind=k, period=p) is None
        ]


def add_jobs(scheduler: AsyncIOScheduler, deployments: dict[str, UUID]) -> None:
    async def one(kind: str, period: str | None = None) -> None:
        period = period or KINDS[kind].last_complete(utcnow())
        try:
            async with get_client() as client:
                if await make(client, deployments[kind], kind, period):
                    log.info("made the %s report of %s", kind, period)
        except Exception:  # logged; the hourly catch-up tries again
            log.exception("the %s report of %s failed", kind, period)

    async def catch_up() -> None:
        for kind, period in await asyncio.to_thread(missing, utcnow()):
            await one(kind, period)

    for kind in KINDS.values():
        scheduler.add_job(
            one,
            CronTrigger.from_crontab(kind.cron, timezone=SHANGHAI),
            args=[kind.name],
            id=f"report-{kind.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    scheduler.add_job(
        catch_up,
        IntervalTrigger(hours=1),
        id="report-catch-up",
        next_run_time=utcnow(),  # once at start, then hourly
        max_instances=1,
        coalesce=True,
    )
