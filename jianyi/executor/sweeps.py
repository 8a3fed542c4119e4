"""The schedule of the rules' sweeps inside the executor: an APScheduler job sweeps due rungs and
overdue communications, another reloads the rules.

Each sweep is one transaction (``escalation.sweep``); after it commits, every fired rung is also
published as a Prefect event on the suggestion's flow run, so escalations show in the Prefect UI's
event feed. An event that cannot be sent is logged, never retried into a second firing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prefect.events import emit_event

from jianyi.db import session_scope
from jianyi.models.base import utcnow
from jianyi.services import communication_duties, deadlines, escalation

log = logging.getLogger("jianyi.supervision")
SWEEP_BATCH = 500  # rungs per transaction: short enough not to hold locks long, big enough to drain fast


@dataclass(frozen=True)
class Sweep:
    fired: list[escalation.Fired]  # escalation rungs of open steps
    reminded: list[communication_duties.Reminded]  # overdue communications with proposers


def sweep_once(now: datetime | None = None, *, limit: int = 500) -> Sweep:
    """One sweep in its own transaction, then its events (after commit: never for a rolled-back firing)."""
    at = now or utcnow()
    with session_scope() as session:
        fired = escalation.sweep(session, now=at, limit=limit)
        reminded = communication_duties.remind_overdue(session, now=at, limit=limit)
    for item in fired:
        publish_fired(item)
    for reminder in reminded:
        publish_reminder(reminder)
    return Sweep(fired, reminded)


def _publish(
    event: str, *, suggestion_id: int, tracking_code: str, flow_run_id: str | None, payload: dict[str, Any]
) -> bool:
    """One Prefect event about a suggestion, related to its flow run. False if it could not be sent:
    what it reports is committed and audited already, so it is logged, never retried into a repeat."""
    related = []
    if flow_run_id:
        related.append(
            {"prefect.resource.id": f"prefect.flow-run.{flow_run_id}", "prefect.resource.role": "flow-run"}
        )
    try:
        emit_event(
            event=event,
            resource={
                "prefect.resource.id": f"jianyi.suggestion.{suggestion_id}",
                "prefect.resource.name": tracking_code,
            },
            related=related,
            payload=payload,
        )
    except Exception:
        log.exception("could not publish %s for suggestion %s", event, suggestion_id)
        return False
    return True


def publish_reminder(item: communication_duties.Reminded) -> None:
    _publish(
        "jianyi.communication.overdue",
        suggestion_id=item.suggestion_id,
        tracking_code=item.tracking_code,
        flow_run_id=item.flow_run_id,
        payload={
            "planned_id": item.planned_id,
            "rule": item.rule_id,
            "kind": item.kind,
            "channel": item.channel,
        },
    )


def publish_fired(item: escalation.Fired) -> None:
    _publish(
        f"jianyi.supervision.{'-'.join(a['type'] for a in item.actions) or 'noop'}",
        suggestion_id=item.suggestion_id,
        tracking_code=item.tracking_code,
        flow_run_id=item.flow_run_id,
        payload={"step_id": item.step_id, "ladder": item.ladder, "rung": item.rung, "actions": item.actions},
    )


def start_scheduler(interval_seconds: float) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")

    async def sweep_job() -> None:
        # Rungs fall due together at the end of a working day: a sweep that came back full goes
        # again at once, so a backlog drains in minutes, not one batch per interval.
        while True:
            result = await asyncio.to_thread(sweep_once, limit=SWEEP_BATCH)
            if result.fired or result.reminded:
                log.info(
                    "supervision sweep fired %d rung(s), %d communication reminder(s)",
                    len(result.fired),
                    len(result.reminded),
                )
            if len(result.fired) < SWEEP_BATCH and len(result.reminded) < SWEEP_BATCH:
                return

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
