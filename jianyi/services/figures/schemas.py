"""What the figures service answers: a ``FigureSet`` (JSON-serialisable) and the rows of a drill-down.

Every number names the figure (and the key within it) that ``drilldown`` lists the suggestions of.
No personal data: a proposer is never named, only the suggestion's tracking code and title.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from jianyi.services.figures.periods import Period, Scope


class Rate(BaseModel):
    """numerator ÷ denominator; ``value`` is None when nothing was counted (no 0 % for an empty period)."""

    name: str
    label_zh: str
    numerator: int
    denominator: int
    value: float | None = Field(description="numerator / denominator, 0..1; None if the denominator is 0")
    numerator_key: str = Field(description="drill-down key of the items counted in the numerator")
    rest_key: str = Field(description="drill-down key of the items in the denominator only")


class CountRow(BaseModel):
    key: str = Field(description="the drill-down key ('' for items without a value, e.g. no category)")
    label: str
    count: int


class CountTable(BaseModel):
    name: str
    label_zh: str
    rows: list[CountRow]

    @property
    def total(self) -> int:
        return sum(row.count for row in self.rows)

    def count(self, key: str) -> int:
        return next((row.count for row in self.rows if row.key == key), 0)


class UnitRow(BaseModel):
    """One unit's line of the units table. Each count drills down as figure ``unit_<column>``, key the
    unit's code (e.g. ``unit_late`` / ``city-transport``)."""

    unit: str
    name: str
    referred: int = Field(description="suggestions referred to the unit in the period (lead or co)")
    on_time: int = Field(description="its lead opinions in the on-time handling figure, on time")
    late: int = Field(description="…and late (answered late, or still open past the deadline)")
    open_overdue: int = Field(description="steps the unit owes, unanswered and past the deadline")
    max_working_days_overdue: int = Field(description="the oldest of them: working days overdue")
    escalated: int = Field(description="suggestions handed up to the office above over the unit's steps")
    orders_issued: int = Field(description="supervision orders (督办单) issued to the unit")
    orders_answered: int
    orders_late: int = Field(description="supervision orders answered after their own deadline")


class BulletinItem(BaseModel):
    """A suggestion marked for the monthly bulletin (月通报) by a supervision rung in the period."""

    tracking_code: str
    title: str
    office: str
    units: list[str] = Field(description="codes of the units whose late steps marked it")
    months: list[str] = Field(description="the months it was marked in, e.g. ['2026-11', '2026-12']")
    last_marked_at: datetime


class FigureSet(BaseModel):
    """Every figure of one period and scope, as of ``as_of`` (the period's end, or now if earlier)."""

    period: Period
    scope: Scope
    as_of: datetime
    computed_at: datetime
    rates: list[Rate]
    tables: list[CountTable]
    units: list[UnitRow]
    bulletin: list[BulletinItem]

    def rate(self, name: str) -> Rate:
        return next(rate for rate in self.rates if rate.name == name)

    def table(self, name: str) -> CountTable:
        return next(table for table in self.tables if table.name == name)

    def unit(self, code: str) -> UnitRow | None:
        return next((row for row in self.units if row.unit == code), None)


class SuggestionRow(BaseModel):
    """One item behind a number. A figure that counts steps lists one row per step (a suggestion
    whose opinion was late twice appears twice): the list is exactly as long as the number."""

    tracking_code: str
    title: str
    unit: str | None = Field(description="code of the unit the item is counted for (the owing unit)")
    unit_name: str | None
    stage: str
    outcome: str | None
    due: datetime | None = Field(description="the deadline the item was measured against")
    done: datetime | None = Field(description="when it was answered (None: unanswered)")
    working_days_late: int | None = Field(description="None if on time or without a deadline")
    percent: int | None = None  # implementation figures: the latest progress report's percentage
    form: str | None = None  # …and the form it takes (Art. 13)
