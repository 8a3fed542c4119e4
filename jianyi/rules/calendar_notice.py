"""An official holiday notice (国务院办公厅关于…部分节假日安排的通知) typed into a YAML file.

Parsing and validation only; `jianyi.rules.calendar.load_notice` writes the result. The file::

    year: 2027
    notice: 国办发明电〔2026〕N号          # optional: the document it was typed from
    holidays: [{name: 元旦, from: 2027-01-01, to: 2027-01-01}, ...]
    workdays: [{name: 调休上班, date: 2027-02-07}, ...]   # make-up working days (weekends)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from jianyi.errors import InvalidInput

MAKE_UP_WORKDAY = "调休上班"
WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


class NoticeError(InvalidInput):
    """A notice file that cannot be loaded: the message names the file and each bad key,
    `detail` lists them as {"field", "message"} (the CLI prints one line per key)."""


class NoticeHoliday(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    from_: date = Field(alias="from")
    to: date

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to: date, info: ValidationInfo) -> date:
        start = info.data.get("from_")  # absent when `from` itself was invalid
        if start is not None and to < start:
            raise ValueError("before from")
        return to

    def days(self) -> list[date]:
        return [self.from_ + timedelta(i) for i in range((self.to - self.from_).days + 1)]


class NoticeWorkday(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default=MAKE_UP_WORKDAY, min_length=1, max_length=60)
    day: date = Field(alias="date")


class Notice(BaseModel):
    """One year's holidays (days off) and make-up working days (调休上班)."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    notice: str | None = Field(default=None, max_length=200)
    holidays: list[NoticeHoliday] = Field(min_length=1)
    workdays: list[NoticeWorkday] = Field(default_factory=list)

    def days(self) -> list[tuple[date, bool, str | None]]:
        """(day, workday, name) for every day of the year: weekends off unless listed as make-up
        working days, listed holidays off, every other day a working day."""
        holidays = {day: h.name for h in self.holidays for day in h.days()}
        workdays = {w.day: w.name for w in self.workdays}
        first = date(self.year, 1, 1)
        result: list[tuple[date, bool, str | None]] = []
        for day in (first + timedelta(i) for i in range((date(self.year + 1, 1, 1) - first).days)):
            if day in workdays:
                result.append((day, True, workdays[day]))
            else:
                result.append((day, day not in holidays and day.weekday() < 5, holidays.get(day)))
        return result


def _key(loc: Iterable[int | str]) -> str:
    """Pydantic's ('holidays', 2, 'to') as the file's reader writes it: holidays[2].to."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
    return key or "(top level)"


def _inconsistencies(notice: Notice) -> list[tuple[str, str]]:
    """What the field validators cannot see: dates outside the year, overlaps, odd make-up days."""
    year, problems = notice.year, []
    for i, h in enumerate(notice.holidays):
        for key, day in (("from", h.from_), ("to", h.to)):
            if day.year != year:
                # A notice's span may reach into the next year in principle; none has, and a day
                # of another year would silently rewrite that year, so it is refused.
                problems.append((f"holidays[{i}].{key}", f"{day} is not in {year}"))
    ordered = sorted(enumerate(notice.holidays), key=lambda item: item[1].from_)
    for (i, earlier), (j, later) in itertools.pairwise(ordered):
        if later.from_ <= earlier.to:
            problems.append((f"holidays[{j}].from", f"overlaps holidays[{i}] ({earlier.name})"))
    seen: set[date] = set()
    for i, w in enumerate(notice.workdays):
        key, day = f"workdays[{i}].date", w.day
        holiday = next((h.name for h in notice.holidays if h.from_ <= day <= h.to), None)
        if day.year != year:
            problems.append((key, f"{day} is not in {year}"))
        elif day.weekday() < 5:
            # Make-up days are always weekends; a weekday here is a typo in the date.
            problems.append((key, f"{day} is a {WEEKDAYS_ZH[day.weekday()]}, a working day already"))
        elif holiday is not None:
            problems.append((key, f"{day} is inside the holiday {holiday}"))
        elif day in seen:
            problems.append((key, f"{day} is listed twice"))
        seen.add(day)
    return problems


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay strings for Pydantic to check, which names the
    key of a bad one (PyYAML's own constructor raises a bare ValueError for 2027-13-01)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_notice(path: Path) -> Notice:
    """Parse and validate a notice file, or raise NoticeError naming the file and every bad key."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as exc:
        raise NoticeError(f"cannot read notice {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise NoticeError(f"notice {path} is not valid YAML: {exc}") from exc
    try:
        notice = Notice.model_validate(data)
        problems = _inconsistencies(notice)
    except ValidationError as exc:
        problems = [(_key(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
    if problems:
        listed = "; ".join(f"{key}: {message}" for key, message in problems)
        detail = [{"field": key, "message": message} for key, message in problems]
        raise NoticeError(f"invalid notice {path}: {listed}", detail=detail)
    return notice
