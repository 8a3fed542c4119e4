"""The few Prefect calls the executor makes, in one place: register the deployment, create, resume
and re-schedule flow runs, and list the runs ready to execute."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import SettingsContext, get_settings_context
from prefect.exceptions import PrefectHTTPStatusError
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, Settings
from prefect.states import Pending, Scheduled

from jianyi.flows.lifecycle import suggestion_lifecycle


async def ensure_deployment(name: str) -> UUID:
    """Register (or update) the lifecycle deployment. No work pool: our executor runs it in-process."""
    deployment = await suggestion_lifecycle.ato_deployment(name=name, tags=["jianyi"])
    return await deployment.aapply()


async def create_run(client: PrefectClient, *, deployment_id: UUID, suggestion_id: int, name: str) -> UUID:
    # The idempotency key makes a retry after a crash return the run created before it. Prefect scopes
    # keys by flow, not by deployment: the deployment is in the key so that two installations sharing
    # a Prefect server (their suggestion ids overlap) never get each other's runs.
    run = await client.create_flow_run_from_deployment(
        deployment_id,
        parameters={"suggestion_id": suggestion_id},
        name=name,
        idempotency_key=f"{deployment_id}:suggestion-{suggestion_id}",
        tags=["jianyi"],
    )
    return run.id


async def ready_runs(client: PrefectClient, *, deployment_id: UUID, limit: int) -> list[FlowRun]:
    """Scheduled runs of the deployment that are due: new ones and resumed ones ("Resuming")."""
    return await client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
            next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(before_=datetime.now(UTC)),
        ),
        sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
        limit=limit,
    )


async def crashed_runs(client: PrefectClient, *, deployment_id: UUID, limit: int) -> list[FlowRun]:
    return await client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))
        ),
        sort=FlowRunSort.ID_DESC,  # the client sends null without one, which the server refuses
        limit=limit,
    )


async def claim(client: PrefectClient, run_id: UUID) -> bool:
    """Move a scheduled run to Pending; only one claimant can win (the orchestrator decides)."""
    result: OrchestrationResult[Any] = await client.set_flow_run_state(run_id, Pending())
    return result.status is SetStateStatus.ACCEPT


# On SQLite, Prefect's resume endpoint reads the run, validates the input against its schema (tens of
# milliseconds of CPU) and then writes, in a deferred transaction: any write committed meanwhile (another
# run's state, a batch of events) makes it fail at once with "database is locked", answered 503, having
# changed nothing. The client's own retry would wait 2 s, then 4 s, holding up every wake behind it;
# what the conflict needs is another try straight away.
RESUME_TRIES = 8


@cache
def _settings_without_client_retries() -> Settings:
    return get_settings_context().settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0})


async def resume(client: PrefectClient, run_id: UUID, run_input: dict[str, Any]) -> tuple[bool, str]:
    for attempt in range(1, RESUME_TRIES + 1):
        try:
            context = get_settings_context()
            with SettingsContext(profile=context.profile, settings=_settings_without_client_retries()):
                result = await client.resume_flow_run(run_id, run_input=run_input)
            break
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code != 503 or attempt == RESUME_TRIES:
                raise
            await asyncio.sleep(
                random.uniform(0.01, 0.05) * attempt
            )  # jittered, growing: a burst of writes passes
    if result.status is SetStateStatus.ACCEPT:
        return True, "resumed"
    reason = getattr(result.details, "reason", None) or result.status.value
    return False, str(reason)


async def reschedule(client: PrefectClient, run_id: UUID, *, why: str) -> None:
    """Force a run whose attempt died (executor killed, run crashed) back to Scheduled to re-run it."""
    await client.set_flow_run_state(run_id, Scheduled(name="Recovering", message=why), force=True)
