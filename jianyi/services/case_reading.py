"""What the web pages read of a case beyond services/views.py: the reply the proposer was given,
the leader's instruction passed on to the units, and the important items a leader follows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import Forbidden
from jianyi.models import Step, Suggestion
from jianyi.models.enums import Level, Outcome, Role, StepKind, StepState
from jianyi.services.actors import Actor
from jianyi.services.views import can_view

# Outcomes whose recorded reason is the lead unit's reasons for the decision (stages.py), which the
# proposer is told; the others' reason is an internal note or code.
_PUBLIC_REASONS = frozenset({Outcome.not_adopted, Outcome.kept_for_reference})


def public_reply(session: Session, *, suggestion_id: int) -> dict[str, Any] | None:
    """The reply the proposer was given (its text and when), and the reasons of a decision not to
    adopt; None before the office has replied."""
    reply = session.scalar(
        select(Step)
        .where(
            Step.suggestion_id == suggestion_id,
            Step.kind == StepKind.reply,
            Step.state.in_((StepState.submitted, StepState.completed)),
        )
        .order_by(Step.id.desc())
        .limit(1)
    )
    if reply is None or not reply.input:
        return None
    suggestion = session.get(Suggestion, suggestion_id)
    assert suggestion is not None
    shown = suggestion.outcome in _PUBLIC_REASONS
    return {
        "text": reply.input.get("text"),
        "at": reply.submitted_at,
        "reasons": suggestion.outcome_reason if shown else None,
    }


def leader_instruction(session: Session, *, suggestion_id: int) -> dict[str, Any] | None:
    """The leader's instruction (批示) on the suggestion, passed on to every unit it is referred to;
    None when the leader gave none (or has not yet)."""
    step = session.scalar(
        select(Step)
        .where(
            Step.suggestion_id == suggestion_id,
            Step.kind == StepKind.leader_instruction,
            Step.state.in_((StepState.submitted, StepState.completed)),
        )
        .order_by(Step.id.desc())
        .limit(1)
    )
    if step is None or not step.input or not step.input.get("has_instruction"):
        return None
    return {k: step.input.get(k) for k in ("leader", "instructed_on", "text")}


def important_items(
    session: Session, *, actor: Actor, limit: int = 200
) -> list[tuple[Suggestion, dict[str, Any] | None]]:
    """For a leader (and the office): the important suggestions, the open ones first and the newest
    first, each with the leader's instruction once recorded (what became of it is their stage and
    outcome)."""
    if actor.role not in (Role.leader, Role.office, Role.supervisor, Role.admin):
        raise Forbidden("the important items are for leaders and the office")
    items = session.scalars(
        select(Suggestion)
        .where(Suggestion.level == Level.important)
        .order_by(Suggestion.closed_at.is_not(None), Suggestion.received_at.desc())
        .limit(limit)
    )
    return [
        (s, leader_instruction(session, suggestion_id=s.id)) for s in items if can_view(session, actor, s)
    ]
