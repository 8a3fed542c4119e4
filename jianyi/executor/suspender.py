"""The executor's side of an attempt (``jianyi.tasks.attempt``): the Prefect calls a human step needs.

The executor has already proposed Running (``prefect_glue.start_attempt``): from Suspended that is
the resume. Then, after ``advance``: Suspended at the wait's key and the wait's input schema, or
Completed once the case is closed, or Failed. Prefect's orchestration rules judge each one, as
for any run; ``tests/contract`` pins the rules this relies on.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractAsyncContextManager
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.input import RunInput
from prefect.input.run_input import Keyset, keyset_from_paused_state
from prefect.states import Cancelled, Completed, Failed, State, Suspended

from jianyi.executor.prefect_glue import refusal_reason
from jianyi.services.lifecycle.engine import WaitPoint
from jianyi.tasks.attempt import AttemptRefused, describe_wait


class ClientSuspender:
    """Suspends, completes or fails one run through the client. ``writes`` is held around each
    write to Prefect (the executor's limit on those in flight)."""

    def __init__(
        self,
        client: PrefectClient,
        run_id: UUID,
        *,
        writes: AbstractAsyncContextManager[object] | None = None,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.writes = writes or contextlib.nullcontext()

    async def suspend(self, wait: WaitPoint, run_input: type[RunInput]) -> bool:
        state: State[Any] = Suspended(
            pause_key=wait.key, message=f"{wait.label} — {describe_wait(wait)}"[:500]
        )
        keyset = keyset_from_paused_state(state)
        state.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
        async with self.writes:
            result = await self.client.set_flow_run_state(self.run_id, state)
            if result.status is SetStateStatus.ACCEPT:
                # The state before the schema, as suspend_flow_run does: Prefect deletes the inputs at
                # the keyset when it accepts the pause. Until the schema is saved, a resume through
                # Prefect's UI or API is refused, never accepted unchecked.
                await _save_once(run_input, keyset, self.run_id)
                return True
        if result.state is not None and result.state.is_running():
            return False  # the key had already fired
        await self._finish_cancelling(result.state)
        raise AttemptRefused(f"run {self.run_id}: suspension refused ({refusal_reason(result)})")

    async def complete(self) -> None:
        async with self.writes:
            await self._propose(Completed(message="closed"))

    async def fail(self, reason: str) -> None:
        # A later step, or the supervisor, re-runs a Failed run (``Executor._not_resumable``).
        await self._propose(Failed(message=reason))

    async def _propose(self, state: State[Any]) -> None:
        result = await self.client.set_flow_run_state(self.run_id, state)
        if result.status is not SetStateStatus.ACCEPT:
            await self._finish_cancelling(result.state)
            raise AttemptRefused(f"run {self.run_id}: {state.type.value} refused ({refusal_reason(result)})")

    async def _finish_cancelling(self, current: State[Any] | None) -> None:
        """A run cancelled during the attempt stays Cancelling, refusing every other state, until
        someone proposes Cancelled; its infrastructure is this attempt, so the attempt does."""
        if current is not None and current.type is StateType.CANCELLING:
            await self.client.set_flow_run_state(
                self.run_id, Cancelled(message="cancelled during an attempt")
            )


async def _save_once(run_input: type[RunInput], keyset: Keyset, run_id: UUID) -> None:
    """Save the wait's input schema; one saved already (an attempt replayed) is the same schema."""
    try:
        await run_input.asave(keyset, flow_run_id=run_id)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 409:
            raise
