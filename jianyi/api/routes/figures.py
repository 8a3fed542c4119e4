"""The figures the office lives by (docs/figures.md), their drill-downs and their export, read-only.

Offices, their supervisors and administrators as the supervision board allows (a district office
its own suggestions); a department its own unit's figures only; anyone else 403.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import StringConstraints
from sqlalchemy.orm import Session

from jianyi.api.deps import CurrentActor, SessionDep, Snapshots
from jianyi.models.base import utcnow
from jianyi.services.actors import Actor
from jianyi.services.figures import FigureSet, Period, Scope, ScopeKind, SuggestionRow, drilldown
from jianyi.services.figures.access import default_scope
from jianyi.services.figures.export import MEDIA_TYPES, figures_file, suggestions_file

router = APIRouter(prefix="/api", tags=["figures"])

PeriodQuery = Query(
    ..., max_length=16, description="2026-W49, 2026-12, 2026-Q4, 2026-H2 or 2026", examples=["2026-12"]
)
ScopeQuery = Query(
    default=[],
    max_length=len(ScopeKind),
    description="city, office:CODE, unit:CODE, category:NAME, channel:NAME, campaign:CODE or region:CODE; "
    "repeated, the suggestions every one takes in (scope=office:huangpu-office&scope=channel:letter); "
    "default: what the caller sees (a department its unit, a district office its suggestions)",
)
KeyQuery = Query(
    default=None,
    max_length=200,
    description="the key within the figure (a rate's numerator or rest key, a row's key)",
)
Format = Literal["csv", "xlsx"]
ScopeText = Annotated[str, StringConstraints(max_length=200)]


def _scope(session: Session, actor: Actor, scope: list[ScopeText]) -> Scope:
    return Scope.parse_all(scope) or default_scope(session, actor)


def _file(content: bytes, fmt: Format, name: str) -> Response:
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@router.get("/figures", response_model=FigureSet)
def figures(
    session: SessionDep,
    actor: CurrentActor,
    snapshots: Snapshots,
    period: str = PeriodQuery,
    scope: list[ScopeText] = ScopeQuery,
) -> FigureSet:
    """Every figure of a period and scope: rates, count tables, the units table, the bulletin. A
    snapshot shared with the board, at most JIANYI_FIGURES_MAX_AGE_SECONDS old (``computed_at``)."""
    return snapshots.figures(
        session, actor=actor, period=Period.parse(period), scope=_scope(session, actor, scope), now=utcnow()
    )


@router.get("/figures.{fmt}", response_class=Response)
def figures_export(
    fmt: Format,
    session: SessionDep,
    actor: CurrentActor,
    snapshots: Snapshots,
    period: str = PeriodQuery,
    scope: list[ScopeText] = ScopeQuery,
) -> Response:
    """The figures as CSV (UTF-8 with a BOM) or XLSX: the same snapshot as ``/api/figures``."""
    found = snapshots.figures(
        session, actor=actor, period=Period.parse(period), scope=_scope(session, actor, scope), now=utcnow()
    )
    return _file(figures_file(found, fmt), fmt, f"figures-{found.period.code}")


@router.get("/figures/{name}/suggestions", response_model=list[SuggestionRow])
def figure_suggestions(
    name: str,
    session: SessionDep,
    actor: CurrentActor,
    period: str = PeriodQuery,
    scope: list[ScopeText] = ScopeQuery,
    key: str | None = KeyQuery,
    limit: int | None = Query(default=None, ge=1, le=100_000, description="at most this many rows"),
) -> list[SuggestionRow]:
    """The suggestions behind one number (one row per item counted)."""
    return drilldown(
        session,
        actor=actor,
        period=Period.parse(period),
        scope=_scope(session, actor, scope),
        figure=name,
        key=key,
        now=utcnow(),
        limit=limit,
    )


@router.get("/figures/{name}/suggestions.{fmt}", response_class=Response)
def figure_suggestions_export(
    name: str,
    fmt: Format,
    session: SessionDep,
    actor: CurrentActor,
    period: str = PeriodQuery,
    scope: list[ScopeText] = ScopeQuery,
    key: str | None = KeyQuery,
) -> Response:
    """A drill-down as CSV (UTF-8 with a BOM) or XLSX."""
    parsed = Period.parse(period)
    rows = drilldown(
        session,
        actor=actor,
        period=parsed,
        scope=_scope(session, actor, scope),
        figure=name,
        key=key,
        now=utcnow(),
    )
    title = f"{parsed.label} {name}" + (f" {key}" if key else "")
    suffix = f"-{key}" if key and key.isascii() and key.isprintable() and '"' not in key else ""
    return _file(suggestions_file(rows, fmt, title=title), fmt, f"{name}{suffix}-{parsed.code}")
