"""``compute_figures``: every figure of a period and scope, each one grouped SQL statement over its
items (catalog.py); the calendar is applied in Python only to grouped days, never row by row."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jianyi.models import Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.rules.calendar import SHANGHAI, WorkingCalendar
from jianyi.services import deadlines
from jianyi.services.actors import Actor
from jianyi.services.figures import access, catalog
from jianyi.services.figures import case_figures as cases
from jianyi.services.figures import step_figures as steps
from jianyi.services.figures.periods import Period, Scope
from jianyi.services.figures.schemas import BulletinItem, CountRow, CountTable, FigureSet, Rate, UnitRow
from jianyi.services.figures.sql import Ctx, Query, as_date


def context(session: Session, *, actor: Actor, period: Period, scope: Scope, now: datetime) -> Ctx:
    """The computation's bounds and the scope as SQL, once the actor is allowed to see it."""
    return Ctx(
        start=period.start, as_of=period.as_of(now), where=access.resolve(session, actor=actor, scope=scope)
    )


def counts(session: Session, items: Query, *by: str) -> dict[Any, tuple[int, datetime | None]]:
    """Items counted by the given columns, with the earliest ``due`` of each group."""
    sub = items.subquery()
    columns = [sub.c[name] for name in by]
    rows = session.execute(select(*columns, func.count(), func.min(sub.c.due)).group_by(*columns))
    return {tuple(row[: len(by)]) if len(by) > 1 else row[0]: (row[-2], row[-1]) for row in rows}


def _rate(definition: catalog.Rate, numerator: int, denominator: int) -> Rate:
    return Rate(
        name=definition.name,
        label_zh=definition.label_zh,
        numerator=numerator,
        denominator=denominator,
        value=numerator / denominator if denominator else None,
        numerator_key=definition.numerator_key,
        rest_key=definition.rest_key,
    )


# --- solved within N working days of referral ------------------------------------------------------


def cutoff_shift() -> timedelta:
    """Added to a stored UTC instant, the date of the result is the day the office counts it from
    before the next working day is taken: Asia/Shanghai, with the daily cut-off moved to midnight."""
    cutoff = deadlines.current_rules().calendar.cutoff
    return cases.SHANGHAI_OFFSET + timedelta(days=1) - timedelta(hours=cutoff.hour, minutes=cutoff.minute)


def solved_deadline(calendar: WorkingCalendar, counted_from: date, working_days: int) -> date:
    """The last day of the N working days after referral, from the (cut-off-shifted) referral day."""
    day_zero = counted_from if calendar.is_workday(counted_from) else calendar.shift(counted_from, 1)
    return calendar.shift(day_zero, working_days)


def solved_key(
    calendar: WorkingCalendar,
    counted_from: date,
    reply_day: date | None,
    working_days: int,
    as_of: datetime,
    *,
    last: date | None = None,
) -> str | None:
    """solved, not_solved, or None: no reply yet and the window still open (not counted yet).
    ``last``: the ``solved_deadline`` if the caller has it already."""
    last = last or solved_deadline(calendar, counted_from, working_days)
    if reply_day is not None and reply_day <= last:
        return "solved"
    if datetime.combine(last, time.max, tzinfo=SHANGHAI) < as_of:
        return "not_solved"
    return None if reply_day is None else "not_solved"


def _solved(session: Session, ctx: Ctx, calendar: WorkingCalendar) -> list[Rate]:
    days = session.execute(cases.referral_reply_days(ctx, cutoff_shift())).all()
    rates = []
    for definition in catalog.RATES.values():
        if definition.working_days is None:
            continue
        tally: dict[str | None, int] = defaultdict(int)
        last: dict[date, date] = {}  # each referral day's deadline, once (days repeat by the thousand)
        for referred_on, replied_on, n in days:
            counted_from = as_date(referred_on)
            assert counted_from is not None  # every item was referred
            if counted_from not in last:
                last[counted_from] = solved_deadline(calendar, counted_from, definition.working_days)
            replied = as_date(replied_on)
            key = solved_key(
                calendar, counted_from, replied, definition.working_days, ctx.as_of, last=last[counted_from]
            )
            tally[key] += n
        solved, not_solved = tally["solved"], tally["not_solved"]
        rates.append(_rate(definition, solved, solved + not_solved))
    return rates


# --- the figures ---------------------------------------------------------------------------------


def working_days_late(calendar: WorkingCalendar, due: datetime | None, done: datetime) -> int | None:
    """Working days begun after the deadline's day up to ``done``'s day (None: not late). Answered on
    the next working day: 1; on the weekend after a Friday deadline: 0 (late by less than a day)."""
    if due is None or done <= due:
        return None
    done -= timedelta(microseconds=1)  # an instant at midnight (a period's end) closes the day before
    elapsed = calendar.working_days_between(due, done)
    return max(0, elapsed) + int(calendar.is_workday(done.astimezone(SHANGHAI).date()))


PerUnit = dict[Any, tuple[int, datetime | None]]  # (unit id, key) → count, earliest due


def _by_key(per_unit: PerUnit) -> dict[str, int]:
    """A per-unit count summed over the units (the city's figure from the units table's query)."""
    total: dict[str, int] = defaultdict(int)
    for (_unit, key), (n, _due) in per_unit.items():
        total[key] += n
    return dict(total)


def _units_table(
    session: Session, ctx: Ctx, calendar: WorkingCalendar, per_base: dict[str, PerUnit]
) -> list[UnitRow]:
    values: dict[int, dict[str, int]] = defaultdict(dict)
    oldest: dict[int, datetime] = {}
    for column, (base, key) in catalog.UNIT_COLUMNS.items():
        for (unit_id, item_key), (n, due) in per_base[base].items():
            if unit_id is None or (key is not None and item_key != key):
                continue
            values[unit_id][column] = values[unit_id].get(column, 0) + n
            if column == "open_overdue" and due is not None:
                oldest[unit_id] = due
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(values)))} if values else {}
    rows = []
    for unit_id, row in values.items():
        unit = units[unit_id]
        late = working_days_late(calendar, oldest.get(unit_id), ctx.as_of) if unit_id in oldest else None
        rows.append(
            UnitRow(
                unit=unit.code,
                name=unit.name,
                max_working_days_overdue=late or 0,
                **{column: row.get(column, 0) for column in catalog.UNIT_COLUMNS},
            )
        )
    return sorted(rows, key=lambda r: (-r.open_overdue, -r.late, -r.referred, r.unit))


def _received(session: Session, ctx: Ctx) -> dict[str, dict[str, int]]:
    """The tables of the suggestions received, from one statement (case_figures.received defines
    each for its drill-down; the keys are the same expressions)."""
    found: dict[str, dict[Any, int]] = {name: defaultdict(int) for name in cases.RECEIVED_BY_ID}
    for name, key, n in session.execute(cases.received_counts(ctx)):
        found[name][key] += n
    for name in ("by_district", "by_region"):  # unit ids, as text in the union
        found[name] = {None if key is None else int(key): n for key, n in found[name].items()}
    unit_ids = {key for name in ("by_district", "by_region") for key in found[name] if key is not None}
    codes = (
        dict(session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(unit_ids))).all())
        if unit_ids
        else {}
    )
    for name in ("by_district", "by_region"):
        by_code: dict[Any, int] = defaultdict(int)
        for unit_id, n in found[name].items():
            by_code[codes.get(unit_id, "")] += n  # no region: ''
        found[name] = by_code
    return {name: dict(counts) for name, counts in found.items()}


def _implementation(session: Session, ctx: Ctx) -> dict[str, dict[str, int]]:
    """Both implementation tables from one statement: each item's status, and of those with a
    report (implemented or in progress), the form of the latest report."""
    status: dict[str, int] = defaultdict(int)
    forms: dict[str, int] = defaultdict(int)
    for (key, form), (n, _due) in counts(
        session, cases.implementation(ctx, with_unit=False), "key", "form"
    ).items():
        status[key] += n
        if key != "not_started":
            forms[form] += n
    return {"implementation": dict(status), "implementation_forms": dict(forms)}


def _labels(session: Session, table: catalog.Table, keys: list[str]) -> dict[str, str]:
    labels = dict(table.keys)
    if table.labels_are_units:
        labels.update(session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(keys))).all())
    labels.setdefault("", table.blank)
    return labels


def _table(session: Session, ctx: Ctx, table: catalog.Table, found: dict[str, int] | None) -> CountTable:
    if found is None:
        found = {key: n for key, (n, _due) in counts(session, table.items(ctx), "key").items()}
    keys = list(table.keys) + sorted(k for k in found if k not in table.keys)
    labels = _labels(session, table, keys)
    return CountTable(
        name=table.name,
        label_zh=table.label_zh,
        rows=[CountRow(key=k, label=labels.get(k, k), count=found.get(k, 0)) for k in keys],
    )


def bulletin(session: Session, ctx: Ctx) -> list[BulletinItem]:
    """The suggestions marked for the bulletin in the period, with every month they were marked in."""
    marks: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    for suggestion_id, unit_id, at in session.execute(steps.bulletin_marks(ctx)):
        marks[suggestion_id].append((at, unit_id))
    # The suggestion's own mark (the last rung's), should its rung's record be missing.
    marked = select(Suggestion.id, Suggestion.bulletin_marked_at).where(
        Suggestion.bulletin_marked_at >= ctx.start, Suggestion.bulletin_marked_at < ctx.as_of
    )
    if ctx.where.suggestions is not None:
        marked = marked.where(ctx.where.suggestions)
    for suggestion_id, at in session.execute(marked):
        assert at is not None  # in the period
        if not any(at == seen for seen, _unit in marks[suggestion_id]):
            marks[suggestion_id].append((at, None))
    if not marks:
        return []
    unit_ids = {u for entries in marks.values() for _at, u in entries if u is not None}
    codes = dict(session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(unit_ids))).all())
    rows = session.execute(
        select(Suggestion.id, Suggestion.tracking_code, Suggestion.title, Unit.code)
        .join(Unit, Unit.id == Suggestion.office_unit_id)
        .where(Suggestion.id.in_(marks))
    )
    items = []
    for suggestion_id, tracking_code, title, office in rows:
        entries = marks[suggestion_id]
        items.append(
            BulletinItem(
                tracking_code=tracking_code,
                title=title,
                office=office,
                units=sorted({codes[u] for _at, u in entries if u is not None}),
                months=sorted({at.astimezone(SHANGHAI).strftime("%Y-%m") for at, _unit in entries}),
                last_marked_at=max(at for at, _unit in entries),
            )
        )
    return sorted(items, key=lambda item: (item.last_marked_at, item.tracking_code))


def compute_figures(
    session: Session, *, actor: Actor, period: Period, scope: Scope, now: datetime
) -> FigureSet:
    """Every figure of the period and scope, as of the period's end (or ``now``, if earlier).
    403 if the actor may not see the scope; reads only."""
    ctx = context(session, actor=actor, period=period, scope=scope, now=now)
    calendar = deadlines.current_calendar(session)
    # The units table's queries, counted by unit and key; the handling rate and the supervision
    # orders' table are their sums (one statement each, not two).
    per_base = {
        base: counts(session, items(ctx), "unit_id", "key") for base, items in catalog.UNIT_BASES.items()
    }
    shared = {
        "handling_on_time": _by_key(per_base["handling"]),
        "supervision_orders": _by_key(per_base["orders"]),
    }
    shared.update(_received(session, ctx))
    shared.update(_implementation(session, ctx))
    rates = []
    for definition in catalog.RATES.values():
        if definition.working_days is not None:
            continue
        found = shared.get(definition.name)
        if found is None:
            found = {key: n for key, (n, _due) in counts(session, definition.items(ctx), "key").items()}
        numerator = found.get(definition.numerator_key, 0)
        rates.append(_rate(definition, numerator, numerator + found.get(definition.rest_key, 0)))
    rates += _solved(session, ctx, calendar)
    return FigureSet(
        period=period,
        scope=scope,
        as_of=ctx.as_of,
        computed_at=utcnow(),
        rates=rates,
        tables=[_table(session, ctx, table, shared.get(table.name)) for table in catalog.TABLES.values()],
        units=_units_table(session, ctx, calendar, per_base),
        bulletin=bulletin(session, ctx),
    )


def trend_counts(
    session: Session, *, actor: Actor, period: Period, scope: Scope, now: datetime
) -> dict[str, int]:
    """The three counts a report's trend follows, period by period, in three statements: suggestions
    received, referrals to units and answers given late (what ``compute_figures`` gives as the totals
    of ``by_stage`` and ``by_unit`` and the units' ``late``, without its other two dozen queries)."""
    ctx = context(session, actor=actor, period=period, scope=scope, now=now)
    received = sum(n for n, _due in counts(session, cases.received(ctx, "by_stage"), "key").values())
    referred = sum(n for n, _due in counts(session, cases.by_unit(ctx), "key").values())
    base, key = catalog.UNIT_COLUMNS["late"]
    handling = counts(session, catalog.UNIT_BASES[base](ctx), "unit_id", "key")
    late = sum(n for (unit_id, found), (n, _due) in handling.items() if unit_id is not None and found == key)
    return {"received": received, "referred": referred, "late": late}
