"""SQL building blocks of the figures: the columns every figure's items share, a local date, and
the answered / unanswered-and-late conditions of steps (the on-time definitions, docs/figures.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, QueryableAttribute, Session
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Date, TypeEngine

from jianyi.models import Step, Suggestion
from jianyi.models.base import UTCDateTime
from jianyi.models.enums import StepKind, StepState
from jianyi.services.figures.access import Where

# A query of any columns (SQLAlchemy 2.1's Select is generic over its row), and a column or attribute.
Query = Select[*tuple[Any, ...]]
Col = ColumnElement[Any] | QueryableAttribute[Any]

# The columns of every figure's items, in this order: what is counted, and what a drill-down lists.
COLUMNS = ("key", "suggestion_id", "step_id", "unit_id", "due", "done", "percent", "form")


@dataclass(frozen=True)
class Ctx:
    """One computation: the period's start, the instant described (``as_of``), the scope as SQL."""

    start: datetime
    as_of: datetime
    where: Where


def items(
    key: str | Col,
    suggestion_id: Col,
    *,
    step_id: Col | None = None,
    unit_id: Col | None = None,
    due: Col | None = None,
    done: Col | None = None,
    percent: Col | None = None,
    form: Col | None = None,
) -> list[ColumnElement[Any]]:
    """The item columns, typed alike in every branch of a UNION ALL (PostgreSQL needs typed NULLs)."""
    key_col = cast(literal(key) if isinstance(key, str) else key, String(64))
    values = (key_col, suggestion_id, step_id, unit_id, due, done, percent, form)
    types: tuple[TypeEngine[Any], ...] = (
        String(64),
        Integer(),
        Integer(),
        Integer(),
        UTCDateTime(),
        UTCDateTime(),
        Integer(),
        String(32),
    )
    return [
        (cast(null(), kind) if value is None else value).label(name)
        for name, value, kind in zip(COLUMNS, values, types, strict=True)
    ]


def scoped(query: Query, ctx: Ctx, suggestion_id: Col, *, joined: bool = False) -> Query:
    """Limit items to the scope's suggestions (joining suggestions unless the query already has)."""
    if ctx.where.suggestions is None:
        return query
    if not joined:
        query = query.join(Suggestion, Suggestion.id == suggestion_id)
    return query.where(ctx.where.suggestions)


def own_unit(query: Query, ctx: Ctx, unit_id: Col) -> Query:
    """In a unit's scope, figures counted for units count only that unit's own items."""
    return query if ctx.where.unit_id is None else query.where(unit_id == ctx.where.unit_id)


def effective_due() -> ColumnElement[Any]:
    """The deadline a step is measured against: the one it had already missed when its clock was
    paused, else its deadline now (moved by approved extensions and by pauses before it)."""
    return func.coalesce(Step.missed_due_at, Step.due_at)


def answered_in(ctx: Ctx) -> ColumnElement[bool]:
    return and_(Step.submitted_at >= ctx.start, Step.submitted_at < ctx.as_of)


def unanswered_late(ctx: Ctx, kinds: Sequence[StepKind]) -> list[ColumnElement[bool]]:
    """Steps not answered at ``as_of``, past their deadline then, and not held by a clock paused in
    time: four disjoint conditions, each an index range (a UNION ALL of them, not one OR, so that
    every part reads an index: open, answered since, cancelled since; and a deadline missed before a
    pause that a resume has since moved past ``as_of``)."""
    as_of = ctx.as_of
    # No "opened before as_of": a deadline before as_of implies it (and would lead SQLite, which keeps
    # no statistics, to an index on the opening time that reads every step ever opened).
    common = (or_(Step.paused_at.is_(None), Step.paused_at >= as_of, Step.missed_due_at.is_not(None)),)
    past_due = Step.due_at < as_of
    open_then = or_(
        Step.state == StepState.open,
        Step.submitted_at >= as_of,
        and_(Step.state == StepState.cancelled, Step.applied_at >= as_of),
    )
    kind = Step.kind.in_(kinds)
    return [
        and_(kind, Step.state == StepState.open, past_due, *common),
        and_(kind, Step.submitted_at >= as_of, past_due, *common),
        and_(kind, Step.state == StepState.cancelled, past_due, Step.applied_at >= as_of, *common),
        and_(kind_unindexed(kinds), Step.missed_due_at < as_of, Step.due_at >= as_of, open_then, *common),
    ]


def kind_unindexed(kinds: Sequence[StepKind]) -> ColumnElement[bool]:
    """The kind test as an expression no index leads with, so that SQLite (no statistics) reads the
    index the rest of the condition names (the few missed deadlines, one suggestion's steps) rather
    than every step of the kind."""
    return cast(Step.kind, String).in_([kind.value for kind in kinds])


class local_day(FunctionElement[Any]):
    """The date of a stored (naive UTC) instant after adding ``shift`` (Asia/Shanghai is UTC+8 all
    year; a further shift moves the office's cut-off to midnight)."""

    inherit_cache = True  # the shift is a clause (a literal), so it is part of the cache key
    type = Date()

    def __init__(self, column: ColumnElement[Any], shift: timedelta) -> None:
        super().__init__(column, literal_column(f"'{int(shift.total_seconds()):+d} seconds'"))


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: Any, **kw: Any) -> str:
    column, shift = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date({column}, {shift})"


@compiles(local_day)
def _local_day_default(element: local_day, compiler: Any, **kw: Any) -> str:
    column, shift = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(({column} + CAST({shift} AS INTERVAL)) AS DATE)"


def as_date(value: Any) -> date | None:
    """A local_day's value: SQLite answers text, PostgreSQL a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def distinct_values(session: Session, column: InstrumentedAttribute[str | None]) -> list[str]:
    """The distinct values of an indexed column, ascending, by skipping through its index: one probe a
    value (a recursive CTE), not a read of every row as SELECT DISTINCT does (neither database skips)."""
    seed = select(func.min(column).label("value")).cte("found", recursive=True)
    following = select(select(func.min(column)).where(column > seed.c.value).scalar_subquery()).where(
        seed.c.value.is_not(None)
    )
    found = seed.union_all(following)
    return [value for value in session.scalars(select(found.c.value)) if value]
