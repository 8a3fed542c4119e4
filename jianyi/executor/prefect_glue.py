"""The few Prefect calls the executor makes around its attempts, in one place: register the deployment,
create, start (or resume) and re-schedule flow runs, and list the runs ready to execute."""

from __future__ import annotations

from datetime import UTC, datetime
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
from prefect.states import Running, Scheduled

from jianyi.errors import Conflict
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


# States from which Prefect would accept Running but the suggestion's run must not go on: a person
# cancelled it, or it ended (tests/contract pins that Prefect accepts Running from both).
NOT_TO_RESUME = frozenset({StateType.CANCELLED, StateType.CANCELLING, StateType.COMPLETED})


async def start_attempt(
    client: PrefectClient, run_id: UUID, *, message: str, resuming: bool
) -> tuple[bool, str]:
    """Propose Running: from Suspended it resumes the run, from Scheduled it starts it. A run being
    resumed for a completed step is read first: Prefect accepts Running from Cancelled and from a
    Completed state without a result, so a cancelled or finished run is refused here, with the
    reason. The message names the attempt (its stage, the steps it applies) in the run's timeline."""
    if resuming:
        run = await client.read_flow_run(run_id)
        if run.state is not None and run.state.type in NOT_TO_RESUME:
            return False, f"the run is {run.state.type.value}"
    result: OrchestrationResult[Any] = await client.set_flow_run_state(run_id, Running(message=message))
    if result.status is SetStateStatus.ACCEPT:
        return True, "running"
    return False, refusal_reason(result)


def refusal_reason(result: OrchestrationResult[Any]) -> str:
    """Why the orchestrator did not accept a proposed state, as it says it."""
    return str(getattr(result.details, "reason", None) or result.status.value)


async def reschedule(client: PrefectClient, run_id: UUID, *, why: str) -> None:
    """Force a run whose attempt died (executor killed, run crashed) back to Scheduled to re-run it."""
    await client.set_flow_run_state(run_id, Scheduled(name="Recovering", message=why), force=True)


async def reschedule_cancelled(client: PrefectClient, run_id: UUID, *, why: str) -> str:
    """Schedule a cancelled run again (``jianyi runs resume``: the executor then attempts it); the
    state it was in. Refused (409) when the run is not cancelled: waiting, running or cancelling."""
    run = await client.read_flow_run(run_id)
    state = run.state.type if run.state is not None else None
    if state is not StateType.CANCELLED:
        raise Conflict(f"flow run {run_id} is {state.value if state else 'without a state'}, not cancelled")
    # Forced: Prefect keeps a cancelled run cancelled. The attempt it leads to is idempotent.
    await client.set_flow_run_state(run_id, Scheduled(name="Resuming", message=why[:500]), force=True)
    return state.value
