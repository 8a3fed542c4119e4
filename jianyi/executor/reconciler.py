"""The reconciler: each open case's flow run checked against the database, in the running system.

The database holds the case; Prefect's run only orchestrates it. They can come to disagree: a run
deleted or lost with a restored Prefect database (``run_missing``), a run ended while the case is
open (``finished_while_open``: a person completed it in the UI, a backup's two copies a moment
apart), a run suspended at a key the case no longer waits at (``stale_key``), a run Failed or
Crashed with nothing left to wake it (``failed``), a case whose run waits with no open step and no
outcome (``no_open_step``). A repair is what the executor does after a crash: a missing run is
forgotten, so a new one is started; any other run is scheduled again (``prefect_glue.reschedule``,
as ``jianyi runs resume`` does), and its attempt applies the case as stored and waits at a fresh
key. The same problem back on the same case within a day was not repaired: it is reported to the
handling office instead (jianyi.services.reconcile). Cancelled runs are left alone: a person put
the case on hold (``jianyi runs resume``). The executor runs it every few minutes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort

from jianyi.db import session_scope
from jianyi.executor import prefect_glue
from jianyi.models.base import utcnow
from jianyi.services import reconcile
from jianyi.services.reconcile import Candidate

log = logging.getLogger("jianyi.reconciler")
GRACE = timedelta(minutes=10)  # a case changed more recently may be mid-attempt: not judged yet
AGAIN = timedelta(days=1)  # the same problem back within this long is reported, not repaired again


@dataclass(frozen=True)
class Finding:
    suggestion_id: int
    flow_run_id: str
    problem: str
    repaired: bool


def problem_of(candidate: Candidate, run: FlowRun | None) -> str | None:
    """What is wrong between the case and its run, or None."""
    if run is None:
        return "run_missing"
    state = run.state.type if run.state is not None else None
    if state is StateType.COMPLETED:
        return "finished_while_open"
    if state in (StateType.FAILED, StateType.CRASHED):
        return "failed"
    if state is StateType.PAUSED:
        if not candidate.has_open_step:
            return "no_open_step"
        key = run.state.state_details.pause_key if run.state is not None else None
        if key != candidate.wait_key:
            return "stale_key"
    return None  # Scheduled, Pending, Running: the executor has it; Cancelled: a person's hold


async def _runs(client: PrefectClient, ids: list[str]) -> dict[str, FlowRun]:
    runs = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(i) for i in ids])),
        sort=FlowRunSort.ID_DESC,  # the client sends null without one, which the server refuses
        limit=len(ids),
    )
    return {str(run.id): run for run in runs}


def _candidates(grace: timedelta, now: datetime, database_url: str | None) -> list[Candidate]:
    with session_scope(database_url) as session:
        return reconcile.candidates(session, grace=grace, now=now)


def _decide(finding: Finding, now: datetime, database_url: str | None) -> bool:
    """Record the problem: True if it is to be repaired, False if it came back and is reported."""
    with session_scope(database_url) as session:
        back = reconcile.repaired_since(
            session, suggestion_id=finding.suggestion_id, problem=finding.problem, since=now - AGAIN
        )
        if back:
            reconcile.report(
                session,
                suggestion_id=finding.suggestion_id,
                problem=finding.problem,
                flow_run_id=finding.flow_run_id,
                now=now,
            )
            return False
        if finding.problem == "run_missing":
            reconcile.forget_missing_run(
                session, suggestion_id=finding.suggestion_id, flow_run_id=finding.flow_run_id
            )
        else:
            reconcile.repaired(
                session,
                suggestion_id=finding.suggestion_id,
                problem=finding.problem,
                flow_run_id=finding.flow_run_id,
                how="scheduled again",
            )
        return True


async def reconcile_runs(
    client: PrefectClient,
    *,
    grace: timedelta = GRACE,
    now: datetime | None = None,
    database_url: str | None = None,
    batch: int = 200,
) -> list[Finding]:
    """Check every still open case against its run; repair or report each disagreement."""
    now = now or utcnow()
    candidates = await asyncio.to_thread(_candidates, grace, now, database_url)
    findings: list[Finding] = []
    for start in range(0, len(candidates), batch):
        chunk = candidates[start : start + batch]
        runs = await _runs(client, [c.flow_run_id for c in chunk])
        for candidate in chunk:
            problem = problem_of(candidate, runs.get(candidate.flow_run_id))
            if problem is None:
                continue
            finding = Finding(candidate.suggestion_id, candidate.flow_run_id, problem, repaired=False)
            repair = await asyncio.to_thread(_decide, finding, now, database_url)
            if repair and problem != "run_missing":
                await prefect_glue.reschedule(
                    client, UUID(candidate.flow_run_id), why=f"reconciler: {problem}"
                )
            findings.append(Finding(finding.suggestion_id, finding.flow_run_id, problem, repaired=repair))
            log.warning(
                "suggestion %d, run %s: %s; %s",
                candidate.suggestion_id,
                candidate.flow_run_id,
                problem,
                "repaired" if repair else "reported to the office",
            )
    return findings


def add_job(scheduler: AsyncIOScheduler, *, every: timedelta = timedelta(minutes=5)) -> None:
    async def job() -> None:
        async with get_client() as client:
            await reconcile_runs(client)

    scheduler.add_job(
        job,
        IntervalTrigger(seconds=every.total_seconds()),
        id="reconciler",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC) + GRACE,  # not at start: the executor recovers its own first
    )
