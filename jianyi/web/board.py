"""The supervision board (督办看板) for the offices, their supervisors and administrators: the figures
of a period and scope (services/figures), the units late with their steps and the overdue list
(services/board), every number a link to the suggestions behind it, the current filter exported as
CSV or XLSX, the figures refreshed by htmx polling a partial. Who sees what is the services' rule (a
district office its own suggestions; a department or leader the 403 page)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.api.deps import SessionDep, Snapshots
from jianyi.api.routes.board import CURSOR, _check_cursor
from jianyi.models import Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.models.board_schemas import LateUnit
from jianyi.models.enums import OUTCOME_LABELS, STAGE_LABELS, Outcome, Stage
from jianyi.models.step_inputs import CODE
from jianyi.services import board
from jianyi.services.actors import Actor
from jianyi.services.figures import FigureSet, Period, Scope, ScopeKind, catalog, drilldown
from jianyi.services.figures.export import MEDIA_TYPES, figures_file, suggestions_file
from jianyi.web.accounts import Official
from jianyi.web.board_filter import (
    Filter,
    Narrowing,
    parse_filter,
    period_choices,
    scope_choices,
    scope_label,
)
from jianyi.web.templating import render

router = APIRouter(include_in_schema=False)

REFRESH_SECONDS = 60  # the figures partial is polled this often
CHART_UNITS = 10  # the late units charted
DRILL_ROWS = 500  # a drill-down page shows at most so many rows; the export has them all
Format = Literal["csv", "xlsx"]
PeriodParam = Annotated[str, Query(alias="period", max_length=16)]
ScopeParam = Annotated[str, Query(alias="scope", max_length=200)]
# The count tables the board shows, in this order (the export has every one).
BOARD_TABLES = (
    "by_stage",
    "by_district",
    "by_unit",
    "by_channel",
    "by_category",
    "by_campaign",
    "by_outcome",
    "supervision_orders",
    "extensions",
    "ratings",
)
UNIT_COLUMNS = (
    ("referred", "转办"),
    ("on_time", "按期"),
    ("late", "逾期"),
    ("open_overdue", "超期未办"),
    ("escalated", "提级督办"),
    ("orders_issued", "督办单"),
)


def _charts(where: Filter, figures: FigureSet, late: list[LateUnit]) -> list[dict[str, Any]]:
    """What board.js draws: open suggestions by stage, and the units with the most overdue steps;
    each bar links to the suggestions behind it."""
    stages = figures.table("by_stage")
    drill = "/board/drill?"
    return [
        {
            "id": "chart-stages",
            "title": stages.label_zh,
            "labels": [row.label for row in stages.rows],
            "values": [row.count for row in stages.rows],
            "links": [drill + where.query(figure=stages.name, key=row.key) for row in stages.rows],
            "color": "#0d47a1",
        },
        {
            "id": "chart-late",
            "title": "逾期事项最多的单位",
            "labels": [u.name for u in late[:CHART_UNITS]],
            "values": [u.overdue for u in late[:CHART_UNITS]],
            "links": ["/board/overdue?" + where.query(period=None, unit=u.unit) for u in late[:CHART_UNITS]],
            "color": "#b00020",
        },
    ]


def _figures(snapshots: Snapshots, session: Session, actor: Actor, where: Filter) -> FigureSet:
    """The figures of the filter: the process's snapshot, at most JIANYI_FIGURES_MAX_AGE_SECONDS old
    (the page shows when they were computed); drill-downs and the overdue list stay live."""
    return snapshots.figures(session, actor=actor, period=where.period, scope=where.scope, now=utcnow())


@router.get("/board", response_class=HTMLResponse)
def board_page(
    request: Request,
    official: Official,
    session: SessionDep,
    snapshots: Snapshots,
    narrowing: Narrowing,
    period: PeriodParam = "",
    scope: ScopeParam = "",
) -> Response:
    """The whole board; to htmx (the filter form, the polling) only the figures partial."""
    office = board.scope(session, official)  # a department, a leader: 403
    where = parse_filter(session, official, period, scope, narrowing)
    figures = _figures(snapshots, session, official, where)
    late = snapshots.late_units(session, actor=official, now=utcnow(), among=where.scope)  # as the figures
    context = {
        "f": where,
        "figures": figures,
        "tables": [figures.table(name) for name in BOARD_TABLES],
        "unit_columns": UNIT_COLUMNS,
        "late_units": late,
        "charts": _charts(where, figures, late),
        "overdue": board.overdue(session, actor=official, now=utcnow(), among=where.scope, limit=20),
        "overdue_more": where.query(period=None),  # the overdue page's period is when they fell due
        "scope_label": scope_label(session, where.scope),
        "refresh": REFRESH_SECONDS,
        "max_age": snapshots.max_age,  # the figures are a snapshot at most this old (0: live)
    }
    if request.headers.get("hx-request"):
        return render(request, "board_figures.html.j2", context)
    context["periods"] = period_choices(where.period)
    context["scopes"] = scope_choices(session, office)
    return render(request, "board.html.j2", context)


@router.get("/board/export.{fmt}", response_class=Response)
def board_export(
    fmt: Format,
    official: Official,
    session: SessionDep,
    snapshots: Snapshots,
    narrowing: Narrowing,
    period: PeriodParam = "",
    scope: ScopeParam = "",
) -> Response:
    """The figures of exactly the board's filter, as the API's export writes them (the page's snapshot)."""
    board.scope(session, official)
    figures = _figures(
        snapshots, session, official, parse_filter(session, official, period, scope, narrowing)
    )
    return _file(figures_file(figures, fmt), fmt, f"figures-{figures.period.code}")


def _file(content: bytes, fmt: Format, name: str) -> Response:
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"', "cache-control": "no-store"},
    )


FigureParam = Annotated[str, Query(max_length=64)]
KeyParam = Annotated[str | None, Query(max_length=200)]


def _title(session: Session, figure: str, key: str | None) -> str:
    """A drill-down's heading: the figure's Chinese label and the key's (a unit's name, 按期…)."""
    labels = {n: r.label_zh for n, r in catalog.RATES.items()} | {
        n: t.label_zh for n, t in catalog.TABLES.items()
    }
    labels |= {f"unit_{column}": f"单位{label}" for column, label in UNIT_COLUMNS} | {
        catalog.BULLETIN: "月通报"
    }
    if key is None:
        return labels.get(figure, figure)
    shown = key
    rate, table = catalog.RATES.get(figure), catalog.TABLES.get(figure)
    if rate is not None:
        shown = {rate.numerator_key: "符合", rate.rest_key: "不符合"}.get(key, key)
    elif table is not None and not table.labels_are_units:
        shown = table.keys.get(key) or (key if key else table.blank)
    elif key:  # a unit's code
        shown = session.scalar(select(Unit.name).where(Unit.code == key)) or key
    return f"{labels.get(figure, figure)}：{shown or '无'}"


@router.get("/board/drill", response_class=HTMLResponse)
def drill(
    request: Request,
    official: Official,
    session: SessionDep,
    figure: FigureParam,
    narrowing: Narrowing,
    key: KeyParam = None,
    period: PeriodParam = "",
    scope: ScopeParam = "",
) -> Response:
    """The suggestions behind one number of the board, each a link to its page."""
    board.scope(session, official)
    where = parse_filter(session, official, period, scope, narrowing)
    rows = drilldown(
        session,
        actor=official,
        period=where.period,
        scope=where.scope,
        figure=figure,
        key=key,
        now=utcnow(),
        limit=DRILL_ROWS + 1,
    )
    codes = {row.tracking_code for row in rows}
    ids = (
        dict(
            session.execute(
                select(Suggestion.tracking_code, Suggestion.id).where(Suggestion.tracking_code.in_(codes))
            ).all()
        )
        if codes
        else {}
    )
    context = {
        "f": where,
        "figure": figure,
        "key": key,
        "title": _title(session, figure, key),
        "scope_label": scope_label(session, where.scope),
        "rows": rows[:DRILL_ROWS],
        "more": len(rows) > DRILL_ROWS,
        "ids": ids,
        "stages": {s.value: STAGE_LABELS[s] for s in Stage},
        "outcomes": {o.value: OUTCOME_LABELS[o] for o in Outcome},
    }
    return render(request, "board_drill.html.j2", context)


@router.get("/board/drill.{fmt}", response_class=Response)
def drill_export(
    fmt: Format,
    official: Official,
    session: SessionDep,
    figure: FigureParam,
    narrowing: Narrowing,
    key: KeyParam = None,
    period: PeriodParam = "",
    scope: ScopeParam = "",
) -> Response:
    """A drill-down's suggestions, every one of them, as CSV or XLSX."""
    board.scope(session, official)
    where = parse_filter(session, official, period, scope, narrowing)
    rows = drilldown(
        session, actor=official, period=where.period, scope=where.scope, figure=figure, key=key, now=utcnow()
    )
    title = f"{where.period.label} {where.scope} {figure}" + (f" {key}" if key else "")
    return _file(suggestions_file(rows, fmt, title=title), fmt, f"{figure}-{where.period.code}")


@router.get("/board/overdue", response_class=HTMLResponse)
def overdue_page(
    request: Request,
    official: Official,
    session: SessionDep,
    narrowing: Narrowing,
    unit: Annotated[str | None, Query(max_length=CODE)] = None,
    district: Annotated[str | None, Query(max_length=CODE)] = None,
    after: Annotated[str | None, Query(max_length=40, pattern=CURSOR)] = None,
    period: PeriodParam = "",
    scope: ScopeParam = "",
) -> Response:
    """The overdue steps, most overdue first, a page at a time: all of them, one unit's (a late unit's
    number) or one office's, narrowed like the board (office, channel, category, campaign) and to
    those that fell due in a period."""
    office = board.scope(session, official)
    if after is not None:
        _check_cursor(after)
    due_in = Period.parse(period) if period.strip() else None
    text = scope.strip()
    parts = [Scope.parse(text)] if text else []
    parts += [Scope(kind=ScopeKind(k), value=v) for k, v in narrowing.items()]
    among = Scope.combine(parts) if parts else None
    found = board.overdue(
        session,
        actor=official,
        now=utcnow(),
        unit=unit or None,
        district=district or None,
        after=after,
        among=among,
        due_in=due_in,
    )
    kept = {"unit": unit, "district": district, "period": due_in.code if due_in else None, "scope": text}
    kept |= narrowing
    more = urlencode({k: v for k, v in (*kept.items(), ("after", found.next)) if v})
    name = session.scalar(select(Unit.name).where(Unit.code == unit)) if unit else None
    context = {
        "page": found,
        "unit": unit,
        "unit_name": name,
        "district": district,
        "more": more,
        "kept": kept,
        "periods": period_choices(due_in or Period.containing("month", utcnow())),
        "scopes": scope_choices(session, office),
        "scope_label": scope_label(session, among) if among else "",
    }
    return render(request, "board_overdue.html.j2", context)
