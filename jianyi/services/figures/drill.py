"""``drilldown``: the suggestions behind one number of the figures, one row per item counted."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import InvalidInput
from jianyi.models import Suggestion, Unit
from jianyi.rules.calendar import SHANGHAI
from jianyi.services import deadlines
from jianyi.services.actors import Actor
from jianyi.services.figures import catalog
from jianyi.services.figures.compute import (
    bulletin,
    context,
    cutoff_shift,
    solved_deadline,
    solved_key,
    working_days_late,
)
from jianyi.services.figures.periods import Period, Scope
from jianyi.services.figures.schemas import SuggestionRow
from jianyi.services.figures.sql import Ctx, Query


def _unknown(figure: str) -> InvalidInput:
    return InvalidInput(
        f"figure: no figure named {figure!r}",
        detail=[{"field": "figure", "message": "one of " + ", ".join(catalog.FIGURE_NAMES)}],
    )


def _items(ctx: Ctx, figure: str, key: str | None) -> tuple[Query, str | None, str | None]:
    """The figure's items, the item key to keep (None: all) and the unit code to keep (None: all)."""
    if figure in catalog.RATES:
        return catalog.RATES[figure].items(ctx), key, None
    if figure in catalog.TABLES:
        return catalog.TABLES[figure].items(ctx), key, None
    if figure in catalog.UNIT_FIGURES:
        base, item_key = catalog.UNIT_COLUMNS[catalog.UNIT_FIGURES[figure]]
        return catalog.UNIT_BASES[base](ctx), item_key, key
    raise _unknown(figure)


def drilldown(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    scope: Scope,
    figure: str,
    key: str | None,
    now: datetime,
    limit: int | None = None,
) -> list[SuggestionRow]:
    """The items behind ``figure`` (and ``key`` within it; None: all its items), the longest overdue
    first. For a rate, the numerator's key lists the numerator, the rest key the others, None the
    denominator. Checked against the actor like ``compute_figures``."""
    if figure not in catalog.FIGURE_NAMES:
        raise _unknown(figure)
    ctx = context(session, actor=actor, period=period, scope=scope, now=now)
    calendar = deadlines.current_calendar(session)
    if figure == catalog.BULLETIN:
        return _bulletin(session, ctx, key, limit)
    items, item_key, unit_code = _items(ctx, figure, key)
    solved = catalog.RATES[figure].working_days if figure in catalog.RATES else None
    sub = items.subquery()
    query = (
        select(
            sub,
            Suggestion.tracking_code,
            Suggestion.title,
            Suggestion.stage,
            Suggestion.outcome,
            Unit.code,
            Unit.name,
        )
        .join(Suggestion, Suggestion.id == sub.c.suggestion_id)
        .outerjoin(Unit, Unit.id == sub.c.unit_id)
        .order_by(sub.c.due.is_(None), sub.c.due, Suggestion.tracking_code, sub.c.step_id)
    )
    if item_key is not None and solved is None:
        query = query.where(sub.c.key == item_key)
    if unit_code is not None:
        query = query.where(Unit.code == unit_code)
    if limit is not None and solved is None:
        query = query.limit(limit)
    rows = []
    shift = cutoff_shift() if solved is not None else timedelta(0)
    for row in session.execute(query).mappings():
        due, done = row["due"], row["done"]
        if solved is not None:
            # The referral is held in ``due``; the row's deadline is the N-th working day after it.
            counted_from = (row["due"].astimezone(UTC) + shift).date()  # as local_day in SQL
            replied = done.astimezone(SHANGHAI).date() if done is not None else None
            found = solved_key(calendar, counted_from, replied, solved, ctx.as_of)
            if found is None or (item_key is not None and found != item_key):
                continue
            last = solved_deadline(calendar, counted_from, solved)
            due = datetime.combine(last, time.max, tzinfo=SHANGHAI).astimezone(UTC)
        late = working_days_late(calendar, due, done if done is not None else ctx.as_of)
        rows.append(
            SuggestionRow(
                tracking_code=row["tracking_code"],
                title=row["title"],
                unit=row["code"],
                unit_name=row["name"],
                stage=row["stage"].value,
                outcome=row["outcome"].value if row["outcome"] else None,
                due=due,
                done=done,
                working_days_late=late,
                percent=row["percent"],
                form=row["form"],
            )
        )
        if limit is not None and len(rows) >= limit:
            break
    return rows


def _bulletin(session: Session, ctx: Ctx, month: str | None, limit: int | None) -> list[SuggestionRow]:
    marked = [item for item in bulletin(session, ctx) if month is None or month in item.months]
    by_code = {
        row.tracking_code: row
        for row in session.execute(
            select(Suggestion.tracking_code, Suggestion.stage, Suggestion.outcome).where(
                Suggestion.tracking_code.in_([item.tracking_code for item in marked])
            )
        )
    }
    return [
        SuggestionRow(
            tracking_code=item.tracking_code,
            title=item.title,
            unit=item.units[0] if item.units else None,
            unit_name=None,
            stage=by_code[item.tracking_code].stage.value,
            outcome=by_code[item.tracking_code].outcome.value
            if by_code[item.tracking_code].outcome
            else None,
            due=None,
            done=item.last_marked_at,
            working_days_late=None,
        )
        for item in marked[:limit]
    ]
