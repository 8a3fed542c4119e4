"""One attempt of a suggestion's flow run, as the lifecycle flow and the executor both run it.

An attempt applies what the units submitted (``advance``, one database transaction), then completes
the run if the case is closed, or suspends it at the wait's fresh key with the wait's typed input.
If Prefect says that key had already fired, the attempt applies what is in the database again and
waits at a new key, a bounded number of times. How a run is suspended, completed or failed is the
``Suspender``'s business: ``asuspend_flow_run`` in the flow, three client calls in the executor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, Literal, Protocol, TypeVar, Union

from prefect.input import RunInput
from pydantic import create_model
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from jianyi.db import session_scope
from jianyi.models.enums import StepKind
from jianyi.runtime import faults
from jianyi.services.lifecycle.engine import WaitPoint, advance, describe_attempt
from jianyi.services.lifecycle.stages import SPECS

T = TypeVar("T")
Logger = logging.Logger | logging.LoggerAdapter[Any]

# Waits between tries of a transaction that met a database error that passes (a locked SQLite
# file, a dropped PostgreSQL connection); then the attempt fails.
DATABASE_RETRY_DELAYS = (1.0, 2.0, 5.0)
# Keys are fresh per attempt (``wait_seq``), so a key that had already fired means an attempt
# replayed after a crash; applying again and waiting at the next key settles it.
SUSPEND_TRIES = 3

_log = logging.getLogger("jianyi.attempt")


class AttemptRefused(RuntimeError):
    """Prefect refused the attempt's suspension or completion: the run was changed under it."""


class Suspender(Protocol):
    """The Prefect side of an attempt: how its run waits, ends, or fails."""

    async def suspend(self, wait: WaitPoint, run_input: type[RunInput]) -> bool:
        """Suspend the run at ``wait.key``, to be resumed with ``run_input``; False if that key had
        already fired (the run goes on Running). May end the attempt by raising instead of returning."""
        ...

    async def complete(self) -> None:
        """The case is closed: the run ends Completed."""
        ...

    async def fail(self, reason: str) -> None:
        """``advance`` failed for good: the run ends Failed with the reason."""
        ...


@cache  # one model per set of kinds, built once per process
def completion_input(kinds: tuple[StepKind, ...]) -> type[RunInput]:
    """The typed input a wait point accepts: which step was completed, and its validated data."""
    data_types = tuple(SPECS[k].input for k in kinds)
    data_type: Any = data_types[0] if len(data_types) == 1 else Union[data_types]  # noqa: UP007
    kind_type: Any = Literal[tuple(k.value for k in kinds)]
    # The data of a lapsed step (no answer in time) is null.
    return create_model(
        "StepCompleted_" + "_".join(k.value for k in kinds),
        __base__=RunInput,
        step_id=(int, ...),
        kind=(kind_type, ...),
        data=(data_type | None, None),
    )


def describe_wait(wait: WaitPoint) -> str:
    return "; ".join(
        f"{SPECS[s.kind].label} #{s.step_id}" + (" (可选)" if s.optional else "") for s in wait.steps
    )


def name_attempt(suggestion_id: int) -> str:
    """The stage and the steps about to be applied, read before the attempt runs."""
    with session_scope() as session:
        return describe_attempt(session, suggestion_id=suggestion_id)


def advance_in_transaction(suggestion_id: int) -> WaitPoint | None:
    with session_scope() as session:
        wait = advance(session, suggestion_id=suggestion_id)
        faults.halt_at("advance.before_commit", suggestion_id)
    faults.halt_at("advance.after_commit", suggestion_id)
    return wait


def passes(exc: BaseException) -> bool:
    """A database error that a later try may not meet: a lock, a lost connection, a full pool.
    Anything else (``CaseInvariantError``, ``NotFound``, a bug) fails the same way every time."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def with_database_retries(
    work: Callable[[], T], *, delays: tuple[float, ...] = DATABASE_RETRY_DELAYS, log: Logger = _log
) -> T:
    """Run ``work`` (synchronous database work) in a thread, again after each delay while it meets
    a database error that passes; any other error is raised at once."""
    for delay in (*delays, None):
        try:
            # SQLAlchemy sessions are synchronous: keep them off the event loop.
            return await asyncio.to_thread(work)
        except Exception as exc:
            if delay is None or not passes(exc):
                raise
            log.warning("database error (%r); trying again in %.0f s", exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def advance_case(suggestion_id: int, log: Logger = _log) -> WaitPoint | None:
    return await with_database_retries(lambda: advance_in_transaction(suggestion_id), log=log)


async def run_attempt(
    suggestion_id: int,
    suspender: Suspender,
    *,
    advance: Callable[[int], Awaitable[WaitPoint | None]] | None = None,
    log: Logger = _log,
) -> Literal["closed", "suspended"]:
    """Apply what was submitted, then complete the run or suspend it at the next wait.
    ``advance``: how to apply (the flow wraps it in a Prefect task); by default ``advance_case``."""
    for _ in range(SUSPEND_TRIES):
        try:
            wait = await (advance(suggestion_id) if advance else advance_case(suggestion_id, log))
        except Exception as exc:
            await suspender.fail(f"advance failed: {exc!r}"[:500])
            raise
        if wait is None:
            await suspender.complete()
            log.info("suggestion %s is closed", suggestion_id)
            return "closed"
        if await suspender.suspend(wait, completion_input(tuple(wait.kinds))):
            log.info("%s — waiting for %s (key %s)", wait.label, describe_wait(wait), wait.key)
            return "suspended"
    raise AttemptRefused(f"suggestion {suggestion_id}: each suspension was refused as already fired")
