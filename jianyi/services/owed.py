"""What a unit owes and has answered, read a page at a time in the database.

A busy department owes thousands of open steps and has answered many more, so no reader loads them
whole: the workbench takes a numbered page of its open steps (filtered, by deadline) with its
counts, the answered list a page latest first, and ``GET /api/steps`` a keyset page (a client
completing steps as it goes skips none). A department sees what is referred to it: the steps its
unit owes, or may complete as the second unit (``alt_unit_id``, the reply).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, false, func, or_, select, true, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from jianyi.errors import InvalidInput
from jianyi.models import Step, Suggestion
from jianyi.models.enums import Role, Stage, StepKind, StepState
from jianyi.services.actors import Actor

PAGE = 50  # the workbench's rows a page
API_PAGE = 100  # GET /api/steps' steps a page, unless the client asks for up to 500
ANSWERED = (StepState.submitted, StepState.completed)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StepFilter:
    """The workbench's filters; ``due_from``/``due_before`` keep the steps due in that span."""

    stage: Stage | None = None
    kind: StepKind | None = None
    due_from: datetime | None = None
    due_before: datetime | None = None
    words: str = ""  # in the tracking code or the title, any case


@dataclass(frozen=True)
class Counts:
    """The unit's open steps as a whole, whatever the filter: the workbench's summary line."""

    open: int
    overdue: int
    due_soon: int


@dataclass(frozen=True)
class Page:
    rows: list[tuple[Step, Suggestion]]
    number: int  # 1-based
    pages: int
    matching: int  # rows matching the filter, over every page


def _branches(actor: Actor) -> list[ColumnElement[bool]]:
    """The actor's unit's steps as disjoint parts, each read in order from an index of its own (an OR
    is not): those it owes, those it may complete as the second unit. Everything for an admin."""
    if actor.role is Role.admin:
        return [true()]
    if actor.unit_id is None:
        return []
    unit = actor.unit_id
    second = and_(Step.alt_unit_id == unit, or_(Step.unit_id.is_(None), Step.unit_id != unit))
    return [Step.unit_id == unit, second]


def owner(actor: Actor) -> ColumnElement[bool]:
    """The steps that are the actor's unit's, as one condition (for lookups that need no order)."""
    parts = _branches(actor)
    return or_(*parts) if parts else false()


def _filtered(query: Select[Any], found: StepFilter) -> Select[Any]:
    if found.stage is not None or found.words.strip():
        query = query.join(Suggestion, Suggestion.id == Step.suggestion_id)
    if found.stage is not None:
        query = query.where(Suggestion.stage == found.stage)
    if found.kind is not None:
        query = query.where(Step.kind == found.kind)
    if found.due_from is not None:
        query = query.where(Step.due_at >= found.due_from)
    if found.due_before is not None:
        query = query.where(Step.due_at < found.due_before)
    if words := found.words.strip():
        query = query.where(
            or_(
                Suggestion.tracking_code.icontains(words, autoescape=True),
                Suggestion.title.icontains(words, autoescape=True),
            )
        )
    return query


def _listed(
    actor: Actor,
    key: InstrumentedAttribute[Any],
    *where: ColumnElement[bool],
    found: StepFilter = StepFilter(),
) -> Subquery | None:
    """The actor's steps matching, as (id, key) rows: one branch of a UNION ALL per ``_branches``."""
    parts = [
        _filtered(select(Step.id.label("id"), key.label("key")).where(owns, *where), found)
        for owns in _branches(actor)
    ]
    if not parts:
        return None
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()


def _pages(matching: int, size: int) -> int:
    return max(1, -(-matching // size))


def _page(session: Session, listed: Subquery | None, *, latest_first: bool, number: int, size: int) -> Page:
    if listed is None:
        return Page([], 1, 1, 0)
    matching = session.scalar(select(func.count()).select_from(listed)) or 0
    number = min(max(number, 1), _pages(matching, size))
    key, step_id = listed.c.key, listed.c.id
    order = (key.desc(), step_id.desc()) if latest_first else (key.asc().nulls_last(), step_id)
    ids = list(session.scalars(select(step_id).order_by(*order).offset((number - 1) * size).limit(size)))
    return Page(_load(session, ids), number, _pages(matching, size), matching)


def _load(session: Session, ids: list[int]) -> list[tuple[Step, Suggestion]]:
    """The steps of ``ids`` with their suggestions, in the order of ``ids``."""
    if not ids:
        return []
    query = select(Step, Suggestion).join(Suggestion, Suggestion.id == Step.suggestion_id)
    loaded = {
        step.id: (step, suggestion) for step, suggestion in session.execute(query.where(Step.id.in_(ids)))
    }
    return [loaded[i] for i in ids]


def open_page(
    session: Session, *, actor: Actor, found: StepFilter, number: int = 1, size: int = PAGE
) -> Page:
    """A page of the open steps matching the filter, the earliest deadline first (none last)."""
    listed = _listed(actor, Step.due_at, Step.state == StepState.open, found=found)
    return _page(session, listed, latest_first=False, number=number, size=size)


def counts(session: Session, *, actor: Actor, now: datetime, soon_before: datetime) -> Counts:
    """How many open steps the unit owes, how many are overdue, how many fall due soon."""
    listed = _listed(actor, Step.due_at, Step.state == StepState.open)
    if listed is None:
        return Counts(0, 0, 0)
    due = listed.c.key
    query = select(
        func.count(),
        func.count().filter(due < now),
        func.count().filter(and_(due >= now, due < soon_before)),
    ).select_from(listed)
    total, overdue, soon = session.execute(query).one()
    return Counts(total, overdue, soon)


def answered_page(session: Session, *, actor: Actor, words: str, number: int = 1, size: int = PAGE) -> Page:
    """A page of the steps the unit answered (awaiting or applied), the latest first."""
    listed = _listed(actor, Step.submitted_at, Step.state.in_(ANSWERED), found=StepFilter(words=words))
    return _page(session, listed, latest_first=True, number=number, size=size)


def step_cursor(step: Step) -> str:
    """Where a keyset page ended: the deadline in microseconds since the epoch ("n": none), the step."""
    if step.due_at is None:
        return f"n.{step.id}"
    return f"{(step.due_at - _EPOCH) // timedelta(microseconds=1)}.{step.id}"


def _decode(after: str) -> tuple[datetime | None, int]:
    due, _, step_id = after.partition(".")
    try:
        return (None if due == "n" else _EPOCH + timedelta(microseconds=int(due))), int(step_id)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(
            f"after: not a cursor of this list: {after!r}",
            detail=[{"field": "after", "message": "give the cursor of the previous page's next link"}],
        ) from exc


def keyset_page(
    session: Session, *, actor: Actor, state: StepState | None, after: str | None, limit: int
) -> tuple[list[Step], str | None]:
    """Up to ``limit`` of the unit's steps in deadline order after the cursor; the next cursor."""
    where = [] if state is None else [Step.state == state]
    if after is not None:
        due, step_id = _decode(after)
        if due is None:  # past every dated step: the undated ones, by id
            where += [Step.due_at.is_(None), Step.id > step_id]
        else:
            later = or_(Step.due_at > due, and_(Step.due_at == due, Step.id > step_id))
            where.append(or_(later, Step.due_at.is_(None)))
    listed = _listed(actor, Step.due_at, *where)
    if listed is None:
        return [], None
    ordered = select(listed.c.id).order_by(listed.c.key.asc().nulls_last(), listed.c.id).limit(limit + 1)
    ids = list(session.scalars(ordered))
    loaded = {step.id: step for step in session.scalars(select(Step).where(Step.id.in_(ids[:limit])))}
    found = [loaded[i] for i in ids[:limit]]  # their suggestions are the views' to read (views.step_views)
    return found, step_cursor(found[-1]) if len(ids) > limit else None
