"""The Prefect behaviours the executor relies on, pinned against a real Prefect server (3.9.1).

The executor runs each attempt of a suggestion's flow run with a few client calls instead of
Prefect's engine (``jianyi/executor/prefect_glue.py`` and the executor's suspender): it proposes
``Running`` (from Suspended that is the resume, from Scheduled the start), saves the wait's input
schema with ``RunInput.asave(keyset, flow_run_id=)`` at ``keyset_from_paused_state``'s keys, and
proposes ``Suspended(pause_key=…)`` with ``state_details.run_input_keyset``. What it may rely on is
what Prefect's orchestration rules answer. These tests make the same calls, with the real client, on
runs of a deployment registered for the test, so they do not change when the executor's modules are
reorganised. Each assertion names the Prefect internal it pins (most are rules of
``prefect.server.orchestration.core_policy.CoreFlowPolicy``): when an upgrade breaks one, that is the
place to read, and the executor may have to change with it.

What Prefect does:
- ``Running`` is accepted from Scheduled (a start) and from Suspended (the resume);
- ``Running`` is refused from Completed only when that state carries a persisted result; the
  executor's own ``Completed(message="closed")`` carries none, so ``Running`` is accepted after it;
- ``Running`` is ACCEPTED from Cancelled, Failed and Crashed: nothing in Prefect stops an attempt from
  resuming a run cancelled through its UI or API. Only ``Cancelling`` (a run cancelled while Running)
  refuses it, and so does Prefect's own resume endpoint, which refuses any run that is not paused;
- since 3.9, accepting a pause deletes the inputs stored at the state's ``run_input_keyset``: a schema
  saved before the Suspended state is gone once it is accepted. Saved after it (the order of Prefect's
  own ``suspend_flow_run``), it is what Prefect's resume endpoint validates a run input against, and
  until it is saved that endpoint refuses the resume;
- a suspension at a key that has already fired is refused with the run's current (Running) state,
  which the executor reads as "already fired"; the schema saved at that keyset stays (``asave`` there
  again answers 409), and a forced re-schedule keeps the fired keys.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from uuid import UUID

import prefect
import pytest
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterNextScheduledStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import PrefectHTTPStatusError
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_paused_state
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import (
    Cancelled,
    Cancelling,
    Completed,
    Crashed,
    Failed,
    Pending,
    Running,
    Scheduled,
    State,
    Suspended,
)
from pydantic import BaseModel

from jianyi.runtime.prefect_server import PrefectServer

pytestmark = pytest.mark.e2e

T = TypeVar("T")
_keys = itertools.count(1)


class Rating(BaseModel):
    rating: Literal["satisfied", "basically_satisfied", "not_satisfied"]


class StepCompleted(RunInput):
    """The shape of a wait's input (``jianyi.tasks.attempt.completion_input``) for one rating step."""

    step_id: int
    kind: Literal["rating"]
    data: Rating | None = None


VALID_INPUT = {"step_id": 7, "kind": "rating", "data": {"rating": "satisfied"}}
INVALID_INPUTS = (
    {},
    {"step_id": 7, "kind": "triage", "data": None},
    {"step_id": "seven", "kind": "rating", "data": None},
    {"step_id": 7, "kind": "rating", "data": {"rating": "meh"}},
)


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Prefect server for the module. ``RunInput.asave`` finds it through PREFECT_API_URL,
    as the executor's does."""
    server = PrefectServer(tmp_path_factory.mktemp("prefect-contract"), ui=False).start()
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployment_id(prefect_api: str) -> UUID:
    async def register(client: PrefectClient) -> UUID:
        flow_id = await client.create_flow_from_name("prefect-contract")
        return await client.create_deployment(flow_id, name="contract")

    return run_with_client(prefect_api, register)


def run_with_client(prefect_api: str, scenario: Callable[[PrefectClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with PrefectClient(prefect_api) as client:
            return await scenario(client)

    return asyncio.run(main())


# --- the executor's calls, as it makes them --------------------------------------------------------


async def new_run(client: PrefectClient, deployment_id: UUID) -> UUID:
    run = await client.create_flow_run_from_deployment(deployment_id, parameters={}, tags=["jianyi"])
    assert run.state is not None and run.state.type is StateType.SCHEDULED
    return run.id


async def propose_running(client: PrefectClient, run_id: UUID) -> OrchestrationResult[Any]:
    """``prefect_glue.start_attempt``: the resume from Suspended, the start from Scheduled."""
    return await client.set_flow_run_state(run_id, Running(message="attempt"))


def suspended_state(key: str | None = None) -> State[Any]:
    """The executor's Suspended: at the wait's key, with the keyset of the wait's input on it."""
    state: State[Any] = Suspended(pause_key=key or fresh_key(), message="waiting for a rating")
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
    return state


async def suspend(client: PrefectClient, run_id: UUID, key: str | None = None) -> OrchestrationResult[Any]:
    """A suspension: Suspended at the key, then, once accepted, the wait's schema at its keyset. The
    order of Prefect's own ``suspend_flow_run``; the other order loses the schema (see
    ``test_a_schema_saved_before_the_suspension_is_deleted_by_it``)."""
    state = suspended_state(key)
    result = await client.set_flow_run_state(run_id, state)
    if result.status is SetStateStatus.ACCEPT:
        await StepCompleted.asave(keyset_from_paused_state(state), flow_run_id=run_id)
    return result


def already_fired(result: OrchestrationResult[Any]) -> bool:
    """How the executor reads a refused suspension: refused with the run still Running."""
    return (
        result.status is not SetStateStatus.ACCEPT and result.state is not None and result.state.is_running()
    )


async def reschedule(client: PrefectClient, run_id: UUID) -> None:
    """``prefect_glue.reschedule``: a dead run forced back to Scheduled to re-run it."""
    result = await client.set_flow_run_state(run_id, Scheduled(name="Recovering"), force=True)
    assert result.status is SetStateStatus.ACCEPT


async def ready(client: PrefectClient, deployment_id: UUID, run_id: UUID) -> bool:
    """Whether ``prefect_glue.ready_runs`` (due Scheduled runs of the deployment) lists the run."""
    runs = await client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
            next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(before_=datetime.now(UTC)),
        ),
        sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,  # the client sends null without one: refused
        limit=200,
    )
    return run_id in {run.id for run in runs}


def fresh_key() -> str:
    return f"contract-key-{next(_keys)}"


def reason(result: OrchestrationResult[Any]) -> str:
    return str(getattr(result.details, "reason", None) or result.status.value)


async def running_run(client: PrefectClient, deployment_id: UUID) -> UUID:
    run_id = await new_run(client, deployment_id)
    assert (await propose_running(client, run_id)).status is SetStateStatus.ACCEPT
    return run_id


async def suspended_run(client: PrefectClient, deployment_id: UUID, key: str | None = None) -> UUID:
    run_id = await running_run(client, deployment_id)
    result = await suspend(client, run_id, key)
    assert result.status is SetStateStatus.ACCEPT, reason(result)
    return run_id


async def state_of(client: PrefectClient, run_id: UUID) -> State[Any]:
    run = await client.read_flow_run(run_id)
    assert run.state is not None
    return run.state


# --- 1, 2: Running starts a Scheduled run and resumes a Suspended one -------------------------------


def test_a_scheduled_run_accepts_running(prefect_api: str, deployment_id: UUID) -> None:
    async def scenario(client: PrefectClient) -> None:
        run_id = await new_run(client, deployment_id)
        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, f"core_policy.WaitForScheduledTime: {reason(result)}"
        assert (await state_of(client, run_id)).type is StateType.RUNNING

    run_with_client(prefect_api, scenario)


def test_a_suspended_run_accepts_running_as_its_resume(prefect_api: str, deployment_id: UUID) -> None:
    async def scenario(client: PrefectClient) -> None:
        run_id = await suspended_run(client, deployment_id)
        state = await state_of(client, run_id)
        assert (state.type, state.name) == (StateType.PAUSED, "Suspended")
        assert state.state_details.pause_reschedule is True, "prefect.states.Suspended (reschedule=True)"

        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, (
            f"core_policy.HandleResumingPausedFlows (Paused → Running): {reason(result)}"
        )
        run = await client.read_flow_run(run_id)
        assert run.state is not None and run.state.type is StateType.RUNNING
        assert run.empirical_policy.resuming is True, "core_policy.HandleResumingPausedFlows.after_transition"

    run_with_client(prefect_api, scenario)


# --- 3: Running from the terminal states, and cancellation -----------------------------------------


def test_completed_with_a_persisted_result_refuses_running(prefect_api: str, deployment_id: UUID) -> None:
    """Completed as Prefect's engine ends a ``persist_result=True`` flow: with its result's metadata."""

    async def scenario(client: PrefectClient) -> None:
        run_id = await running_run(client, deployment_id)
        state = Completed(message="closed").model_dump(mode="json", include={"type", "name", "message"})
        state["data"] = {  # prefect.results.ResultRecordMetadata, as the engine sends it
            "storage_key": f"contract-result-{run_id}",
            "expiration": None,
            "serializer": {"type": "json"},
            "prefect_version": prefect.__version__,
            "storage_block_id": None,
        }
        response = await client._client.post(f"/flow_runs/{run_id}/set_state", json={"state": state})
        assert response.json()["status"] == "ACCEPT", response.text

        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.REJECT, "core_policy.HandleFlowTerminalStateTransitions"
        assert reason(result) == "Run is already COMPLETED.", "core_policy.HandleFlowTerminalStateTransitions"
        assert (await state_of(client, run_id)).type is StateType.COMPLETED

    run_with_client(prefect_api, scenario)


def test_completed_as_the_executor_closes_a_run_accepts_running(
    prefect_api: str, deployment_id: UUID
) -> None:
    """The executor closes a run with ``Completed(message="closed")``: no result, so
    ``prefect.states.to_state_create`` sends ``data=None``, and HandleFlowTerminalStateTransitions
    refuses to leave Completed only if ``core_policy._has_persisted_result(initial_state.data)``.
    Prefect does not keep such a run closed: only the executor can."""

    async def scenario(client: PrefectClient) -> None:
        run_id = await running_run(client, deployment_id)
        result = await client.set_flow_run_state(run_id, Completed(message="closed"))
        assert result.status is SetStateStatus.ACCEPT
        state = await state_of(client, run_id)
        assert (state.type, state.data) == (StateType.COMPLETED, None), "prefect.states.to_state_create"

        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, (
            "Completed without a persisted result → Running "
            f"(core_policy.HandleFlowTerminalStateTransitions, _has_persisted_result): {reason(result)}"
        )
        assert (await state_of(client, run_id)).type is StateType.RUNNING

    run_with_client(prefect_api, scenario)


def test_a_suspended_run_cancelled_in_prefect_accepts_running(prefect_api: str, deployment_id: UUID) -> None:
    """The issue "a run cancelled through Prefect's API was resumed by the next completion": Prefect
    accepts Running from Cancelled. Its refusals are elsewhere: Pending, and its own resume endpoint."""

    async def scenario(client: PrefectClient) -> None:
        run_id = await suspended_run(client, deployment_id)
        # Prefect's UI and `prefect flow-run cancel` propose Cancelling; a Suspended run has no
        # infrastructure, so the server answers with Cancelled and records that instead.
        result = await client.set_flow_run_state(run_id, Cancelling())
        assert result.status is SetStateStatus.REJECT, "core_policy.BypassCancellingFlowRunsWithNoInfra"
        assert result.state is not None and result.state.type is StateType.CANCELLED
        assert (await state_of(client, run_id)).type is StateType.CANCELLED

        # Prefect's own resume refuses it (prefect.server.api.flow_runs.resume_flow_run: "not paused") ...
        resumed = await client.resume_flow_run(run_id, run_input=VALID_INPUT)
        assert resumed.status is SetStateStatus.ABORT, "prefect.server.api.flow_runs.resume_flow_run"
        assert reason(resumed) == "Cannot resume a flow run that is not paused."
        # ... and so does a claim through Pending (core_policy.PreventPendingTransitions) ...
        pending = await client.set_flow_run_state(run_id, Pending())
        assert pending.status is SetStateStatus.ABORT, "core_policy.PreventPendingTransitions"

        # ... but Running is ACCEPTED: HandleFlowTerminalStateTransitions lets a run leave Cancelled
        # for Running (and clears its fired pause keys); HandleResumingPausedFlows no longer applies.
        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, (
            f"Cancelled → Running (core_policy.HandleFlowTerminalStateTransitions): {reason(result)}"
        )
        run = await client.read_flow_run(run_id)
        assert run.state is not None and run.state.type is StateType.RUNNING
        assert not run.empirical_policy.pause_keys, "HandleFlowTerminalStateTransitions resets pause_keys"

    run_with_client(prefect_api, scenario)


@pytest.mark.parametrize("before", ["scheduled", "suspended"])
def test_cancelled_through_set_state_accepts_running(
    prefect_api: str, deployment_id: UUID, before: str
) -> None:
    """``client.set_flow_run_state(id, Cancelled())`` is accepted from Scheduled and from Suspended
    (HandleResumingPausedFlows lets a paused run go to any final state); Running after it too."""

    async def scenario(client: PrefectClient) -> None:
        run_id = await (new_run if before == "scheduled" else suspended_run)(client, deployment_id)
        result = await client.set_flow_run_state(run_id, Cancelled(message="cancelled by a person"))
        assert result.status is SetStateStatus.ACCEPT, "core_policy.HandleResumingPausedFlows (to final)"
        assert (await state_of(client, run_id)).type is StateType.CANCELLED

        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, (
            f"Cancelled → Running (core_policy.HandleFlowTerminalStateTransitions): {reason(result)}"
        )
        assert (await state_of(client, run_id)).type is StateType.RUNNING

    run_with_client(prefect_api, scenario)


def test_a_run_cancelled_mid_attempt_is_cancelling_and_refuses_running_and_suspended(
    prefect_api: str, deployment_id: UUID
) -> None:
    """Cancelled while an attempt runs: Running → Cancelling is not bypassed (the run might have
    infrastructure), and Cancelling refuses both the attempt's Suspended (which the executor raises
    as refused: the returned state is not Running) and a later Running. Nothing but a Cancelled
    ends it (the cancellation-cleanup service, or a person)."""

    async def scenario(client: PrefectClient) -> None:
        run_id = await running_run(client, deployment_id)
        result = await client.set_flow_run_state(run_id, Cancelling())
        assert result.status is SetStateStatus.ACCEPT
        assert (await state_of(client, run_id)).type is StateType.CANCELLING

        cancelling_refuses = "Cannot transition flows that are cancelling to a state other than Cancelled."
        result = await suspend(client, run_id)
        assert result.status is SetStateStatus.REJECT, "core_policy.EnforceCancellingToCancelledTransition"
        assert reason(result) == cancelling_refuses, "core_policy.EnforceCancellingToCancelledTransition"
        assert not already_fired(result) and result.state is not None
        assert result.state.type is StateType.CANCELLING

        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.REJECT, "core_policy.EnforceCancellingToCancelledTransition"
        assert reason(result) == cancelling_refuses, "core_policy.EnforceCancellingToCancelledTransition"
        assert (await state_of(client, run_id)).type is StateType.CANCELLING

        result = await client.set_flow_run_state(run_id, Cancelled())
        assert result.status is SetStateStatus.ACCEPT

    run_with_client(prefect_api, scenario)


@pytest.mark.parametrize("dead", [StateType.FAILED, StateType.CRASHED])
def test_failed_and_crashed_runs_accept_running_and_a_forced_reschedule(
    prefect_api: str, deployment_id: UUID, dead: StateType
) -> None:
    async def scenario(client: PrefectClient) -> None:
        # Failed as the executor proposes it when advance fails for good; Crashed as Prefect's engine does.
        run_id = await running_run(client, deployment_id)
        end = Failed(message="advance failed") if dead is StateType.FAILED else Crashed(message="killed")
        result = await client.set_flow_run_state(run_id, end)
        # No retries on the deployment: core_policy.RetryFailedFlows leaves Failed as it is.
        assert result.status is SetStateStatus.ACCEPT, "core_policy.RetryFailedFlows"
        assert (await state_of(client, run_id)).type is dead

        # Running straight from a dead state is accepted (HandleFlowTerminalStateTransitions) ...
        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, (
            f"{dead.value} → Running (core_policy.HandleFlowTerminalStateTransitions): {reason(result)}"
        )

        # ... and so is the executor's re-run: a forced Scheduled "Recovering" (MinimalFlowPolicy),
        # due at once, then Running.
        result = await client.set_flow_run_state(run_id, end, force=True)
        assert result.status is SetStateStatus.ACCEPT
        if dead is StateType.CRASHED:
            crashed = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))
                ),
                sort=FlowRunSort.ID_DESC,
                limit=200,
            )
            assert run_id in {run.id for run in crashed}, "prefect_glue.crashed_runs' filter"
        await reschedule(client, run_id)
        state = await state_of(client, run_id)
        assert (state.type, state.name) == (StateType.SCHEDULED, "Recovering"), (
            "force=True: MinimalFlowPolicy"
        )
        assert await ready(client, deployment_id, run_id), "Scheduled(): scheduled_time defaults to now"
        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, reason(result)

    run_with_client(prefect_api, scenario)


# --- 4: the wait's input schema, and a resume through Prefect's own API ----------------------------


def test_a_schema_saved_before_the_suspension_is_deleted_by_it(prefect_api: str, deployment_id: UUID) -> None:
    """Prefect 3.9 (core_policy.HandlePausingFlows.after_transition): "the pause key has not fired on
    this attempt, so any input stored under its keyset belongs to an earlier attempt" and is deleted
    when the pause is accepted. A schema saved before the Suspended state is lost, and Prefect's
    resume of that run is refused for good ("Run input schema not found")."""

    async def scenario(client: PrefectClient) -> None:
        run_id = await running_run(client, deployment_id)
        state = suspended_state()
        keyset = keyset_from_paused_state(state)
        await StepCompleted.asave(keyset, flow_run_id=run_id)
        assert await client.read_flow_run_input(run_id, keyset["schema"])
        assert (await client.set_flow_run_state(run_id, state)).status is SetStateStatus.ACCEPT

        with pytest.raises(PrefectHTTPStatusError) as missing:
            await client.read_flow_run_input(run_id, keyset["schema"])
        assert missing.value.response.status_code == 404, "core_policy.HandlePausingFlows.after_transition"
        result = await client.resume_flow_run(run_id, run_input=VALID_INPUT)
        assert result.status is SetStateStatus.REJECT, (
            "resume_flow_run: read_flow_run_input(keyset['schema'])"
        )
        assert reason(result) == "Run input schema not found."

    run_with_client(prefect_api, scenario)


def test_the_waits_schema_saved_after_the_suspension_is_what_prefects_resume_validates(
    prefect_api: str, deployment_id: UUID
) -> None:
    async def scenario(client: PrefectClient) -> None:
        key = fresh_key()
        run_id = await running_run(client, deployment_id)
        result = await client.set_flow_run_state(run_id, suspended_state(key))
        assert result.status is SetStateStatus.ACCEPT, reason(result)
        state = await state_of(client, run_id)
        keyset = keyset_from_paused_state(state)  # prefect.input.run_input.keyset_from_paused_state
        assert keyset["schema"] == f"suspended-{key}-schema", "keyset_from_paused_state's key scheme"
        # The keyset stored on the state is the one Prefect derives from it (what resume_flow_run reads).
        assert state.state_details.run_input_keyset == {str(k): v for k, v in keyset.items()}

        # Until the schema is saved, Prefect's resume is refused: never accepted unvalidated.
        result = await client.resume_flow_run(run_id, run_input=VALID_INPUT)
        assert result.status is SetStateStatus.REJECT, (
            "resume_flow_run: read_flow_run_input(keyset['schema'])"
        )
        assert reason(result) == "Run input schema not found."

        # RunInput.asave stores the model's JSON schema at the keyset's schema key ...
        await StepCompleted.asave(keyset, flow_run_id=run_id)
        schema = json.loads(await client.read_flow_run_input(run_id, keyset["schema"]))
        assert {"step_id", "kind", "data"} <= set(schema["properties"]), "prefect.input.RunInput.asave"

        # ... which prefect.server.api.flow_runs.resume_flow_run validates the input against ...
        for invalid in INVALID_INPUTS:
            result = await client.resume_flow_run(run_id, run_input=invalid)
            assert result.status is SetStateStatus.REJECT, f"resume_flow_run accepted {invalid}"
            assert (await state_of(client, run_id)).type is StateType.PAUSED

        # ... and a valid one resumes a Suspended (pause_reschedule) run to Scheduled "Resuming", due
        # at once, with the input kept at the keyset's response key: the executor's ready runs.
        result = await client.resume_flow_run(run_id, run_input=VALID_INPUT)
        assert result.status is SetStateStatus.ACCEPT, reason(result)
        state = await state_of(client, run_id)
        assert (state.type, state.name) == (StateType.SCHEDULED, "Resuming"), "resume_flow_run (reschedule)"
        assert json.loads(await client.read_flow_run_input(run_id, keyset["response"])) == VALID_INPUT
        assert await ready(client, deployment_id, run_id)
        result = await propose_running(client, run_id)
        assert result.status is SetStateStatus.ACCEPT, reason(result)

    run_with_client(prefect_api, scenario)


# --- 5: a pause key that has already fired --------------------------------------------------------


def test_suspending_again_at_a_fired_key_is_refused_with_the_running_state(
    prefect_api: str, deployment_id: UUID
) -> None:
    async def scenario(client: PrefectClient) -> None:
        key = fresh_key()
        run_id = await suspended_run(client, deployment_id, key)
        assert (await propose_running(client, run_id)).status is SetStateStatus.ACCEPT

        state = suspended_state(key)
        result = await client.set_flow_run_state(run_id, state)
        assert result.status is SetStateStatus.REJECT, "core_policy.HandlePausingFlows (pause_keys)"
        assert reason(result) == "This suspend has already fired.", "core_policy.HandlePausingFlows"
        # reject_transition(state=None): the answer carries the run's current state, Running.
        assert already_fired(result), "BaseOrchestrationRule.reject_transition(state=None)"
        assert (await state_of(client, run_id)).type is StateType.RUNNING

        # A refused pause deletes nothing (after_transition runs only once accepted): the schema the
        # first suspension saved is still there, and saving at that keyset again answers 409, as flow
        # run inputs are unique by key (prefect.server.api.flow_runs.create_flow_run_input).
        keyset = keyset_from_paused_state(state)
        assert await client.read_flow_run_input(run_id, keyset["schema"]), "HandlePausingFlows (rejected)"
        with pytest.raises(PrefectHTTPStatusError) as conflict:
            await StepCompleted.asave(keyset, flow_run_id=run_id)
        assert conflict.value.response.status_code == 409, "flow_runs.create_flow_run_input (unique key)"

        result = await suspend(client, run_id)  # a fresh key
        assert result.status is SetStateStatus.ACCEPT, reason(result)

    run_with_client(prefect_api, scenario)


def test_a_forced_reschedule_keeps_the_fired_keys(prefect_api: str, deployment_id: UUID) -> None:
    """A forced Scheduled (MinimalFlowPolicy) skips HandleFlowTerminalStateTransitions, which clears
    pause_keys when a run leaves a terminal state: a re-run attempt must suspend at a fresh key."""

    async def scenario(client: PrefectClient) -> None:
        key = fresh_key()
        run_id = await suspended_run(client, deployment_id, key)
        assert (await propose_running(client, run_id)).status is SetStateStatus.ACCEPT
        assert (
            await client.set_flow_run_state(run_id, Crashed(), force=True)
        ).status is SetStateStatus.ACCEPT
        await reschedule(client, run_id)
        assert (await propose_running(client, run_id)).status is SetStateStatus.ACCEPT
        run = await client.read_flow_run(run_id)
        assert key in (run.empirical_policy.pause_keys or set()), "force=True skips CoreFlowPolicy"
        assert already_fired(await client.set_flow_run_state(run_id, suspended_state(key)))

    run_with_client(prefect_api, scenario)


def test_suspended_is_refused_unless_the_run_is_running(prefect_api: str, deployment_id: UUID) -> None:
    async def scenario(client: PrefectClient) -> None:
        run_id = await new_run(client, deployment_id)
        result = await suspend(client, run_id)
        assert result.status is SetStateStatus.REJECT, "core_policy.HandlePausingFlows"
        assert reason(result) == "Cannot suspend flows that are not currently running."
        assert not already_fired(result)
        assert result.state is not None and result.state.type is StateType.SCHEDULED

    run_with_client(prefect_api, scenario)
