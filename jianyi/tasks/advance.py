"""The one Prefect task of a lifecycle attempt: apply what was submitted and find the next wait point.

It takes an id and returns plain data; it opens its own session (a task never receives an ORM object).
Its run is named after the stage the case is in, so a supervisor reads the case's path in the UI.
"""

from __future__ import annotations

import asyncio

from prefect import task
from prefect.cache_policies import NO_CACHE

from jianyi.db import session_scope
from jianyi.runtime import faults
from jianyi.services.lifecycle.engine import WaitPoint, advance, describe_attempt


def advance_in_transaction(suggestion_id: int) -> WaitPoint | None:
    with session_scope() as session:
        wait = advance(session, suggestion_id=suggestion_id)
        faults.hold("advance.before_commit", suggestion_id)
    faults.hold("advance.after_commit", suggestion_id)
    return wait


def _describe(suggestion_id: int) -> str:
    with session_scope() as session:
        return describe_attempt(session, suggestion_id=suggestion_id)


async def attempt_name(suggestion_id: int) -> str:
    return await asyncio.to_thread(_describe, suggestion_id)


@task(
    name="advance",
    cache_policy=NO_CACHE,
    persist_result=False,  # the application database is the record; nothing to replay from Prefect
    retries=3,
    retry_delay_seconds=[1, 2, 5],  # a locked SQLite file or a dropped PostgreSQL connection passes
    log_prints=False,
)
async def advance_case(suggestion_id: int) -> WaitPoint | None:
    # SQLAlchemy sessions are synchronous: keep them off the executor's event loop.
    return await asyncio.to_thread(advance_in_transaction, suggestion_id)
