"""Deadline clocks that stop while a unit waits for the proposer, and run again when they answer.

As SLA products define them: the rules say whether a step's clock pauses for the proposer (``clock``
of its deadline rule; the rules check refuses any other start, pause, resume or stop event) and how
often (``max_pauses``). A step pauses only before its deadline: a late step stays late. While paused,
no reminder or supervision rung fires; on resume the goal grows by the working days the clock stood
still, and the timers are laid again (rungs that had already fired stay fired).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jianyi.errors import Conflict, Forbidden, InvalidInput
from jianyi.models import AuditEntry, Step, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import StepState
from jianyi.rules.lookup import deadline_rule
from jianyi.rules.schema import ClockEvent
from jianyi.services import audit, deadlines
from jianyi.services.actors import Actor
from jianyi.services.steps import get_step, may_complete


def _owned_open_step(session: Session, actor: Actor, step_id: int) -> tuple[Step, Suggestion]:
    step = get_step(session, step_id=step_id)
    suggestion = session.get(Suggestion, step.suggestion_id)
    assert suggestion is not None
    if not may_complete(actor, step, suggestion):
        raise Forbidden(f"step {step_id} ({step.kind.value}) is owed by another unit or role")
    if step.state is not StepState.open:
        raise Conflict(f"step {step_id} is already {step.state.value}")
    return step, suggestion


PAUSED = "clock.paused"  # the audit action of a pause, on its step
RESUMED = "clock.resumed"


def pauses(session: Session, *, step_id: int) -> int:
    """How many times the step's clock has paused (the rule's ``max_pauses`` counts them)."""
    query = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.step_id == step_id, AuditEntry.action == PAUSED)
    )
    return session.scalar(query) or 0


def pause(session: Session, *, actor: Actor, step_id: int, reason: str, now: datetime | None = None) -> Step:
    """The unit waits for the proposer (material, an appointment): the step's clock stops."""
    step, suggestion = _owned_open_step(session, actor, step_id)
    if step.paused_at is not None:
        raise Conflict(
            f"step {step_id}'s clock is already paused (since {step.paused_at:%Y-%m-%d %H:%M} UTC)"
        )
    rule = deadline_rule(
        deadlines.current_rules(), step_kind=step.kind, context=deadlines.context(session, step, suggestion)
    )
    if step.due_at is None or rule is None or ClockEvent.awaiting_proposer not in rule.clock.pause:
        raise InvalidInput(
            f"the rules do not let step {step_id} ({step.kind.value}) pause for the proposer",
            detail=[{"field": "step", "message": "its deadline rule's clock has no awaiting_proposer pause"}],
        )
    now = now or utcnow()
    if now > step.due_at:
        # Late already: stopping the clock now would take the step off the overdue list.
        raise Conflict(
            f"step {step_id} was due {step.due_at:%Y-%m-%d %H:%M} UTC: its clock can no longer pause"
        )
    if pauses(session, step_id=step.id) >= rule.clock.max_pauses:
        raise Conflict(
            f"step {step_id}'s clock has paused {rule.clock.max_pauses} time(s), as many as rule {rule.id} allows"
        )
    step.paused_at = now
    deadlines.moot_timers(session, step_ids=[step.id])  # no reminders while the proposer has the ball
    audit.record(
        session,
        actor=actor,
        action=PAUSED,
        suggestion_id=step.suggestion_id,
        step_id=step.id,
        detail={"event": ClockEvent.awaiting_proposer.value, "reason": reason, "at": now.isoformat()},
    )
    return step


def resume(
    session: Session, *, actor: Actor, step_id: int, note: str | None = None, now: datetime | None = None
) -> Step:
    """The proposer answered: the clock runs again, the goal longer by the working days it stood still."""
    step, _suggestion = _owned_open_step(session, actor, step_id)
    if step.paused_at is None or step.due_working_days is None:
        raise Conflict(f"step {step_id}'s clock is not paused")
    now = now or utcnow()
    paused_at = step.paused_at
    stood = max(0, deadlines.current_calendar(session).working_days_between(paused_at, now))
    step.paused_working_days += stood
    step.paused_at = None
    deadlines.relay(session, step=step, working_days=step.due_working_days + stood)
    audit.record(
        session,
        actor=actor,
        action=RESUMED,
        suggestion_id=step.suggestion_id,
        step_id=step.id,
        detail={
            "event": ClockEvent.proposer_responded.value,
            "working_days_paused": stood,
            "note": note,
            # When it stood still, for `rules backtest` to replay the step's clock.
            "paused_at": paused_at.isoformat(),
            "at": now.isoformat(),
        },
    )
    return step
