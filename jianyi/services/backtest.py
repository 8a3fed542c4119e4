"""Replay the recorded history under other rules: what would have fired differently (``rules backtest``).

Every step opened in a window is planned again with ``deadlines.planned`` under the other rules and
compared with its record: the deadline it was given, and the ``step_timers`` ledger of what fired.
A rung *would have fired* when its replayed instant falls before the step stopped being open; it
*did fire* when its ledger row is ``fired``. The replay is first-order: it does not re-run the flow,
so a supervision order or an escalation that would (not) have followed is not invented or removed.
A step whose clock was paused or whose goal was extended is replayed along its recorded pauses,
resumes and extensions: under the rules in force it replays to its record.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from jianyi.models import AuditEntry, Proposer, Step, StepTimer, Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.models.enums import StepKind, StepState
from jianyi.models.step_timer import TimerState
from jianyi.rules.calendar import WorkingCalendar
from jianyi.rules.schema import RuleSet
from jianyi.rules.schema_ladders import SupervisionOrderAction
from jianyi.services import deadlines
from jianyi.services.clocks import PAUSED, RESUMED

Bucket = Literal["would_fire", "would_not_fire", "moved", "deadline"]
BUCKETS: tuple[Bucket, ...] = ("would_fire", "would_not_fire", "moved", "deadline")
# A sweep runs every few minutes; an instant that moves by less than this is not a different firing.
MOVED_AT_LEAST = timedelta(hours=1)
_ORDER_KEY = "supervision_order:t"  # escalation._open_supervision_order: the timer that issued it


class Counts(BaseModel):
    """How many differences of one bucket, by rung ("ladder#rung"), by step kind and by unit code."""

    total: int = 0
    by_rung: dict[str, int] = Field(default_factory=dict)  # empty for the deadline bucket
    by_kind: dict[str, int] = Field(default_factory=dict)
    by_unit: dict[str, int] = Field(default_factory=dict)


class Difference(BaseModel):
    """One step whose replay differs from its record (a rung, or its deadline when ladder is None)."""

    bucket: Bucket
    tracking_code: str
    suggestion_id: int
    step_id: int
    kind: str
    unit: str
    ladder: str | None = None
    rung: int | None = None
    actual_at: datetime | None = None  # the ledger's fire_at, or the recorded due_at
    replay_at: datetime | None = None  # the other rules' instant
    actual_working_days: int | None = None
    replay_working_days: int | None = None


class BacktestReport(BaseModel):
    since: datetime
    until: datetime | None
    as_of: datetime  # where a step still open is taken to stop: `until`, else now
    steps: int  # steps opened in the window, all replayed
    would_fire: Counts  # would fire under the other rules, did not fire
    would_not_fire: Counts  # fired, would not have under the other rules
    moved: Counts  # fired in both, at instants at least an hour apart
    deadline: Counts  # different working days or instant
    examples: list[Difference]  # the first ones, in the order the steps opened

    @property
    def differences(self) -> int:
        return sum(getattr(self, bucket).total for bucket in BUCKETS)


def _closed_at(step: Step, as_of: datetime) -> datetime:
    """The moment the step stopped being open, the horizon of its rungs."""
    if step.state in (StepState.cancelled, StepState.lapsed):
        return step.applied_at or step.submitted_at or as_of
    if step.state is StepState.open:
        return as_of
    return step.submitted_at or step.applied_at or as_of


def _order_days(rules: RuleSet, timer: StepTimer | None) -> int | None:
    """A supervision order's time to answer under the other rules: its issuing rung's action."""
    if timer is None:
        return None
    ladder = next((ladder for ladder in rules.ladders if ladder.id == timer.ladder), None)
    if ladder is None or not 1 <= timer.rung <= len(ladder.rungs):
        return None
    actions = ladder.rungs[timer.rung - 1].actions
    return next((a.working_days for a in actions if isinstance(a, SupervisionOrderAction)), None)


def _origin_id(step: Step) -> int | None:
    tail = step.key.removeprefix(_ORDER_KEY)
    return int(tail) if step.key.startswith(_ORDER_KEY) and tail.isdigit() else None


@dataclass(frozen=True, order=True)
class _Event:
    """Something that moved a step's clock: a pause, a resume (with the working days it stood
    still) or an approved extension (with the days granted)."""

    at: datetime
    paused: bool = False
    resumed: bool = False
    working_days: int = 0


def _instant(detail: dict[str, Any], key: str, fallback: datetime) -> datetime:
    value = detail.get(key)
    return datetime.fromisoformat(value) if isinstance(value, str) else fallback


def _clock_events(session: Session, opened: Select[int]) -> dict[int, list[_Event]]:
    """The pauses, resumes and extensions of the steps opened in the window, in time order (the
    audit: clocks.PAUSED, clock.resumed, deadlines.EXTENDED)."""
    events: dict[int, list[_Event]] = {}
    rows = session.execute(
        select(AuditEntry.step_id, AuditEntry.action, AuditEntry.at, AuditEntry.detail).where(
            AuditEntry.step_id.in_(opened),
            AuditEntry.action.in_((PAUSED, RESUMED, deadlines.EXTENDED)),
        )
    )
    for step_id, action, logged, detail in rows:
        at = _instant(detail, "at", _aware(logged))
        if action == PAUSED:
            event = _Event(at, paused=True)
        elif action == RESUMED:
            event = _Event(at, resumed=True, working_days=int(detail.get("working_days_paused", 0)))
        else:
            event = _Event(at, working_days=int(detail.get("working_days", 0)))
        events.setdefault(step_id, []).append(event)
    return {step_id: sorted(found) for step_id, found in events.items()}


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


class _Replay:
    """The comparison of one window: holds the bulk-loaded rows and collects the differences."""

    def __init__(self, session: Session, rules: RuleSet, calendar: WorkingCalendar, as_of: datetime) -> None:
        self.session, self.rules, self.calendar, self.as_of = session, rules, calendar, as_of
        self.found: list[Difference] = []

    def load(self, since: datetime, until: datetime | None) -> list[Step]:
        window = [Step.created_at >= since] + ([Step.created_at < until] if until is not None else [])
        opened = select(Step.id).where(*window)
        steps = list(self.session.scalars(select(Step).where(*window).order_by(Step.created_at, Step.id)))
        of_window = select(Step.suggestion_id).where(*window)
        self.suggestions = {
            s.id: s for s in self.session.scalars(select(Suggestion).where(Suggestion.id.in_(of_window)))
        }
        # Loaded so that deadlines.context's session.get finds them in the identity map (kept
        # referenced here: the map holds them weakly).
        self.proposers = list(
            self.session.scalars(
                select(Proposer).where(
                    Proposer.id.in_(select(Suggestion.proposer_id).where(Suggestion.id.in_(of_window)))
                )
            )
        )
        self.units = list(self.session.scalars(select(Unit)))
        self.codes = {unit.id: unit.code for unit in self.units}
        self.timers: dict[int, list[StepTimer]] = {}
        for timer in self.session.scalars(select(StepTimer).where(StepTimer.step_id.in_(opened))):
            self.timers.setdefault(timer.step_id, []).append(timer)
        self.events = _clock_events(self.session, opened)
        origins = [i for i in map(_origin_id, steps) if i is not None]
        self.origins = (
            {t.id: t for t in self.session.scalars(select(StepTimer).where(StepTimer.id.in_(origins)))}
            if origins
            else {}
        )
        return steps

    def step(self, step: Step) -> None:
        suggestion = self.suggestions[step.suggestion_id]
        ctx = deadlines.context(self.session, step, suggestion)
        order = step.kind is StepKind.supervision_order
        override: int | None = None
        if order:
            origin = _origin_id(step)
            override = _order_days(self.rules, self.origins.get(origin) if origin is not None else None)
        plan = (
            deadlines.planned(
                self.rules,
                self.calendar,
                kind=step.kind,
                start=step.created_at,
                ctx=ctx,
                working_days=override,
            )
            if override is not None or not order
            else deadlines.Planned(None, None, None, ())  # the issuing rung gives no order any more
        )
        base = Difference(
            bucket="deadline",
            tracking_code=suggestion.tracking_code,
            suggestion_id=suggestion.id,
            step_id=step.id,
            kind=step.kind.value,
            unit=self.codes.get(step.unit_id, "") if step.unit_id is not None else "",
        )
        end = _closed_at(step, self.as_of)
        events = self.events.get(step.id, [])
        if events and plan.working_days is not None:
            plan, would = self._timeline(step, ctx, plan, events, end)
        else:
            would = {(ladder, rung): when.at for ladder, rung, when in plan.timers if when.at <= end}
        replay_at = plan.deadline.at if plan.deadline is not None else None
        if (step.due_working_days, step.due_at) != (plan.working_days, replay_at):
            self.found.append(
                base.model_copy(
                    update={
                        "actual_at": step.due_at,
                        "replay_at": replay_at,
                        "actual_working_days": step.due_working_days,
                        "replay_working_days": plan.working_days,
                    }
                )
            )
        if not order:  # an order's own rungs are whatever ladders watch orders: compared on its deadline
            self._rungs(step, would, end, base)

    def _timeline(
        self, step: Step, ctx: dict[str, Any], plan: deadlines.Planned, events: list[_Event], end: datetime
    ) -> tuple[deadlines.Planned, dict[tuple[str, int], datetime]]:
        """Replay a step whose clock was paused or whose goal was extended, as it happened: rungs
        fire on the goal in force at the time, none while paused; a pause adds the working days it
        stood still and an extension the days granted, and the rungs not yet fired are laid again."""
        goal = plan.working_days
        assert goal is not None
        pending = {(ladder, rung): when.at for ladder, rung, when in plan.timers}
        fired: dict[tuple[str, int], datetime] = {}
        running = True
        for event in events:
            if event.at > end:
                break
            if running:
                fired.update({key: at for key, at in pending.items() if key not in fired and at <= event.at})
            if event.paused:
                running = False
                continue
            goal += event.working_days
            plan = deadlines.planned(
                self.rules, self.calendar, kind=step.kind, start=step.created_at, ctx=ctx, working_days=goal
            )
            pending = {(ladder, rung): when.at for ladder, rung, when in plan.timers}
            running = running or event.resumed
        if running:
            fired.update({key: at for key, at in pending.items() if key not in fired and at <= end})
        return plan, fired

    def _rungs(
        self, step: Step, replayed: dict[tuple[str, int], datetime], end: datetime, base: Difference
    ) -> None:
        ledger = {(t.ladder, t.rung): t for t in self.timers.get(step.id, [])}
        for key in sorted(replayed.keys() | ledger.keys()):
            at, timer = replayed.get(key), ledger.get(key)
            would = at is not None
            did = (
                timer is not None
                and timer.state is TimerState.fired
                and (timer.fired_at is None or timer.fired_at <= end)
            )
            bucket: Bucket | None = None
            if would and not did:
                bucket = "would_fire"
            elif did and not would:
                bucket = "would_not_fire"
            elif would and did and timer is not None and at is not None:
                bucket = "moved" if abs(at - timer.fire_at) >= MOVED_AT_LEAST else None
            if bucket is not None:
                self.found.append(
                    base.model_copy(
                        update={
                            "bucket": bucket,
                            "ladder": key[0],
                            "rung": key[1],
                            "actual_at": timer.fire_at if timer is not None else None,
                            "replay_at": at,
                        }
                    )
                )


def _count(found: list[Difference], bucket: Bucket) -> Counts:
    mine = [d for d in found if d.bucket == bucket]
    rungs = Counter(f"{d.ladder}#{d.rung}" for d in mine if d.ladder is not None)
    return Counts(
        total=len(mine),
        by_rung=dict(sorted(rungs.items())),
        by_kind=dict(sorted(Counter(d.kind for d in mine).items())),
        by_unit=dict(sorted(Counter(d.unit for d in mine).items())),
    )


def backtest(
    session: Session,
    *,
    rules: RuleSet,
    since: datetime,
    until: datetime | None = None,
    examples: int = 10,
    now: datetime | None = None,
) -> BacktestReport:
    """Replay the steps opened in [since, until) under `rules` and report what would differ.

    The working-day calendar is today's (a year published since is counted as published); the rule
    context is the suggestion as it stands now (its stage, co-units …), as ``rules explain`` sees it.
    """
    as_of = until or now or utcnow()
    replay = _Replay(session, rules, deadlines.current_calendar(session), as_of)
    steps = replay.load(since, until)
    for step in steps:
        replay.step(step)
    found = replay.found
    return BacktestReport(
        since=since,
        until=until,
        as_of=as_of,
        steps=len(steps),
        would_fire=_count(found, "would_fire"),
        would_not_fire=_count(found, "would_not_fire"),
        moved=_count(found, "moved"),
        deadline=_count(found, "deadline"),
        examples=found[: max(0, examples)],
    )
