"""A step's deadline and escalation timers, from the rules in force and the working-day calendar.

``plan`` runs when a step opens, in the transaction that opens it: the deadline rule gives the
working days, the calendar turns them into an instant (provisional in a year not yet published),
and every rung of every ladder watching the step becomes a ``StepTimer`` with its firing instant.
The sweep (``escalation.sweep``) then only has to read due timers from an index.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from jianyi.models import Assignment, AuditEntry, CalendarYear, Proposer, Step, StepTimer, Suggestion, Unit
from jianyi.models.enums import AssignmentRole, AssignmentState, StepKind, StepState, UnitKind
from jianyi.models.step_timer import TimerState
from jianyi.rules.calendar import Deadline, WorkingCalendar
from jianyi.rules.loader import RulesHolder
from jianyi.rules.lookup import deadline_for, ladders_for
from jianyi.rules.schema import RuleSet, Rung

EXPIRY_LADDER = "expiry"  # the timer of a rule whose step lapses at its deadline (on_expiry: lapse)
_RULES_CHECK_SECONDS = 5.0

_lock = threading.Lock()
_holder: RulesHolder | None = None
_rules_checked = 0.0
_calendar: tuple[tuple[int, Any], WorkingCalendar] | None = None


def current_rules() -> RuleSet:
    """The rules in force in this process; files are re-read when they change (last good kept)."""
    global _holder, _rules_checked
    with _lock:
        if _holder is None:
            _holder = RulesHolder()
        elif time.monotonic() - _rules_checked > _RULES_CHECK_SECONDS:
            _holder.reload_if_changed()
        _rules_checked = time.monotonic()
        return _holder.rules


def current_calendar(session: Session) -> WorkingCalendar:
    """The working-day calendar, reloaded when a year is published (seeded or a notice loaded)."""
    global _calendar
    version = tuple(session.execute(select(func.count(), func.max(CalendarYear.loaded_at))).one())
    with _lock:
        if _calendar is None or _calendar[0] != version:
            _calendar = (version, WorkingCalendar.load(session))  # type: ignore[assignment]
        assert _calendar is not None
        return _calendar[1]


def _code(session: Session, unit_id: int | None) -> str:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return unit.code if unit else ""


# Built once (bound at execution): every intake and every attempt evaluates conditions, and building
# the statement cost twice its execution.
_CO_UNITS = (
    select(func.count())
    .select_from(Assignment)
    .where(
        Assignment.suggestion_id == bindparam("suggestion_id"),
        Assignment.role == AssignmentRole.co,
        Assignment.state == AssignmentState.active,
    )
)


def suggestion_context(
    session: Session, suggestion: Suggestion, *, proposer: Proposer | None = None
) -> dict[str, Any]:
    """The suggestion and proposer variables of rule conditions (``jianyi rules variables``).

    ``proposer`` overrides the suggestion's own: a merged duplicate's proposer hears the outcome
    of the suggestion it was merged into.
    """
    proposer = proposer or session.get(Proposer, suggestion.proposer_id)
    office = session.get(Unit, suggestion.office_unit_id)
    co_units = session.scalar(_CO_UNITS, {"suggestion_id": suggestion.id})
    return {
        "suggestion": {
            "level": suggestion.level.value if suggestion.level else "",
            "channel": suggestion.channel.value,
            "category": suggestion.category or "",
            "campaign": suggestion.campaign or "",
            "district": office.code if office is not None and office.kind is UnitKind.district_office else "",
            "stage": suggestion.stage.value,
            "outcome": suggestion.outcome.value if suggestion.outcome else "",
            "rework_count": suggestion.rework_count,
            "rehandle_count": suggestion.rehandle_count,
            "instructed": suggestion.instructed,
            "co_unit_count": co_units or 0,
        },
        "proposer": {
            "anonymous": bool(proposer and proposer.anonymous),
            "has_email": bool(proposer and proposer.email),
            "has_phone": bool(proposer and proposer.phone),
            "has_mobile": bool(proposer and proposer.mobile),
            "has_address": bool(proposer and proposer.address),
        },
    }


def context(session: Session, step: Step, suggestion: Suggestion, *, overdue: int = 0) -> dict[str, Any]:
    """What rule conditions about a step see (``jianyi rules variables``)."""
    return {
        **suggestion_context(session, suggestion),
        "step": {
            "kind": step.kind.value,
            "unit": _code(session, step.unit_id),
            "role": step.role.value,
            "iteration": step.iteration,
            "optional": step.optional,
        },
        "overdue_working_days": overdue,
    }


def rung_instant(
    calendar: WorkingCalendar, start: datetime, deadline: Deadline, days: int, rung: Rung
) -> Deadline:
    """When a rung fires: the end of the working day that reaches the fraction of the goal, or N
    working days past the deadline (0: the moment the deadline passes)."""
    if rung.at_fraction is not None:
        return calendar.add_working_days(start, max(0, math.floor(rung.at_fraction * days)))
    overrun = rung.after_due_working_days or 0
    return deadline if overrun == 0 else calendar.extend(deadline, overrun)


@dataclass(frozen=True)
class Planned:
    """What the rules give a step: its deadline and the instants of its rungs (pure; nothing written)."""

    rule_id: str | None
    working_days: int | None
    deadline: Deadline | None
    timers: tuple[tuple[str, int, Deadline], ...]  # (ladder, rung, when)


def planned(
    rules: RuleSet,
    calendar: WorkingCalendar,
    *,
    kind: StepKind,
    start: datetime,
    ctx: dict[str, Any],
    working_days: int | None = None,
) -> Planned:
    """The deadline and rungs these rules give a step opened at ``start`` (also used by backtest)."""
    rule = deadline_for(rules, step_kind=kind, context=ctx)
    days = working_days if working_days is not None else (rule.working_days_for(ctx) if rule else None)
    rule_id = rule.id if rule is not None and working_days is None else None
    if days is None:
        return Planned(rule_id, None, None, ())
    deadline = calendar.add_working_days(start, days, cutoff=rules.calendar.cutoff)
    timers = tuple(
        (ladder.id, number, rung_instant(calendar, start, deadline, days, rung))
        for ladder in ladders_for(rules, step_kind=kind, context=ctx)
        for number, rung in enumerate(ladder.rungs, start=1)
    )
    if rule is not None and rule.on_expiry == "lapse":  # an override changes the days, not what expiry does
        # A window closing by itself: only the rungs before it closes (the wait for a leader's
        # instruction is chased before it goes on as "no instruction"), then the expiry.
        early = tuple(timer for timer in timers if timer[2].at < deadline.at)
        return Planned(rule_id, days, deadline, (*early, (EXPIRY_LADDER, 0, deadline)))
    return Planned(rule_id, days, deadline, timers)


def plan(session: Session, *, step: Step, suggestion: Suggestion, working_days: int | None = None) -> None:
    """Set the step's deadline and lay its escalation timers. ``working_days`` overrides the rules
    (a supervision order's own time to answer)."""
    _lay(session, step=step, suggestion=suggestion, working_days=working_days, fired=set(), record_rule=True)


def _lay(
    session: Session,
    *,
    step: Step,
    suggestion: Suggestion,
    working_days: int | None,
    fired: set[tuple[str, int]],
    record_rule: bool,
) -> None:
    result = planned(
        current_rules(),
        current_calendar(session),
        kind=step.kind,
        start=step.created_at,
        ctx=context(session, step, suggestion),
        working_days=working_days,
    )
    if result.deadline is None:
        return
    step.due_at, step.due_working_days = result.deadline.at, result.working_days
    step.due_provisional = result.deadline.provisional
    if record_rule:
        step.due_rule = result.rule_id
    if step.paused_at is not None:
        return  # no rung fires while the clock stands still: they are laid when it resumes
    if step.id is None:  # the timers name it
        session.flush()
    for ladder, rung, when in result.timers:
        if (ladder, rung) not in fired:
            _timer(session, step, ladder, rung, when)


def _timer(session: Session, step: Step, ladder: str, rung: int, when: Deadline) -> None:
    session.add(
        StepTimer(
            step_id=step.id,
            suggestion_id=step.suggestion_id,
            ladder=ladder,
            rung=rung,
            fire_at=when.at,
            provisional=when.provisional,
        )
    )


def lock_steps(session: Session, step_ids: list[int]) -> None:
    """Lock the steps' rows (PostgreSQL; in id order) before their timers are written. Every writer
    takes a step before its timers, so an answer (step, then timers) and a re-plan or cancellation
    never wait on each other in reverse; the sweep skips what either holds (escalation.claim_due)."""
    if step_ids and session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Step.id).where(Step.id.in_(step_ids)).order_by(Step.id).with_for_update(key_share=True)
        )


def moot_timers(session: Session, *, step_ids: list[int]) -> None:
    """The step was answered or cancelled: its pending rungs will never fire."""
    if not step_ids:
        return
    lock_steps(session, sorted(step_ids))
    # One statement for any number of steps (a sweep's lapses); timers in the session follow it.
    session.execute(
        update(StepTimer)
        .where(StepTimer.step_id.in_(step_ids), StepTimer.state == TimerState.pending)
        .values(state=TimerState.moot)
    )


def relay(session: Session, *, step: Step, working_days: int | None) -> None:
    """Plan a step again (a longer goal, a published year, a resumed clock). Rungs that already fired
    stay fired and are not laid again; every other timer is replaced."""
    suggestion = session.get(Suggestion, step.suggestion_id)
    assert suggestion is not None
    lock_steps(session, [step.id])
    fired = set()
    for timer in session.scalars(select(StepTimer).where(StepTimer.step_id == step.id)):
        if timer.state is TimerState.fired:
            fired.add((timer.ladder, timer.rung))
        else:
            session.delete(timer)
    session.flush()
    _lay(session, step=step, suggestion=suggestion, working_days=working_days, fired=fired, record_rule=False)


def replan_provisional(session: Session) -> int:
    """After a year's notice is loaded: recompute the provisional deadlines and timers of open steps."""
    steps = list(
        session.scalars(select(Step).where(Step.state == StepState.open, Step.due_provisional.is_(True)))
    )
    for step in steps:
        # The goal the step has now (rule days, or an extended or overridden goal) is kept.
        relay(session, step=step, working_days=step.due_working_days)
    return len(steps)


EXTENDED = "deadline.extended"  # the audit action of an approved extension, on the extended step


def extensions_granted(session: Session, *, step_id: int) -> int:
    """How many extensions the step was granted (the rules' ``max_count`` counts them)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.step_id == step_id, AuditEntry.action == EXTENDED)
        )
        or 0
    )


def extended_days(session: Session, *, step_id: int) -> int:
    """The working days the step's approved extensions added to its deadline."""
    details = session.scalars(
        select(AuditEntry.detail).where(AuditEntry.step_id == step_id, AuditEntry.action == EXTENDED)
    )
    return sum(int((detail or {}).get("working_days") or 0) for detail in details)


def extend(session: Session, *, step: Step, working_days: int) -> None:
    """An approved extension: the deadline moves by that many working days, and its timers with it."""
    if step.due_at is None or step.due_working_days is None:
        return
    # Planning from scratch with the longer goal keeps every rung (50 %, 80 %, +2 WD …) consistent.
    relay(session, step=step, working_days=step.due_working_days + working_days)
