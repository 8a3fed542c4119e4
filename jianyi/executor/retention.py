"""Retention of Prefect's records of closed suggestions: their flow runs are deleted a month after.

A finished suggestion leaves its events and its flow run in the Prefect database (sizes:
docs/performance.md). Prefect's events vacuum deletes the events after
PREFECT_SERVER_EVENTS_RETENTION_PERIOD (7 days in jianyi); the flow run (states, one input schema per
wait, task runs, logs) would stay forever. Our database keeps the case, its steps and its audit for
good, so Prefect's copy is only the UI's history of the run: after a month it can go.

``prune_finished_runs`` deletes, through the Prefect API, the Completed runs of our deployment that ended
before the cutoff, and only those whose suggestion is closed in our database. Prefect's own flow-run
vacuum (PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED with ``flow_runs``) is not used: it deletes every
terminal run, Failed and Crashed ones too, and a Failed run of a suggestion still waiting would be gone
when its step is completed. Each deletion is audited on the case. Deleting a run deletes its task runs,
states and inputs with it, and its logs a moment later (a background task of the server, lost if the
server stops first): ``PREFECT_SERVER_ENV`` turns on Prefect's daily orphan vacuum, which catches those.

The executor runs ``prune_finished_runs`` hourly (``JIANYI_PREFECT_RUN_RETENTION_DAYS``, 30 by default;
0 keeps every run), and the Prefect servers jianyi starts run with ``PREFECT_SERVER_ENV``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound
from sqlalchemy import select

from jianyi.db import session_scope
from jianyi.models import Suggestion
from jianyi.models.base import utcnow
from jianyi.runtime.prefect_server import VACUUM_SERVICES
from jianyi.services import audit
from jianyi.services.actors import EXECUTOR

log = logging.getLogger("jianyi.retention")

PRUNE_AFTER = timedelta(days=30)
# What the Prefect server's environment needs for the logs of deleted runs to go too.
PREFECT_SERVER_ENV = VACUUM_SERVICES


@dataclass(frozen=True)
class Pruned:
    suggestion_id: int
    flow_run_id: str


def closed_cases(flow_run_ids: list[str], database_url: str | None = None) -> dict[str, int]:
    """Of these flow runs, those whose suggestion is closed: flow run id → suggestion id."""
    with session_scope(database_url) as session:
        rows = session.execute(
            select(Suggestion.flow_run_id, Suggestion.id).where(
                Suggestion.flow_run_id.in_(flow_run_ids), Suggestion.closed_at.is_not(None)
            )
        ).all()
    return {str(run_id): suggestion_id for run_id, suggestion_id in rows}


def record(pruned: list[Pruned], cutoff: datetime, database_url: str | None = None) -> None:
    with session_scope(database_url) as session:
        for item in pruned:
            audit.record(
                session,
                actor=EXECUTOR,
                action="flow_run.pruned",
                suggestion_id=item.suggestion_id,
                detail={"flow_run_id": item.flow_run_id, "ended_before": cutoff.isoformat()},
            )


async def prune_finished_runs(
    client: PrefectClient,
    *,
    deployment_id: UUID,
    older_than: timedelta = PRUNE_AFTER,
    now: datetime | None = None,
    batch: int = 200,
    database_url: str | None = None,
) -> list[Pruned]:
    """Delete the Completed runs of the deployment that ended before ``now - older_than`` and whose
    suggestion is closed. Returns what was deleted; a second call right after deletes nothing."""
    cutoff = (now or utcnow()) - older_than
    pruned: list[Pruned] = []
    passed: list[UUID] = []  # Completed runs of cases still open here (should not happen): left alone
    while True:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(not_any_=passed) if passed else None,
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])),
                end_time=FlowRunFilterEndTime(before_=cutoff),
            ),
            sort=FlowRunSort.ID_DESC,  # the client sends null without one, which the server refuses
            limit=batch,
        )
        if not runs:
            return pruned
        closed = await asyncio.to_thread(closed_cases, [str(r.id) for r in runs], database_url)
        done: list[Pruned] = []
        for run in runs:
            if str(run.id) not in closed:
                log.warning("run %s is Completed but its suggestion is not closed: kept", run.id)
                passed.append(run.id)
                continue
            with contextlib.suppress(ObjectNotFound):  # deleted meanwhile (the UI, another executor)
                await client.delete_flow_run(run.id)
            done.append(Pruned(closed[str(run.id)], str(run.id)))
        await asyncio.to_thread(record, done, cutoff, database_url)
        pruned.extend(done)


def add_job(
    scheduler: AsyncIOScheduler,
    *,
    deployment_id: UUID,
    older_than: timedelta = PRUNE_AFTER,
    every: timedelta = timedelta(hours=1),
) -> None:
    """Prune once an hour (a few runs each time, however many suggestions close in a day)."""

    async def prune_job() -> None:
        async with get_client() as client:
            pruned = await prune_finished_runs(client, deployment_id=deployment_id, older_than=older_than)
        if pruned:
            log.info(
                "deleted the Prefect flow runs of %d suggestion(s) closed before the retention", len(pruned)
            )

    scheduler.add_job(
        prune_job,
        IntervalTrigger(seconds=every.total_seconds()),
        id="prefect-retention",
        max_instances=1,
        coalesce=True,
    )
