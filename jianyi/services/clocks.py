"""Deadline clocks that stop while a unit waits for the proposer, and run again when they answer.

As SLA products define them: the rules say which events start, pause, resume and stop a step's
clock (``clock`` of its deadline rule). While paused, no reminder or supervision rung fires; on
resume the goal grows by the working days the clock stood still, and the timers are laid again
(rungs that had already fired stay fired).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from jianyi.errors import Conflict, Forbidden, InvalidInput
from jianyi.models import Step, Suggestion
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
    step.paused_at = now or utcnow()
    if step.paused_at > step.due_at and step.missed_due_at is None:
        step.missed_due_at = step.due_at  # paused once already late: it stays late (jianyi.services.figures)
    deadlines.moot_timers(session, step_ids=[step.id])  # no reminders while the proposer has the ball
    audit.record(
        session,
        actor=actor,
        action="clock.paused",
        suggestion_id=step.suggestion_id,
        step_id=step.id,
        detail={"event": ClockEvent.awaiting_proposer.value, "reason": reason},
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
    stood = max(0, deadlines.current_calendar(session).working_days_between(step.paused_at, now))
    step.paused_working_days += stood
    step.paused_at = None
    deadlines.relay(session, step=step, working_days=step.due_working_days + stood)
    audit.record(
        session,
        actor=actor,
        action="clock.resumed",
        suggestion_id=step.suggestion_id,
        step_id=step.id,
        detail={"event": ClockEvent.proposer_responded.value, "working_days_paused": stood, "note": note},
    )
    return step
