"""The rules' scheduler inside the executor: an APScheduler job sweeps due rungs, another reloads rules.

Each sweep is one transaction (``escalation.sweep``); after it commits, every fired rung is also
emitted as a Prefect event on the suggestion's flow run, so escalations show in the Prefect UI's
event feed. An event that cannot be sent is logged, never retried into a second firing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prefect.events import emit_event

from jianyi.db import session_scope
from jianyi.models.base import utcnow
from jianyi.services import communication_duties, deadlines, escalation

log = logging.getLogger("jianyi.supervision")


@dataclass(frozen=True)
class Sweep:
    fired: list[escalation.Fired]  # escalation rungs of open steps
    reminded: list[communication_duties.Reminded]  # overdue communications with proposers


def sweep_once(now: datetime | None = None, *, limit: int = 500) -> Sweep:
    """One sweep in its own transaction, then the events (after commit: never for a rolled-back firing)."""
    at = now or utcnow()
    with session_scope() as session:
        fired = escalation.sweep(session, now=at, limit=limit)
        reminded = communication_duties.remind_overdue(session, now=at, limit=limit)
    for item in fired:
        emit(item)
    for reminder in reminded:
        emit_reminder(reminder)
    return Sweep(fired, reminded)


def emit_reminder(item: communication_duties.Reminded) -> None:
    related = []
    if item.flow_run_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{item.flow_run_id}",
                "prefect.resource.role": "flow-run",
            }
        )
    try:
        emit_event(
            event="jianyi.communication.overdue",
            resource={
                "prefect.resource.id": f"jianyi.suggestion.{item.suggestion_id}",
                "prefect.resource.name": item.tracking_code,
            },
            related=related,
            payload={
                "planned_id": item.planned_id,
                "rule": item.rule_id,
                "kind": item.kind,
                "channel": item.channel,
            },
        )
    except Exception:  # the reminder is committed and audited; the event is a view of it
        log.exception("could not emit the event of communication %s", item.planned_id)


def emit(item: escalation.Fired) -> None:
    related = []
    if item.flow_run_id:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{item.flow_run_id}",
                "prefect.resource.role": "flow-run",
            }
        )
    try:
        emit_event(
            event=f"jianyi.supervision.{'-'.join(a['type'] for a in item.actions) or 'noop'}",
            resource={
                "prefect.resource.id": f"jianyi.suggestion.{item.suggestion_id}",
                "prefect.resource.name": item.tracking_code,
            },
            related=related,
            payload={
                "step_id": item.step_id,
                "ladder": item.ladder,
                "rung": item.rung,
                "actions": item.actions,
            },
        )
    except Exception:  # the firing is committed and audited; the event is a view of it
        log.exception("could not emit the event of timer %s", item.timer_id)


def start(interval_seconds: float) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")

    async def sweep_job() -> None:
        result = await asyncio.to_thread(sweep_once)
        if result.fired or result.reminded:
            log.info(
                "supervision sweep fired %d rung(s), %d communication reminder(s)",
                len(result.fired),
                len(result.reminded),
            )

    async def reload_job() -> None:
        await asyncio.to_thread(deadlines.current_rules)  # re-reads changed rule files, keeps the last good

    # max_instances=1 and coalesce: a slow sweep is never overlapped by the next, nor run twice to catch up.
    scheduler.add_job(
        sweep_job,
        IntervalTrigger(seconds=interval_seconds),
        id="supervision-sweep",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        reload_job, IntervalTrigger(seconds=10), id="rules-reload", max_instances=1, coalesce=True
    )
    scheduler.start()
    return scheduler
