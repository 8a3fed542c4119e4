"""The supervision sweep: fire every due rung of every open step, each exactly once.

One set-based statement claims due timers (pending, ``fire_at <= now``, step still open) by moving
them to ``fired``; the actions of the claimed rungs are written in the same transaction (outbox
mails, supervision-order steps, escalation and bulletin marks, the audit). Two sweepers, a crash
mid-sweep or a restart never fire a rung twice: a rung is claimed by exactly one committed update,
and a rolled-back sweep leaves it pending for the next. Time is a parameter, so tests jump the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from jianyi.models import Step, StepTimer, Suggestion, Unit, User
from jianyi.models.enums import StepKind, StepState, UnitKind
from jianyi.models.step_timer import TimerState
from jianyi.rules.calendar import WorkingCalendar
from jianyi.rules.schema import RuleSet, Rung
from jianyi.services import audit, deadlines, official_mail, outbox, steps
from jianyi.services.actors import Actor
from jianyi.services.lifecycle import case as lifecycle_case
from jianyi.services.lifecycle.specs import step_key

RULES = Actor(label="rules")
log = logging.getLogger("jianyi.escalation")


@dataclass
class Fired:
    """What one rung did, for the caller to report (and emit as a Prefect event after commit)."""

    timer_id: int
    suggestion_id: int
    flow_run_id: str | None
    tracking_code: str
    step_id: int
    ladder: str
    rung: int
    actions: list[dict[str, Any]] = field(default_factory=list)


def claim_due(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Move up to about ``limit`` due timers of open steps to fired; their ids (indexed, set-based)."""
    step_open = select(Step.id).where(Step.id == StepTimer.step_id, Step.state == StepState.open).exists()
    due = (StepTimer.state == TimerState.pending, StepTimer.fire_at <= now, step_open)
    if session.get_bind().dialect.name == "postgresql":
        return _claim_due_by_suggestion(session, due, now=now, limit=limit)
    # SQLite writes one transaction at a time. EXISTS rather than a join: the plan must walk the
    # partial due index in fire_at order and stop at the limit; with a join, SQLite (no statistics)
    # starts from every open step and sorts.
    first = select(StepTimer.id).where(*due).order_by(StepTimer.fire_at).limit(limit)
    claimed = session.execute(
        update(StepTimer)
        .where(StepTimer.id.in_(first.scalar_subquery()), StepTimer.state == TimerState.pending)
        .values(state=TimerState.fired, fired_at=now)
        .returning(StepTimer.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars())


def _claim_due_by_suggestion(
    session: Session, due: tuple[ColumnElement[bool], ...], *, now: datetime, limit: int
) -> list[int]:
    """PostgreSQL: rows locked in the order every writer takes them, the suggestion, its steps, their
    timers (``deadlines.lock_steps``), so that a sweep and an answer or an attempt never wait on each
    other in reverse. Sweepers share the work by suggestion, skipping one another's and those an
    attempt holds (their rungs fire at the next sweep); an answer holding a step is waited for, and
    its step, answered, then has nothing due."""
    candidates = select(StepTimer.suggestion_id).where(*due).order_by(StepTimer.fire_at).limit(limit)
    suggestions = list(
        session.scalars(
            select(Suggestion.id)
            .where(Suggestion.id.in_(candidates.scalar_subquery()))
            .order_by(Suggestion.id)
            .with_for_update(key_share=True, skip_locked=True)
        )
    )
    if not suggestions:
        return []
    mine = (StepTimer.suggestion_id.in_(suggestions), *due)
    deadlines.lock_steps(session, list(session.scalars(select(StepTimer.step_id).where(*mine).distinct())))
    claimed = session.execute(
        update(StepTimer)
        .where(*mine)
        .values(state=TimerState.fired, fired_at=now)
        .returning(StepTimer.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars())


@dataclass
class _Batch:
    """What the rungs of one sweep share, read once: the rules, the calendar, the officials to notify.

    A sweep fires hundreds of rungs; reading their timers, steps, suggestions and units a few queries
    for all (they are then in the session's identity map) instead of several queries per rung is
    most of what keeps a sweep that fires 500 rungs short.
    """

    rules: RuleSet
    calendar: WorkingCalendar
    users: dict[tuple[int, bool], list[User]]  # (unit, heads) → its officials with an address
    # Held here because the session's identity map holds unmodified objects weakly: without a
    # reference they would be collected, and every session.get would query again.
    loaded: list[object]
    # The notices of every rung, queued together once all have fired: one statement, not one per notice.
    mails: list[dict[str, object]] = field(default_factory=list)
    # The steps whose window lapses, closed together once all rungs have fired (steps.lapse_for_rules).
    lapses: list[int] = field(default_factory=list)
    # The supervision orders opened, with their time to answer and the action that reports each:
    # inserted in one flush, then planned (their deadlines and rungs) once they have ids.

    @classmethod
    def load(cls, session: Session, timer_ids: list[int]) -> tuple[_Batch, list[StepTimer]]:
        timers = list(
            session.scalars(select(StepTimer).where(StepTimer.id.in_(timer_ids)).order_by(StepTimer.id))
        )
        steps = list(session.scalars(select(Step).where(Step.id.in_({t.step_id for t in timers}))))
        suggestions = list(
            session.scalars(select(Suggestion).where(Suggestion.id.in_({t.suggestion_id for t in timers})))
        )
        unit_ids = {s.unit_id for s in steps if s.unit_id is not None} | {
            s.office_unit_id for s in suggestions
        }
        units = list(session.scalars(select(Unit).where(Unit.id.in_(unit_ids))))
        unit_ids |= {u.parent_id for u in units if u.parent_id is not None}  # where escalations go
        units = list(session.scalars(select(Unit).where(Unit.id.in_(unit_ids))))
        users: dict[tuple[int, bool], list[User]] = {(u, h): [] for u in unit_ids for h in (False, True)}
        for user in session.scalars(
            select(User)
            .where(User.unit_id.in_(unit_ids), User.active.is_(True), User.email.is_not(None))
            .order_by(User.id)
        ):
            assert user.unit_id is not None
            users[(user.unit_id, user.head)].append(user)
        loaded: list[object] = [*steps, *suggestions, *units]
        return cls(deadlines.current_rules(), deadlines.current_calendar(session), users, loaded), timers

    def recipients(self, session: Session, *, unit_id: int, heads: bool) -> list[User]:
        """As ``official_mail.recipients``, from what was read for the whole sweep."""
        if (unit_id, heads) not in self.users:
            self.users[(unit_id, heads)] = official_mail.recipients(session, unit_id=unit_id, heads=heads)
        return self.users[(unit_id, heads)]

    def rung(self, timer: StepTimer) -> Rung | None:
        for ladder in self.rules.ladders:
            if ladder.id == timer.ladder and 1 <= timer.rung <= len(ladder.rungs):
                return ladder.rungs[timer.rung - 1]
        return None  # the ladder was removed or shortened since the timer was laid: nothing to do


def sweep(session: Session, *, now: datetime, limit: int = 500) -> list[Fired]:
    """Fire what is due. The caller commits (and then emits the events)."""
    claimed = claim_due(session, now=now, limit=limit)
    if not claimed:
        return []
    batch, timers = _Batch.load(session, claimed)
    fired = [_fire_alone(session, batch, timer, now=now) for timer in timers]
    lapsed = steps.lapse_for_rules(session, actor=RULES, step_ids=batch.lapses, now=now)
    for item in fired:
        for action in item.actions:
            if action["type"] == "lapse" and item.step_id not in lapsed:
                action["note"] = "answered before it lapsed"
    outbox.queue_mails(session, batch.mails)
    # What each rung did, on its timer and in the audit: one batched statement each for the whole
    # sweep (added now, the audit rows are flushed together), not a write per rung.
    session.execute(update(StepTimer), [{"id": f.timer_id, "actions": {"actions": f.actions}} for f in fired])
    for item, timer in zip(fired, timers, strict=True):
        audit.record(
            session,
            actor=RULES,
            action="supervision.fired",
            suggestion_id=item.suggestion_id,
            step_id=item.step_id,
            detail={
                "ladder": timer.ladder,
                "rung": timer.rung,
                "fire_at": timer.fire_at.isoformat(),
                "actions": item.actions,
            },
        )
    return fired


def _fire_alone(session: Session, batch: _Batch, timer: StepTimer, *, now: datetime) -> Fired:
    """Fire one rung in a savepoint of its own: a rung that cannot act (a notice that will not render
    or store, a rule that no longer fits its step) is recorded as fired with its error, and the sweep
    goes on; left pending, it would fail every later sweep with it."""
    mails, lapses = len(batch.mails), len(batch.lapses)
    try:
        with session.begin_nested():
            return _fire(session, batch, timer, now=now)
    except Exception as exc:  # one rung's failure, whatever it is, must not stop the others
        del batch.mails[mails:], batch.lapses[lapses:]
        log.exception("rung %s/%s of timer %s failed", timer.ladder, timer.rung, timer.id)
        return Fired(
            timer_id=timer.id,
            suggestion_id=timer.suggestion_id,
            flow_run_id=None,
            tracking_code="",
            step_id=timer.step_id,
            ladder=timer.ladder,
            rung=timer.rung,
            actions=[{"type": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}],
        )


def _fire(session: Session, batch: _Batch, timer: StepTimer, *, now: datetime) -> Fired:
    step = session.get(Step, timer.step_id)
    suggestion = session.get(Suggestion, timer.suggestion_id)
    assert step is not None and suggestion is not None
    result = Fired(
        timer_id=timer.id,
        suggestion_id=suggestion.id,
        flow_run_id=suggestion.flow_run_id,
        tracking_code=suggestion.tracking_code,
        step_id=step.id,
        ladder=timer.ladder,
        rung=timer.rung,
    )
    if timer.ladder == deadlines.EXPIRY_LADDER:
        batch.lapses.append(step.id)  # e.g. no rating within 10 WD: no rating (closed after the loop)
        result.actions.append({"type": "lapse"})
    else:
        rung = batch.rung(timer)
        overdue = _overdue(batch.calendar, step, now)
        # The context (several queries) only for a rung that has a condition to evaluate.
        if rung is not None and (
            rung.condition is None
            or rung.condition.evaluate(deadlines.context(session, step, suggestion, overdue=overdue))
        ):
            for action in rung.actions:
                result.actions.append(
                    _act(session, batch, action.type, action, timer, step, suggestion, overdue, now)
                )
    return result


def _overdue(calendar: WorkingCalendar, step: Step, now: datetime) -> int:
    if step.due_at is None or now <= step.due_at:
        return 0
    return max(0, calendar.working_days_between(step.due_at, now))


def _act(
    session: Session,
    batch: _Batch,
    kind: str,
    action: Any,
    timer: StepTimer,
    step: Step,
    suggestion: Suggestion,
    overdue: int,
    now: datetime,
) -> dict[str, Any]:
    key = f"timer:{timer.id}:{kind}"
    unit = session.get(Unit, step.unit_id) if step.unit_id is not None else None
    if kind in ("remind", "notify_head"):
        if unit is None:
            return {"type": kind, "sent": 0, "note": "the proposer's step: no unit to remind"}
        to = batch.recipients(session, unit_id=unit.id, heads=kind == "notify_head")
        summary = (
            "您单位有一项待办事项即将到期，请抓紧办理。"
            if kind == "remind"
            else "您单位有一项待办事项已到期，请督促办理。"
        )
        sent = official_mail.send(
            session,
            kind=kind,
            key=key,
            to=to,
            unit=unit,
            step=step,
            suggestion=suggestion,
            summary=summary,
            overdue=overdue,
            into=batch.mails,
        )
        return {"type": kind, "sent": sent}
    if kind == "supervision_order":
        if unit is None:
            return {"type": kind, "note": "the proposer's step: no unit to supervise"}
        order = _open_supervision_order(session, timer, step, suggestion, action.working_days)
        to = batch.recipients(session, unit_id=unit.id, heads=False) + batch.recipients(
            session, unit_id=unit.id, heads=True
        )
        sent = official_mail.send(
            session,
            kind=kind,
            key=key,
            to=to,
            unit=unit,
            step=step,
            suggestion=suggestion,
            summary=f"现发出督办单（{action.form.value}），请说明超期原因及整改措施。",
            overdue=overdue,
            answer_within=action.working_days,
            into=batch.mails,
        )
        return {"type": kind, "form": action.form.value, "order_step_id": order.id, "sent": sent}
    if kind == "escalate":
        office = session.get(Unit, suggestion.office_unit_id)
        above = session.get(Unit, office.parent_id) if office and office.parent_id else None
        if above is None or above.kind is not UnitKind.city_office:
            return {"type": kind, "note": "no office above the handling office"}
        suggestion.escalated_to_unit_id, suggestion.escalated_at = above.id, now
        sent = official_mail.send(
            session,
            kind=kind,
            key=key,
            to=batch.recipients(session, unit_id=above.id, heads=False),
            unit=above,
            step=step,
            suggestion=suggestion,
            summary=f"{office.name if office else ''}的一项事项超期未办，提请市级督办。",
            overdue=overdue,
            into=batch.mails,
        )
        return {"type": kind, "to": above.code, "sent": sent}
    if kind == "bulletin":
        suggestion.bulletin_period, suggestion.bulletin_marked_at = action.period, now
        return {"type": kind, "period": action.period}
    return {"type": kind, "note": "unknown action"}


def _open_supervision_order(
    session: Session, timer: StepTimer, step: Step, suggestion: Suggestion, working_days: int
) -> Step:
    """A supervision order (督办单) is itself a step the late unit answers, within the rung's term."""
    return lifecycle_case.open_step(
        session,
        suggestion=suggestion,
        kind=StepKind.supervision_order,
        key=step_key(StepKind.supervision_order, timer_id=timer.id),
        role=step.role,
        unit_id=step.unit_id,
        assignment_id=step.assignment_id,
        now=timer.fired_at or timer.fire_at,
        actor=RULES,
        working_days=working_days,
    )
