"""Figures counted over steps: the on-time rates, supervision orders, objections, extensions,
reviews, ratings, re-handlings, and the parts of the units table. Each function returns the
figure's items (``sql.COLUMNS``); the definitions in words are in docs/figures.md."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, select, union_all

from jianyi.models import Assignment, Step, StepTimer
from jianyi.models.enums import AssignmentState, StepKind
from jianyi.models.step_timer import TimerState, fired_pattern
from jianyi.services.figures.sql import (
    Ctx,
    Query,
    answered_in,
    effective_due,
    items,
    own_unit,
    scoped,
    unanswered_late,
)

# The steps each on-time rate measures (docs/figures.md).
REFERRAL_KINDS = (StepKind.triage, StepKind.reroute)  # classify and refer; refer again after an objection
HANDLING_KINDS = (StepKind.opinion,)  # the lead unit's opinion
REPLY_KINDS = (StepKind.reply,)  # the reply to the proposer
# Not owed by a unit: windows the unit may leave unused, and the proposer's rating.
OPTIONAL_OR_PROPOSERS = (StepKind.objection, StepKind.extension_request, StepKind.rating)


def on_time(ctx: Ctx, kinds: tuple[StepKind, ...], *, by_unit: bool = False) -> Query:
    """Steps answered in the period (on time: by the deadline they are measured against), and steps
    unanswered and past their deadline at ``as_of`` (late)."""
    due = effective_due()
    answered = select(
        *items(
            case((Step.submitted_at <= due, "on_time"), else_="late"),
            Step.suggestion_id,
            step_id=Step.id,
            unit_id=Step.unit_id,
            due=due,
            done=Step.submitted_at,
        )
    ).where(Step.kind.in_(kinds), Step.due_at.is_not(None), answered_in(ctx))
    late = [
        select(*items("late", Step.suggestion_id, step_id=Step.id, unit_id=Step.unit_id, due=due)).where(
            condition
        )
        for condition in unanswered_late(ctx, kinds)
    ]
    parts = [scoped(q, ctx, Step.suggestion_id) for q in (answered, *late)]
    if by_unit:
        parts = [own_unit(q, ctx, Step.unit_id) for q in parts]
    return union_all(*parts).subquery().select()


def open_overdue(ctx: Ctx) -> Query:
    """Steps a unit owes (not optional windows), unanswered and past their deadline at ``as_of``."""
    owed = [kind for kind in StepKind if kind not in OPTIONAL_OR_PROPOSERS]  # the kind leads the indexes
    parts = [
        select(
            *items(
                "open_overdue", Step.suggestion_id, step_id=Step.id, unit_id=Step.unit_id, due=effective_due()
            )
        ).where(Step.unit_id.is_not(None), Step.optional.is_(False), condition)
        for condition in unanswered_late(ctx, owed)
    ]
    return (
        union_all(*(own_unit(scoped(q, ctx, Step.suggestion_id), ctx, Step.unit_id) for q in parts))
        .subquery()
        .select()
    )


def supervision_orders(ctx: Ctx) -> Query:
    """Supervision orders (督办单) issued in the period; answered in it; answered after their deadline."""
    order = Step.kind == StepKind.supervision_order
    due = effective_due()

    def part(key: str, *where: Any) -> Query:
        query = select(
            *items(
                key,
                Step.suggestion_id,
                step_id=Step.id,
                unit_id=Step.unit_id,
                due=due,
                done=Step.submitted_at,
            )
        ).where(order, *where)
        return own_unit(scoped(query, ctx, Step.suggestion_id), ctx, Step.unit_id)

    return (
        union_all(
            part("issued", Step.created_at >= ctx.start, Step.created_at < ctx.as_of),
            part("answered", answered_in(ctx)),
            part("answered_late", answered_in(ctx), Step.submitted_at > due),
        )
        .subquery()
        .select()
    )


def _fired_with(action: str) -> Any:
    """Rungs fired that did ``action`` (``step_timer.fired_with``, whose partial index it reads)."""
    pattern = literal(fired_pattern(action), String, literal_execute=True)  # inline: the index matches it
    return and_(StepTimer.state == TimerState.fired, cast(StepTimer.actions, String).like(pattern))


def escalated(ctx: Ctx) -> Query:
    """Suggestions handed up to the office above by a rung of one of the unit's steps, in the
    period; one item per suggestion and unit. An escalation with no office above records no "to"."""
    query = (
        select(
            *items("escalated", Step.suggestion_id, unit_id=Step.unit_id, done=func.max(StepTimer.fired_at))
        )
        .join(Step, Step.id == StepTimer.step_id)
        .where(
            StepTimer.fired_at >= ctx.start,
            StepTimer.fired_at < ctx.as_of,
            _fired_with("escalate"),
            cast(StepTimer.actions, String).like('%"to": %'),
        )
        .group_by(Step.suggestion_id, Step.unit_id)
    )
    return own_unit(scoped(query, ctx, Step.suggestion_id), ctx, Step.unit_id)


def bulletin_marks(ctx: Ctx) -> Query:
    """Rungs that marked a suggestion for the bulletin in the period (suggestion, unit, when)."""
    query = (
        select(Step.suggestion_id, Step.unit_id, StepTimer.fired_at)
        .join(Step, Step.id == StepTimer.step_id)
        .where(
            StepTimer.fired_at >= ctx.start,
            StepTimer.fired_at < ctx.as_of,
            _fired_with("bulletin"),
        )
    )
    return scoped(query, ctx, Step.suggestion_id)


def referred(ctx: Ctx) -> Query:
    """Referrals (转办) made in the period: one item per suggestion and unit (lead or co)."""
    query = (
        select(
            *items(
                "referred",
                Assignment.suggestion_id,
                unit_id=Assignment.unit_id,
                done=func.min(Assignment.created_at),
            )
        )
        .where(Assignment.created_at >= ctx.start, Assignment.created_at < ctx.as_of)
        .group_by(Assignment.suggestion_id, Assignment.unit_id)
    )
    return own_unit(scoped(query, ctx, Assignment.suggestion_id), ctx, Assignment.unit_id)


def objections(ctx: Ctx) -> Query:
    """Objections (退回异议) in the period (each opens the office's re-routing decision), and the
    units withdrawn by an accepted objection (re-routed)."""
    unit = Assignment.unit_id
    raised = (
        select(*items("objections", Step.suggestion_id, step_id=Step.id, unit_id=unit, done=Step.created_at))
        .join(Assignment, Assignment.id == Step.assignment_id)
        .where(Step.kind == StepKind.reroute, Step.created_at >= ctx.start, Step.created_at < ctx.as_of)
    )
    rerouted = select(
        *items("rerouted", Assignment.suggestion_id, unit_id=unit, done=Assignment.closed_at)
    ).where(
        Assignment.state == AssignmentState.withdrawn,
        Assignment.closed_at >= ctx.start,
        Assignment.closed_at < ctx.as_of,
    )
    parts = [
        own_unit(scoped(raised, ctx, Step.suggestion_id), ctx, unit),
        own_unit(scoped(rerouted, ctx, Assignment.suggestion_id), ctx, unit),
    ]
    return union_all(*parts).subquery().select()


def extensions(ctx: Ctx) -> Query:
    """Extension requests (延期申请) in the period, and the office's decisions on them in it."""
    unit = Assignment.unit_id
    approved = Step.input["approved"].as_boolean()

    def part(key: Any, *where: Any) -> Query:
        query = (
            select(
                *items(
                    key,
                    Step.suggestion_id,
                    step_id=Step.id,
                    unit_id=unit,
                    due=Step.due_at,
                    done=Step.submitted_at,
                )
            )
            .join(Assignment, Assignment.id == Step.assignment_id)
            .where(Step.kind == StepKind.extension_decision, *where)
        )
        return own_unit(scoped(query, ctx, Step.suggestion_id), ctx, unit)

    return (
        union_all(
            part("requested", Step.created_at >= ctx.start, Step.created_at < ctx.as_of),
            part(case((approved, "approved"), else_="refused"), answered_in(ctx)),
        )
        .subquery()
        .select()
    )


def answers(ctx: Ctx, kind: StepKind, *, unanswered: str | None = None) -> Query:
    """The office's or the proposer's answers of one kind in the period, by their deciding value
    (``Step.answer``: a review's action, a rating); a lapsed step (no answer) counts as
    ``unanswered``."""
    value = Step.answer
    key = func.coalesce(value, literal(unanswered)) if unanswered is not None else value
    query = select(
        *items(
            key,
            Step.suggestion_id,
            step_id=Step.id,
            unit_id=Step.unit_id,
            due=Step.due_at,
            done=Step.submitted_at,
        )
    ).where(Step.kind == kind, answered_in(ctx))
    if unanswered is None:
        query = query.where(and_(value.is_not(None)))
    return scoped(query, ctx, Step.suggestion_id)
