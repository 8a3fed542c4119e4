"""The lifecycle flow's one Prefect task: ``advance`` (``jianyi.tasks.attempt``) as a task run.

It takes an id and returns plain data; it opens its own session (a task never receives an ORM object).
Its run is named after the stage the case is in, so a supervisor reads the case's path in the UI.
"""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from jianyi.services.lifecycle.engine import WaitPoint
from jianyi.tasks import attempt


@task(
    name="advance",
    cache_policy=NO_CACHE,
    persist_result=False,  # the application database is the record; nothing to replay from Prefect
    retries=0,  # database errors are tried again inside (attempt.with_database_retries), nothing else is
    log_prints=False,
)
async def advance_task(suggestion_id: int) -> WaitPoint | None:
    return await attempt.advance_case(suggestion_id, get_run_logger())


async def advance_named(suggestion_id: int) -> WaitPoint | None:
    """Run the task, named after the stage and the steps it is about to apply."""
    name = await asyncio.to_thread(attempt.name_attempt, suggestion_id)
    return await advance_task.with_options(task_run_name=name)(suggestion_id)
