"""The period and the scope a set of figures is computed for.

A period is a week (ISO), month, quarter, half year or year of the office's calendar: its bounds are
midnights in Asia/Shanghai, held as aware UTC instants, the end exclusive. A scope narrows the
suggestions counted: the whole city, one handling office, one unit, a category, a channel, a
campaign or a region.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from jianyi.errors import InvalidInput
from jianyi.rules.calendar import SHANGHAI

PeriodKind = Literal["week", "month", "quarter", "half", "year"]

_PATTERNS: tuple[tuple[PeriodKind, re.Pattern[str]], ...] = (
    ("week", re.compile(r"^(\d{4})-W(\d{1,2})$")),
    ("month", re.compile(r"^(\d{4})-(\d{1,2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("half", re.compile(r"^(\d{4})-H([12])$")),
    ("year", re.compile(r"^(\d{4})$")),
)
_QUARTERS_ZH = ("一", "二", "三", "四")


def _midnight(day: date) -> datetime:
    """The local midnight opening ``day``, as an aware UTC instant."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def _bounds(kind: PeriodKind, year: int, number: int) -> tuple[date, date, str, str]:
    """First day, first day after, code and Chinese label of a period."""
    if kind == "week":
        first = date.fromisocalendar(year, number, 1)
        return first, first + timedelta(days=7), f"{year}-W{number:02d}", f"{year}年第{number}周"
    if kind == "month":
        after = date(year + (number == 12), number % 12 + 1, 1)
        return date(year, number, 1), after, f"{year}-{number:02d}", f"{year}年{number}月"
    if kind == "quarter":
        first = date(year, 3 * number - 2, 1)
        after = date(year + (number == 4), (3 * number) % 12 + 1, 1)
        return first, after, f"{year}-Q{number}", f"{year}年第{_QUARTERS_ZH[number - 1]}季度"
    if kind == "half":
        first, after = date(year, 6 * number - 5, 1), date(year + (number == 2), (6 * number) % 12 + 1, 1)
        return first, after, f"{year}-H{number}", f"{year}年{'上' if number == 1 else '下'}半年"
    return date(year, 1, 1), date(year + 1, 1, 1), f"{year}", f"{year}年"


class Period(BaseModel):
    """A reporting period: ``Period.parse("2026-W49" | "2026-12" | "2026-Q4" | "2026-H2" | "2026")``."""

    model_config = ConfigDict(frozen=True)

    kind: PeriodKind
    code: str  # as parsed, normalised: 2026-W49, 2026-12, 2026-Q4, 2026-H2, 2026
    label: str  # 2026年第49周, 2026年12月, 2026年第四季度, 2026年下半年, 2026年
    start: datetime  # aware UTC: local midnight of the first day
    end: datetime  # aware UTC: local midnight after the last day (exclusive)
    number: int  # the week, month, quarter or half within the year (1 for a year)
    year: int

    @classmethod
    def of(cls, kind: PeriodKind, year: int, number: int = 1) -> Period:
        try:
            first, after, code, label = _bounds(kind, year, number)
        except ValueError as exc:  # week 53 of a 52-week year, month 13
            raise InvalidInput(
                f"period: no {kind} {number} in {year}", detail=[{"field": "period", "message": str(exc)}]
            ) from exc
        return cls(
            kind=kind,
            code=code,
            label=label,
            start=_midnight(first),
            end=_midnight(after),
            number=number,
            year=year,
        )

    @classmethod
    def parse(cls, text: str) -> Period:
        value = text.strip().upper()
        for kind, pattern in _PATTERNS:
            match = pattern.match(value)
            if match:
                year, *rest = (int(part) for part in match.groups())
                return cls.of(kind, year, rest[0] if rest else 1)
        raise InvalidInput(
            f"period: not a period: {text!r}",
            detail=[{"field": "period", "message": "expected 2026-W49, 2026-12, 2026-Q4, 2026-H2 or 2026"}],
        )

    @classmethod
    def containing(cls, kind: PeriodKind, instant: datetime) -> Period:
        """The period of this kind that holds the instant (read in Asia/Shanghai)."""
        day = instant.astimezone(SHANGHAI).date()
        if kind == "week":
            iso = day.isocalendar()
            return cls.of("week", iso.year, iso.week)
        number = {"month": day.month, "quarter": (day.month - 1) // 3 + 1, "half": (day.month - 1) // 6 + 1}
        return cls.of(kind, day.year, number.get(kind, 1))

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return Period.containing(self.kind, self.start - timedelta(seconds=1))

    def as_of(self, now: datetime) -> datetime:
        """The instant the figures describe: the period's end, or now while it is still running."""
        return min(self.end, now)

    def __str__(self) -> str:
        return self.code


class ScopeKind(StrEnum):
    city = "city"  # every suggestion the actor may see
    office = "office"  # one handling office (city or district), by unit code
    unit = "unit"  # suggestions referred to one unit, and the steps that unit owes
    category = "category"
    channel = "channel"
    campaign = "campaign"  # the suggestion's campaign field
    region = "region"  # a district or sub-district (and the sub-districts under it), by unit code


class Scope(BaseModel):
    """Which suggestions: ``Scope.parse("unit:city-transport")``, ``Scope.city()``."""

    model_config = ConfigDict(frozen=True)

    kind: ScopeKind
    value: str | None = None
    # More scopes all of which the suggestions also meet (an office AND a category AND a channel…).
    also: tuple[Scope, ...] = ()

    @classmethod
    def city(cls) -> Scope:
        return cls(kind=ScopeKind.city)

    @classmethod
    def parse(cls, text: str | None) -> Scope:
        if text is None or text.strip() in ("", "city"):
            return cls.city()
        kind, sep, value = text.strip().partition(":")
        if kind not in ScopeKind.__members__ or not sep or not value.strip():
            raise InvalidInput(
                f"scope: not a scope: {text!r}",
                detail=[
                    {
                        "field": "scope",
                        "message": "expected city or KIND:VALUE with KIND one of "
                        + ", ".join(k.value for k in ScopeKind if k is not ScopeKind.city),
                    }
                ],
            )
        return cls(kind=ScopeKind(kind), value=value.strip())

    @model_serializer(mode="wrap")
    def _shown(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A single scope reads as it always did: {kind, value}.
        data: dict[str, Any] = handler(self)
        if not self.also:
            data.pop("also", None)
        return data

    @classmethod
    def combine(cls, parts: list[Scope]) -> Scope:
        """The suggestions every one of ``parts`` takes in (none: the whole city)."""
        if not parts:
            return cls.city()
        return parts[0].model_copy(update={"also": (*parts[0].also, *parts[1:])})

    @classmethod
    def parse_all(cls, texts: list[str]) -> Scope | None:
        """Scopes given together (``scope`` repeated in a URL, ``--scope`` on the command line): the
        suggestions each takes in, "city" adding nothing; None if none was given."""
        parts = [cls.parse(text) for text in texts if text.strip()]
        narrower = [part for part in parts if part.kind is not ScopeKind.city]
        return cls.combine(narrower) if narrower else (cls.city() if parts else None)

    def parts(self) -> list[Scope]:
        """This scope and those combined with it, each on its own."""
        return [self.model_copy(update={"also": ()}), *(p for more in self.also for p in more.parts())]

    def __str__(self) -> str:
        own = self.kind.value if self.value is None else f"{self.kind.value}:{self.value}"
        return " + ".join([own, *(str(more) for more in self.also)])
