"""The supervision board (督办看板) for the offices, their supervisors and administrators: the figures
of a period and scope (services/figures), the units late with their steps and the overdue list
(services/board), every number a link to the suggestions behind it, the current filter exported as
CSV or XLSX, the figures refreshed by htmx polling a partial. Who sees what is the services' rule (a
district office its own suggestions; a department or leader the 403 page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from jianyi.api.deps import SessionDep, Snapshots
from jianyi.api.routes.board import CURSOR, _check_cursor
from jianyi.models import Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.models.board_schemas import LateUnit
from jianyi.models.enums import OUTCOME_LABELS, STAGE_LABELS, Outcome, Stage, UnitKind
from jianyi.models.step_inputs import CODE
from jianyi.services import board
from jianyi.services.actors import Actor
from jianyi.services.figures import FigureSet, Period, Scope, ScopeKind, catalog, drilldown
from jianyi.services.figures.access import default_scope
from jianyi.services.figures.catalog import CHANNEL_LABELS
from jianyi.services.figures.export import MEDIA_TYPES, figures_file, suggestions_file
from jianyi.services.figures.sql import distinct_values
from jianyi.web.accounts import Official
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


# The fields that narrow the board at once (an office AND a channel AND a category AND a campaign),
# each a parameter of its own in the URL, combined with ``scope`` into one figures Scope.
NARROWING = (ScopeKind.office, ScopeKind.channel, ScopeKind.category, ScopeKind.campaign)


def _narrowing(
    office: Annotated[str, Query(max_length=CODE)] = "",
    channel: Annotated[str, Query(max_length=CODE)] = "",
    category: Annotated[str, Query(max_length=200)] = "",
    campaign: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, str]:
    given = {"office": office, "channel": channel, "category": category, "campaign": campaign}
    return {k: v.strip() for k, v in given.items() if v.strip()}


Narrowing = Annotated[dict[str, str], Depends(_narrowing)]


@dataclass(frozen=True)
class Filter:
    """The filter as given in the URL (period, scope and the narrowing fields), parsed; bad values are
    a 422 naming the field."""

    period: Period
    scope: Scope  # every part combined
    scope_text: str  # as in the URL ('' for the caller's default)
    narrowing: dict[str, str]  # office, channel, category, campaign: those given

    @property
    def shown(self) -> dict[str, str]:
        """What the narrowing selects show: the fields given, and ``scope`` when it is one of them
        (scope=channel:letter shows in the channel select, which then carries it)."""
        kind, _, value = self.scope_text.partition(":")
        return ({kind: value} if kind in NARROWING and value else {}) | self.narrowing

    @property
    def hidden_scope(self) -> str:
        """``scope`` when no select carries it (a unit's, a region's), kept by a hidden input."""
        return self.scope_text if self.scope_text.partition(":")[0] not in NARROWING else ""

    def query(self, **more: str | None) -> str:
        """The URL query of this filter, with more parameters (None: left out)."""
        pairs = {"period": self.period.code, "scope": self.scope_text, **self.narrowing, **more}
        return urlencode({k: v for k, v in pairs.items() if v is not None and (v != "" or k == "key")})


def _filter(session: Session, actor: Actor, period: str, scope: str, narrowing: dict[str, str]) -> Filter:
    parsed = Period.parse(period) if period.strip() else Period.containing("month", utcnow())
    text = scope.strip()
    parts = [Scope.parse(text)] if text else []
    parts += [Scope(kind=ScopeKind(k), value=v) for k, v in narrowing.items()]
    combined = Scope.combine(parts) if parts else default_scope(session, actor)
    return Filter(parsed, combined, text, narrowing)


SCOPE_KINDS = {
    ScopeKind.city: "全部",
    ScopeKind.office: "办理机构",
    ScopeKind.unit: "承办单位",
    ScopeKind.category: "类别",
    ScopeKind.channel: "渠道",
    ScopeKind.campaign: "主动征集活动",
    ScopeKind.region: "地区",
}


def _scope_label(session: Session, scope: Scope) -> str:
    """The scope in Chinese: 渠道：来信, 办理机构：黄浦区人民建议征集办公室…, combined ones joined."""
    return "；".join(_part_label(session, part) for part in scope.parts())


def _part_label(session: Session, scope: Scope) -> str:
    value = scope.value or ""
    if scope.kind in (ScopeKind.office, ScopeKind.unit, ScopeKind.region):
        value = session.scalar(select(Unit.name).where(Unit.code == value)) or value
    elif scope.kind is ScopeKind.channel:
        value = CHANNEL_LABELS.get(value, value)
    return SCOPE_KINDS[scope.kind] + (f"：{value}" if value else "")


def _period_choices(current: Period) -> list[tuple[str, str]]:
    """Recent periods to choose from (the current one listed even when older)."""
    now = utcnow()
    month, week = Period.containing("month", now), Period.containing("week", now)
    choices = [week, week.previous(), month]
    for _ in range(5):
        choices.append(choices[-1].previous())
    quarter, half, year = (Period.containing(k, now) for k in ("quarter", "half", "year"))
    choices += [quarter, quarter.previous(), half, half.previous(), year, year.previous()]
    if current.code not in {p.code for p in choices}:
        choices.insert(0, current)
    return [(p.code, p.label) for p in choices]


def _scope_choices(session: Session, office: int | None) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The narrowing fields and their choices (name, label, options): offices (a district office only
    its own), channels, and the categories and campaigns its suggestions have."""
    kinds = (UnitKind.city_office, UnitKind.district_office)
    offices = select(Unit.code, Unit.name).where(Unit.kind.in_(kinds)).order_by(Unit.kind, Unit.code)
    if office is not None:
        offices = offices.where(Unit.id == office)

    def distinct(column: InstrumentedAttribute[str | None]) -> list[str]:
        if office is None:  # the city: skipping through the column's index
            return distinct_values(session, column)
        query = select(column).where(column.is_not(None)).distinct().order_by(column)
        return [value for value in session.scalars(query.where(Suggestion.office_unit_id == office)) if value]

    return [
        ("office", "办理机构", [(code, name) for code, name in session.execute(offices)]),
        ("channel", "渠道", list(CHANNEL_LABELS.items())),
        ("category", "类别", [(v, v) for v in distinct(Suggestion.category)]),
        ("campaign", "主动征集活动", [(v, v) for v in distinct(Suggestion.campaign)]),
    ]


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
    where = _filter(session, official, period, scope, narrowing)
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
        "scope_label": _scope_label(session, where.scope),
        "refresh": REFRESH_SECONDS,
        "max_age": snapshots.max_age,  # the figures are a snapshot at most this old (0: live)
    }
    if request.headers.get("hx-request"):
        return render(request, "board_figures.html.j2", context)
    context["periods"] = _period_choices(where.period)
    context["scopes"] = _scope_choices(session, office)
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
    figures = _figures(snapshots, session, official, _filter(session, official, period, scope, narrowing))
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
    where = _filter(session, official, period, scope, narrowing)
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
        "scope_label": _scope_label(session, where.scope),
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
    where = _filter(session, official, period, scope, narrowing)
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
        "periods": _period_choices(due_in or Period.containing("month", utcnow())),
        "scopes": _scope_choices(session, office),
        "scope_label": _scope_label(session, among) if among else "",
    }
    return render(request, "board_overdue.html.j2", context)
