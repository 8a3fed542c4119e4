"""The proposers' personal data erased once their case has been closed for the retention period
(JIANYI_PERSONAL_DATA_RETENTION_DAYS, 183 by default; 0 keeps it): an APScheduler job of the
executor, like the reports, every few hours and once at start (jianyi.services.personal_data)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from jianyi.db import session_scope
from jianyi.services import personal_data
from jianyi.services.actors import EXECUTOR

log = logging.getLogger("jianyi.erasure")


def erase_due(older_than: timedelta) -> int:
    """One pass, one transaction: how many proposers' data were erased (ids only in the log)."""
    with session_scope() as session:
        erased = personal_data.run_retention(session, actor=EXECUTOR, older_than=older_than)
    if erased:
        log.info(
            "erased the proposers' data of %d closed suggestion(s): %s",
            len(erased),
            [e.suggestion_id for e in erased],
        )
    return len(erased)


def add_job(
    scheduler: AsyncIOScheduler, *, older_than: timedelta, every: timedelta = timedelta(hours=6)
) -> None:
    async def job() -> None:
        await asyncio.to_thread(erase_due, older_than)

    scheduler.add_job(
        job,
        IntervalTrigger(seconds=every.total_seconds()),
        id="personal-data-retention",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),  # once at start too: an executor down for days catches up
    )
