"""One attempt of a suggestion's flow run, as the executor runs it: the few Prefect calls a human
step really needs.

The lifecycle flow (``jianyi.flows.lifecycle``) is what a Prefect worker would run. Run through
Prefect's engine, one attempt of it made a dozen calls to the server: resume, claim (Pending),
Running, a task run's three states and their events, reading the run back twice, checking the pause
key, the input schema, Suspended, and the engine's log lines; 0.4 CPU-s of server time per human
step on SQLite, and seconds of latency, as the calls queued behind each other (bench group
``throughput``). The executor runs the same attempt with three calls, each one orchestrated by
the server like any other:

1. ``Running`` — proposed by the executor that claimed the run (``Executor._claim``): from Paused it
   *is* the resume; Prefect refuses it for a run that is finished, cancelled or timed out;
2. the wait's input schema (``RunInput.asave``), so that whoever resumes the run through Prefect's
   own UI or API is held to the wait's type, exactly as with ``suspend_flow_run``;
3. ``Suspended`` at the wait's fresh key (or ``Completed`` once the case is closed).

In between, ``advance`` applies the completed step in the application database, in one transaction,
as the flow's task does. The attempt's path through the stages is in its states' messages and in
one log line, where the task runs' names carried it before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AbstractAsyncContextManager
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.responses import SetStateStatus
from prefect.input.run_input import keyset_from_paused_state
from prefect.logging.loggers import flow_run_logger
from prefect.states import Completed, Failed, State, Suspended

from jianyi.executor.prefect_glue import refusal_reason
from jianyi.flows.lifecycle import completion_input, describe_wait
from jianyi.services.lifecycle.engine import WaitPoint
from jianyi.tasks.advance import advance_in_transaction

# As the flow's task retries: a locked SQLite file or a dropped PostgreSQL connection passes.
ADVANCE_RETRY_DELAYS = (1.0, 2.0, 5.0)
# Keys are fresh per attempt (``wait_seq``), so Prefect never refuses a suspension as one that has
# already fired; should it, the attempt applies what is in the database again and waits anew.
SUSPEND_TRIES = 3


class AttemptRefused(RuntimeError):
    """Prefect refused the attempt's suspension or completion: the run was changed under it."""


async def run_attempt(
    client: PrefectClient,
    run_id: UUID,
    suggestion_id: int,
    *,
    writes: AbstractAsyncContextManager[object] | None = None,
) -> str:
    """Apply what was submitted and suspend at the next wait (or complete). The run is Running.
    ``writes``: held around each write to Prefect (the executor's limit on those in flight)."""
    logger = flow_run_logger(flow_run_id=run_id)
    writing = writes or contextlib.nullcontext()
    for _ in range(SUSPEND_TRIES):
        wait = await _advance(client, run_id, suggestion_id, logger)
        if wait is None:
            async with writing:
                await _propose(client, run_id, Completed(message="closed"))
            logger.info("suggestion %s is closed", suggestion_id)
            return "closed"
        async with writing:
            suspended = await _suspend(client, run_id, wait)
        if suspended:
            logger.info("%s — waiting for %s (key %s)", wait.label, describe_wait(wait), wait.key)
            return "suspended"
    raise AttemptRefused(f"run {run_id}: each suspension was refused as already fired")


async def _advance(
    client: PrefectClient, run_id: UUID, suggestion_id: int, logger: logging.LoggerAdapter[Any]
) -> WaitPoint | None:
    for delay in (*ADVANCE_RETRY_DELAYS, None):
        try:
            # SQLAlchemy sessions are synchronous: keep them off the executor's event loop.
            return await asyncio.to_thread(advance_in_transaction, suggestion_id)
        except Exception as exc:
            if delay is None:
                # As the flow fails when its task has used its retries. A later step, or the
                # supervisor, re-runs it (``Executor._not_resumable``).
                await _propose(client, run_id, Failed(message=f"advance failed: {exc!r}"[:500]))
                raise
            logger.warning("advance failed (%r); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def _suspend(client: PrefectClient, run_id: UUID, wait: WaitPoint) -> bool:
    """Suspend at the wait's key; False if Prefect says that key has already fired."""
    state: State[Any] = Suspended(pause_key=wait.key, message=f"{wait.label} — {describe_wait(wait)}"[:500])
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
    # The schema before the state: a run is never seen suspended without its wait's type
    # (``suspend_flow_run`` saves it after, and a resume in between is refused).
    await completion_input(tuple(wait.kinds)).asave(keyset, flow_run_id=run_id)
    result = await client.set_flow_run_state(run_id, state)
    if result.status is SetStateStatus.ACCEPT:
        return True
    if result.state is not None and result.state.is_running():
        return False
    raise AttemptRefused(f"run {run_id}: suspension refused ({refusal_reason(result)})")


async def _propose(client: PrefectClient, run_id: UUID, state: State[Any]) -> None:
    result = await client.set_flow_run_state(run_id, state)
    if result.status is not SetStateStatus.ACCEPT:
        raise AttemptRefused(f"run {run_id}: {state.type.value} refused ({refusal_reason(result)})")
