"""The supervision board's filter: the period, the scope and the narrowing fields of the URL, parsed
into one figures Scope, with the choices the filter form offers and the labels it shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from jianyi.models import Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.models.enums import UnitKind
from jianyi.models.step_inputs import CODE
from jianyi.services.actors import Actor
from jianyi.services.figures import Period, Scope, ScopeKind
from jianyi.services.figures.access import default_scope
from jianyi.services.figures.catalog import CHANNEL_LABELS
from jianyi.services.figures.sql import distinct_values

# The fields that narrow the board at once (an office AND a channel AND a category AND a campaign),
# each a parameter of its own in the URL, combined with ``scope`` into one figures Scope.
NARROWING = (ScopeKind.office, ScopeKind.channel, ScopeKind.category, ScopeKind.campaign)


def narrowing_of(
    office: Annotated[str, Query(max_length=CODE)] = "",
    channel: Annotated[str, Query(max_length=CODE)] = "",
    category: Annotated[str, Query(max_length=200)] = "",
    campaign: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, str]:
    given = {"office": office, "channel": channel, "category": category, "campaign": campaign}
    return {k: v.strip() for k, v in given.items() if v.strip()}


Narrowing = Annotated[dict[str, str], Depends(narrowing_of)]


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


def parse_filter(
    session: Session, actor: Actor, period: str, scope: str, narrowing: dict[str, str]
) -> Filter:
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


def scope_label(session: Session, scope: Scope) -> str:
    """The scope in Chinese: 渠道：来信, 办理机构：黄浦区人民建议征集办公室…, combined ones joined."""
    return "；".join(part_label(session, part) for part in scope.parts())


def part_label(session: Session, scope: Scope) -> str:
    value = scope.value or ""
    if scope.kind in (ScopeKind.office, ScopeKind.unit, ScopeKind.region):
        value = session.scalar(select(Unit.name).where(Unit.code == value)) or value
    elif scope.kind is ScopeKind.channel:
        value = CHANNEL_LABELS.get(value, value)
    return SCOPE_KINDS[scope.kind] + (f"：{value}" if value else "")


def period_choices(current: Period) -> list[tuple[str, str]]:
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


def scope_choices(session: Session, office: int | None) -> list[tuple[str, str, list[tuple[str, str]]]]:
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
