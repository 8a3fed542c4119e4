"""Completing a human step: who may, what they may give, and exactly once.

A completion is validated and stored as ``submitted`` in the caller's transaction; the executor then
wakes the suggestion's flow run, which applies it. Nothing here talks to Prefect, so a completion
is never lost to a Prefect outage: it waits in the database until the run can be resumed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from jianyi.errors import Conflict, Forbidden, InvalidInput, NotFound, audited_refusal
from jianyi.models import Step, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.models.step import answer_of
from jianyi.models.step_inputs import StepInput
from jianyi.services import audit, deadlines
from jianyi.services.actors import Actor
from jianyi.services.lifecycle.stages import spec_of


def may_complete(actor: Actor, step: Step, suggestion: Suggestion) -> bool:
    if actor.role is Role.leader:  # a city leader answers only for their instructions (批示)
        return step.kind is StepKind.leader_instruction
    if step.role is Role.proposer:
        # The proposer, or the office recording an answer given by phone.
        return actor.role is Role.proposer or (
            actor.role in (Role.office, Role.supervisor) and actor.unit_id == suggestion.office_unit_id
        )
    if actor.role not in (Role.office, Role.supervisor, Role.department) or actor.unit_id is None:
        return False
    return actor.unit_id in (step.unit_id, step.alt_unit_id)


def get_step(session: Session, *, step_id: int) -> Step:
    step = session.get(Step, step_id)
    if step is None:
        raise NotFound(f"step {step_id} does not exist")
    return step


def validate_input(session: Session, step: Step, payload: Any, *, now: datetime | None = None) -> StepInput:
    """The answer as its step kind's model, checked against the database (422 naming each field)."""
    return spec_of(step.kind).validate(session, step, payload, now=now or utcnow())


def complete(
    session: Session, *, actor: Actor, step_id: int, payload: Any, now: datetime | None = None
) -> Step:
    """Store a completion (403 wrong unit, 409 not open, 422 bad input). The caller commits."""
    step = get_step(session, step_id=step_id)
    suggestion = session.get(Suggestion, step.suggestion_id)
    assert suggestion is not None
    if not may_complete(actor, step, suggestion):
        raise Forbidden(f"step {step_id} ({step.kind.value}) is owed by another unit or role")
    if step.state is not StepState.open:
        raise Conflict(
            f"step {step_id} is already {step.state.value}"
            + (
                f" (by {step.completed_by_label} at {step.submitted_at:%Y-%m-%d %H:%M} UTC)"
                if step.submitted_at
                else ""
            )
        )
    now = now or utcnow()
    data = validate_input(session, step, payload, now=now)
    return _submit(session, actor=actor, step=step, input=data.model_dump(mode="json"), now=now)


def lapse(session: Session, *, actor: Actor, step_id: int, now: datetime | None = None) -> Step:
    """Close a step's window unanswered (no rating within the rules' deadline). Office or the rules only."""
    step = get_step(session, step_id=step_id)
    suggestion = session.get(Suggestion, step.suggestion_id)
    assert suggestion is not None
    # The rules' scheduler closes whatever window its rules say lapses; the office may close a rating
    # (no answer from the proposer) or an optional step (a unit's objection window) by hand.
    if not actor.is_system and not (spec_of(step.kind).office_may_lapse or step.optional):
        raise InvalidInput(
            f"a {step.kind.value} step cannot lapse", detail=[{"field": "step", "message": "not lapsable"}]
        )
    if not actor.is_system and not (
        actor.role in (Role.office, Role.supervisor) and actor.unit_id == suggestion.office_unit_id
    ):
        raise Forbidden(f"only the handling office may close step {step_id} unanswered")
    if step.state is not StepState.open:
        raise Conflict(f"step {step_id} is already {step.state.value}")
    return _submit(session, actor=actor, step=step, input=None, now=now)


def _submitted(
    actor: Actor, input: dict[str, Any] | None, now: datetime, kind: StepKind | None = None
) -> dict[str, Any]:
    """What a step stored as submitted holds: its input (None: lapsed) and its deciding value, when
    and by whom."""
    return {
        "state": StepState.submitted,
        "input": input,
        "answer": answer_of(kind, input),
        "submitted_at": now,
        "completed_by_id": actor.user_id,
        "completed_by_label": actor.name or actor.label,
    }


def lapse_for_rules(session: Session, *, actor: Actor, step_ids: list[int], now: datetime) -> set[int]:
    """The lapses a sweep's rules call for, in three statements whatever their number: each step
    still open is closed unanswered, its pending rungs made moot, its lapse audited. Returns the
    steps lapsed; one answered meanwhile (PostgreSQL: by a commit since the sweep's claim) stays
    answered."""
    assert actor.is_system, "the rules' lapses; an official lapses one step at a time (lapse)"
    if not step_ids:
        return set()
    lapsed = set(
        session.scalars(
            update(Step)
            .where(Step.id.in_(step_ids), Step.state == StepState.open)
            .values(**_submitted(actor, None, now))
            .returning(Step.id)
        )
    )
    deadlines.moot_timers(session, step_ids=sorted(lapsed))
    for step_id in sorted(lapsed):
        step = session.get(Step, step_id)
        assert step is not None
        audit.record(
            session,
            actor=actor,
            action="step.lapsed_by",
            suggestion_id=step.suggestion_id,
            step_id=step.id,
            detail={"kind": step.kind.value, "input": None},
        )
    return lapsed


def _submit(
    session: Session, *, actor: Actor, step: Step, input: dict[str, Any] | None, now: datetime | None
) -> Step:
    now = now or utcnow()
    # Conditional update: of two concurrent completions exactly one finds the step still open.
    result = session.execute(
        update(Step)
        .where(Step.id == step.id, Step.state == StepState.open)
        .values(**_submitted(actor, input, now, step.kind))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"step {step.id} was completed concurrently")
    session.refresh(step)
    deadlines.moot_timers(session, step_ids=[step.id])  # answered: no more reminders
    audit.record(
        session,
        actor=actor,
        action="step.lapsed_by" if input is None else "step.submitted",
        suggestion_id=step.suggestion_id,
        step_id=step.id,
        detail={"kind": step.kind.value, "input": input},
    )
    return step


def complete_or_refuse(session: Session, *, actor: Actor, step_id: int, payload: Any) -> Step:
    """A completion from an entry point (the API, the CLI): stored like ``complete``; a refusal
    (404, 403, 409, 422) leaves carrying what to audit, which the entry point records after rolling
    the refused change back (jianyi.refusals)."""
    with audited_refusal("step.refused", actor, step_id=step_id):
        return complete(session, actor=actor, step_id=step_id, payload=payload)
