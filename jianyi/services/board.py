"""The supervision board: what the supervision office watches across the network.

- ``stages``: open suggestions by stage and by handling office;
- ``late_units``: per unit, its open steps past their deadline and the oldest of them, most first;
- ``overdue``: the open steps past their deadline, most overdue first, a page at a time (keyset:
  ``after`` is where the previous page ended), by owing unit and by district;
- ``suggestion_steps``: one suggestion's open steps with their deadlines.

Each is one SQL statement over indexed columns (the migration 0006 adds what they need), besides
looking up the caller's office and any unit code given, so the board answers in milliseconds with
hundreds of thousands of suggestions (``bench/figures/board.py``). A step whose clock is
paused for the proposer is not late: its deadline stands still until the clock runs again. A
late step cannot pause (services/clocks.py), so a late step stays on the board; the migration 0009
set the clocks of steps paused late before that running again.

Who sees what: administrators and the city office (office or supervisor) the whole network, a
district office its own suggestions; departments, leaders and proposers are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Integer, func, literal, select, tuple_
from sqlalchemy.orm import Session, aliased

from jianyi.errors import Forbidden, InvalidInput, NotFound
from jianyi.models import Step, Suggestion, Unit
from jianyi.models.board_schemas import (
    BoardStep,
    LateUnit,
    OfficeStages,
    OverduePage,
    OverdueStep,
    StageBoard,
    StageCount,
)
from jianyi.models.enums import STAGE_LABELS, Role, Stage, StepState, UnitKind
from jianyi.rules.calendar import WorkingCalendar
from jianyi.services import deadlines
from jianyi.services.actors import Actor
from jianyi.services.figures.access import resolve
from jianyi.services.figures.compute import working_days_late
from jianyi.services.figures.periods import Period, Scope
from jianyi.services.lifecycle.stages import spec_of

OPEN_STAGES = tuple(stage for stage in Stage if stage is not Stage.closed)
PAGE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _running() -> tuple[ColumnElement[bool], ...]:
    """Open steps whose clock runs: the terms the partial index ix_steps_running_due is built on."""
    return Step.state == StepState.open, Step.paused_at.is_(None)


def scope(session: Session, actor: Actor) -> int | None:
    """The handling office the actor's board is limited to; None: the whole network."""
    if actor.role is Role.admin:
        return None
    unit = session.get(Unit, actor.unit_id) if actor.unit_id is not None else None
    if actor.role in (Role.office, Role.supervisor) and unit is not None:
        if unit.kind is UnitKind.city_office:
            return None
        if unit.kind is UnitKind.district_office:
            return unit.id
    raise Forbidden(
        "the supervision board is for the suggestion offices, their supervisors and administrators"
    )


def stages(session: Session, *, actor: Actor) -> StageBoard:
    office = scope(session, actor)
    counts = (
        select(Suggestion.office_unit_id, Suggestion.stage, func.count().label("n"))
        .where(Suggestion.stage.in_(OPEN_STAGES))
        .group_by(Suggestion.office_unit_id, Suggestion.stage)
    )
    if office is not None:
        counts = counts.where(Suggestion.office_unit_id == office)
    c = counts.subquery()
    rows = session.execute(
        select(Unit.code, Unit.name, c.c.stage, c.c.n)
        .join(c, c.c.office_unit_id == Unit.id)
        .order_by(Unit.code)
    )
    by_office: dict[str, OfficeStages] = {}
    by_stage = dict.fromkeys(OPEN_STAGES, 0)
    for code, name, stage, n in rows:
        entry = by_office.setdefault(code, OfficeStages(office=code, name=name, total=0, stages={}))
        entry.stages[stage] = n
        entry.total += n
        by_stage[stage] += n
    return StageBoard(
        total=sum(by_stage.values()),
        by_stage=[StageCount(stage=s, label=STAGE_LABELS[s], count=n) for s, n in by_stage.items()],
        by_office=sorted(by_office.values(), key=lambda o: (-o.total, o.office)),
    )


def _days(calendar: WorkingCalendar, now: datetime, due: datetime) -> int:
    """Working days overdue, as the figures count them (the first working day after the deadline's
    day is 1)."""
    return working_days_late(calendar, due, now) or 0


def late_units(
    session: Session, *, actor: Actor, now: datetime, among: Scope | None = None
) -> list[LateUnit]:
    """Units owing steps past their deadline, the most first; ``among`` the figures' scope (an office
    AND a category AND a channel…) the suggestions are in."""
    office = scope(session, actor)
    late = select(Step.unit_id, func.count().label("n"), func.min(Step.due_at).label("oldest")).where(
        *_running(), Step.due_at < now, Step.unit_id.is_not(None)
    )
    scoped = resolve(session, actor=actor, scope=among).suggestions if among is not None else None
    if office is not None or scoped is not None:
        late = late.join(Suggestion, Suggestion.id == Step.suggestion_id)
    if office is not None:
        late = late.where(Suggestion.office_unit_id == office)
    if scoped is not None:
        late = late.where(scoped)
    g = late.group_by(Step.unit_id).subquery()
    rows = session.execute(
        select(Unit.code, Unit.name, Unit.kind, g.c.n, g.c.oldest)
        .join(g, g.c.unit_id == Unit.id)
        .order_by(g.c.n.desc(), g.c.oldest, Unit.code)
    )
    calendar = deadlines.current_calendar(session)
    return [
        LateUnit(
            unit=code,
            name=name,
            kind=kind,
            overdue=n,
            oldest_due_at=oldest,
            days_overdue=_days(calendar, now, oldest),
        )
        for code, name, kind, n, oldest in rows
    ]


def encode_cursor(due_at: datetime, step_id: int) -> str:
    """Where a page ended: the deadline in microseconds since the epoch, and the step (URL-safe)."""
    return f"{(due_at - _EPOCH) // timedelta(microseconds=1)}.{step_id}"


def decode_cursor(after: str) -> tuple[datetime, int]:
    try:
        micros, step_id = (int(part) for part in after.split("."))
    except ValueError as exc:
        raise InvalidInput(
            f"after: not a cursor of this board: {after!r}",
            detail=[{"field": "after", "message": "give the `next` of the previous page"}],
        ) from exc
    return _EPOCH + timedelta(microseconds=micros), step_id


def _unit_id(session: Session, code: str, field: str, *, office: bool = False) -> int:
    unit = session.scalar(select(Unit).where(Unit.code == code))
    kinds = (UnitKind.city_office, UnitKind.district_office)
    if unit is None or (office and unit.kind not in kinds):
        what = "suggestion office" if office else "unit"
        raise InvalidInput(
            f"{field}: no {what} with code {code!r}", detail=[{"field": field, "message": f"unknown {what}"}]
        )
    return unit.id


def overdue(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    unit: str | None = None,
    district: str | None = None,
    after: str | None = None,
    limit: int = PAGE,
    among: Scope | None = None,
    due_in: Period | None = None,
) -> OverduePage:
    """A page of the overdue steps, most overdue first; ``district`` is a handling office's code,
    ``among`` the figures' scope (an office AND a category AND a channel…) the suggestions are in,
    ``due_in`` the period their deadline fell in."""
    office = scope(session, actor)
    district_id = _unit_id(session, district, "district", office=True) if district is not None else None
    if office is not None and district_id not in (None, office):
        raise Forbidden("a district office sees its own district's suggestions only")
    office = office or district_id
    owing, handling = aliased(Unit), aliased(Unit)
    query = (
        select(
            Step.id,
            Step.kind,
            owing.code,
            Step.suggestion_id,
            Suggestion.tracking_code,
            Suggestion.title,
            handling.code,
            Step.due_at,
        )
        .join(Suggestion, Suggestion.id == Step.suggestion_id)
        .join(handling, handling.id == Suggestion.office_unit_id)
        .outerjoin(owing, owing.id == Step.unit_id)
        .where(*_running(), Step.due_at < now)
        .order_by(Step.due_at, Step.id)
        .limit(limit + 1)  # one more: is there a next page
    )
    if unit is not None:
        query = query.where(Step.unit_id == _unit_id(session, unit, "unit"))
    if office is not None:
        query = query.where(Suggestion.office_unit_id == office)
    if among is not None and (scoped := resolve(session, actor=actor, scope=among).suggestions) is not None:
        query = query.where(scoped)
    if due_in is not None:
        query = query.where(Step.due_at >= due_in.start, Step.due_at < due_in.end)
    if after is not None:
        after_due, after_id = decode_cursor(after)
        # Typed as the columns: the deadline bound as the stored naive UTC, not as a timestamptz.
        query = query.where(
            tuple_(Step.due_at, Step.id)
            > tuple_(literal(after_due, Step.due_at.type), literal(after_id, Integer()))
        )
    rows = session.execute(query).all()
    calendar = deadlines.current_calendar(session)
    items = []
    for step_id, kind, unit_code, suggestion_id, code, title, office_code, due in rows[:limit]:
        assert due is not None  # past due: it has a deadline
        items.append(
            OverdueStep(
                step_id=step_id,
                kind=kind,
                label=spec_of(kind).label,
                unit=unit_code,
                suggestion_id=suggestion_id,
                tracking_code=code,
                title=title,
                office=office_code,
                due_at=due,
                days_overdue=_days(calendar, now, due),
            )
        )
    last = items[-1] if len(rows) > limit else None
    return OverduePage(items=items, next=encode_cursor(last.due_at, last.step_id) if last else None)


def suggestion_steps(session: Session, *, actor: Actor, suggestion_id: int, now: datetime) -> list[BoardStep]:
    """One suggestion's open (and submitted, not yet applied) steps, the earliest deadline first."""
    office = scope(session, actor)
    query = (
        select(Step.id, Step.kind, Step.state, Step.role, Unit.code, Step.due_at, Step.paused_at)
        .join(Suggestion, Suggestion.id == Step.suggestion_id)
        .outerjoin(Unit, Unit.id == Step.unit_id)
        .where(Step.suggestion_id == suggestion_id, Step.state.in_((StepState.open, StepState.submitted)))
        .order_by(Step.due_at.is_(None), Step.due_at, Step.id)
    )
    if office is not None:
        query = query.where(Suggestion.office_unit_id == office)
    rows = session.execute(query).all()
    if not rows:  # nothing open, or not the actor's to see: tell which (only on this path)
        suggestion = session.get(Suggestion, suggestion_id)
        if suggestion is None:
            raise NotFound(f"suggestion {suggestion_id} does not exist")
        if office is not None and suggestion.office_unit_id != office:
            raise Forbidden(f"suggestion {suggestion_id} is handled by another office")
    return [
        BoardStep(
            step_id=step_id,
            kind=kind,
            label=spec_of(kind).label,
            state=state,
            role=role,
            unit=code,
            due_at=due,
            overdue=due is not None and due < now and paused is None and state is StepState.open,
            paused=paused is not None,
        )
        for step_id, kind, state, role, code, due, paused in rows
    ]
