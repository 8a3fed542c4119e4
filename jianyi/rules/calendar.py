"""The working-day calendar: deadlines count working days on the Chinese calendar.

Days come from the `chinese_calendar` package (2004 up to the last year the installed version
knows) or from an official holiday notice typed into YAML (`jianyi.rules.calendar_notice`). A year
in calendar_years is published and has a row for every one of its days; a day of any other year
is counted Monday–Friday, and a deadline that touches it is provisional: never silently wrong.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from jianyi.models import CalendarDay, CalendarYear
from jianyi.models.base import utcnow
from jianyi.rules.calendar_notice import MAKE_UP_WORKDAY, WEEKDAYS_ZH, NoticeError, read_notice

__all__ = [
    "OFFICE_CUTOFF",
    "SHANGHAI",
    "WEEKDAYS_ZH",
    "Deadline",
    "NoticeError",
    "WorkingCalendar",
    "chinese_calendar_years",
    "load_notice",
    "seed_from_chinese_calendar",
]

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE_CUTOFF = time(17, 0)
CHINESE_CALENDAR = "chinese_calendar"
FIRST_CHINESE_CALENDAR_YEAR = 2004  # the package has no data before it


def _days_in(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _in_year(year: int) -> Any:
    return CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))


def _publish(session: Session, year: int, source: str) -> None:
    published = session.get(CalendarYear, year)
    if published is None:
        session.add(CalendarYear(year=year, source=source, loaded_at=utcnow()))
    else:
        published.source, published.loaded_at = source, utcnow()


def _known_to_chinese_calendar(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:  # how the package says "no data for this year"
        return False
    return True


def chinese_calendar_years(years: Iterable[int] | None = None) -> list[int]:
    """The years the installed chinese_calendar knows: those of `years`, or by default 2004 up to
    the last one, found by asking, so a newer version of the package extends the seed by itself."""
    if years is not None:
        return [year for year in years if _known_to_chinese_calendar(year)]
    return list(itertools.takewhile(_known_to_chinese_calendar, itertools.count(FIRST_CHINESE_CALENDAR_YEAR)))


def _chinese_calendar_day(day: date) -> tuple[bool, str | None]:
    workday = bool(chinese_calendar.is_workday(day))
    _, english = chinese_calendar.get_holiday_detail(day)
    if english is None:
        return workday, None
    name: str = chinese_calendar.Holiday(english).chinese
    # On a make-up working day the package names the holiday it makes up for.
    return workday, f"{name}{MAKE_UP_WORKDAY}" if workday else name


def seed_from_chinese_calendar(session: Session, *, years: Iterable[int] | None = None) -> int:
    """Write the years chinese_calendar knows (of `years`, by default all of them, 2004 to the last,
    detected); return the days inserted or changed.

    Idempotent: a second run writes nothing and leaves loaded_at alone, a newer package version
    rewrites only the days it corrects. A year loaded from a notice is the official word and is
    left alone. Flushes only; the caller commits.
    """
    written = 0
    for year in chinese_calendar_years(years):
        published = session.get(CalendarYear, year)
        if published is not None and published.source != CHINESE_CALENDAR:
            continue
        columns = (CalendarDay.day, CalendarDay.workday, CalendarDay.name, CalendarDay.source)
        existing = {row[0]: tuple(row[1:]) for row in session.execute(select(*columns).where(_in_year(year)))}
        new, changed = [], []
        for day in (date(year, 1, 1) + timedelta(i) for i in range(_days_in(year))):
            workday, name = _chinese_calendar_day(day)
            row = {"day": day, "workday": workday, "name": name, "source": CHINESE_CALENDAR}
            if day not in existing:
                new.append(row)
            elif existing[day] != (workday, name, CHINESE_CALENDAR):
                changed.append(row)
        if new:
            session.execute(insert(CalendarDay), new)
        if changed:
            session.execute(update(CalendarDay), changed)  # ORM bulk UPDATE by primary key
        if new or changed or published is None:
            _publish(session, year, CHINESE_CALENDAR)
        written += len(new) + len(changed)
    session.flush()
    return written


def load_notice(session: Session, path: Path) -> int:
    """Write every day of a notice's year, replacing any earlier load or seed of that year, and
    publish the year; return the number of days written. Raises NoticeError (file and key) for
    a broken file. Flushes only; the caller commits."""
    notice = read_notice(path)
    source = f"notice:{path.name}"
    rows = [{"day": d, "workday": w, "name": n, "source": source} for d, w, n in notice.days()]
    session.execute(delete(CalendarDay).where(_in_year(notice.year)))
    session.execute(insert(CalendarDay), rows)
    _publish(session, notice.year, source)
    session.flush()
    return len(rows)


# --- computing deadlines ------------------------------------------------------------------------


def _weekdays_before(ordinal: int) -> int:
    """Mondays–Fridays before `ordinal`, counted from ordinal 1 (0001-01-01, a Monday)."""
    weeks, rest = divmod(ordinal - 1, 7)
    return 5 * weeks + min(rest, 5)


def _nth_weekday(n: int) -> int:
    """The ordinal of the weekday with n weekdays before it: the inverse of _weekdays_before."""
    weeks, rest = divmod(n, 5)
    return 1 + 7 * weeks + rest


def _local(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: deadlines are computed from aware instants")
    return instant.astimezone(SHANGHAI)


@dataclass(frozen=True, slots=True)
class Deadline:
    """The end of the due day: `at` is 23:59:59.999999 Asia/Shanghai (see add_working_days)."""

    at: datetime
    provisional: bool  # some day counted lies in a year whose holidays are not published

    @property
    def day(self) -> date:
        return self.at.astimezone(SHANGHAI).date()


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Working days, precomputed for O(1) lookups: a flag and a running count per day over the
    published years (an unpublished year between them is filled Monday–Friday), a closed form
    of Monday–Friday outside them. Days are numbered by "rank": the working days before a day.
    Load once and share; load again after seeding or loading a notice."""

    first: int  # ordinal of the first day of the table (1 January of the first published year)
    flags: bytes  # 1 for a working day, one byte per day from `first`
    ranks: tuple[int, ...]  # ranks[i]: working days from `first` up to, not including, first + i
    workdays: tuple[int, ...]  # the ordinals of the table's working days, ascending
    published: frozenset[int]

    @classmethod
    def from_days(cls, days: Mapping[date, bool], published: Iterable[int]) -> WorkingCalendar:
        """From workday flags; every day of every published year must be in `days`."""
        years = sorted(set(published))
        if not years:
            return cls(first=1, flags=b"", ranks=(0,), workdays=(), published=frozenset())
        first, end = date(years[0], 1, 1).toordinal(), date(years[-1] + 1, 1, 1).toordinal()
        week = b"\x01" * 5 + b"\x00" * 2
        start = (first - 1) % 7  # the weekday of `first`
        flags = bytearray(((week[start:] + week[:start]) * ((end - first) // 7 + 1))[: end - first])
        counts = Counter(d.year for d in days)
        missing = [y for y in years if counts[y] != _days_in(y)]
        if missing:
            raise ValueError(f"published years without a row for every day: {missing}")
        wanted = set(years)
        for day, workday in days.items():
            if day.year in wanted:
                flags[day.toordinal() - first] = workday
        return cls(
            first=first,
            flags=bytes(flags),
            ranks=tuple(itertools.accumulate(flags, initial=0)),
            workdays=tuple(first + i for i, flag in enumerate(flags) if flag),
            published=frozenset(years),
        )

    @classmethod
    def load(cls, session: Session) -> WorkingCalendar:
        years = set(session.scalars(select(CalendarYear.year)))
        days = dict(session.execute(select(CalendarDay.day, CalendarDay.workday)).all())
        counts = Counter(d.year for d in days)
        incomplete = {y for y in years if counts[y] != _days_in(y)}
        if incomplete:
            # Treat them as unpublished: their deadlines come out provisional instead of wrong.
            log.warning("calendar years %s lack days; computing them Monday–Friday", sorted(incomplete))
        return cls.from_days(days, years - incomplete)

    def is_workday(self, day: date) -> bool:
        i = day.toordinal() - self.first
        return bool(self.flags[i]) if 0 <= i < len(self.flags) else day.weekday() < 5

    def unpublished_years(self, a: date, b: date) -> tuple[int, ...]:
        low, high = min(a, b).year, max(a, b).year
        return tuple(y for y in range(low, high + 1) if y not in self.published)

    def _rank(self, ordinal: int) -> int:
        """Working days before `ordinal`, counted from `first` (negative before it)."""
        end = self.first + len(self.flags)
        if ordinal < self.first:
            return _weekdays_before(ordinal) - _weekdays_before(self.first)
        if ordinal <= end:
            return self.ranks[ordinal - self.first]
        return self.ranks[-1] + _weekdays_before(ordinal) - _weekdays_before(end)

    def _ordinal(self, rank: int) -> int:
        """The working day of a rank: the inverse of _rank on working days."""
        total = self.ranks[-1]
        if rank < 0:
            return _nth_weekday(_weekdays_before(self.first) + rank)
        if rank < total:
            return self.workdays[rank]
        return _nth_weekday(_weekdays_before(self.first + len(self.flags)) + rank - total)

    def shift(self, day: date, days: int) -> date:
        """The `days`-th working day after `day` (before it if negative; `day` itself if 0)."""
        ordinal = day.toordinal()
        if days == 0:
            return day
        rank = self._rank(ordinal + 1) + days - 1 if days > 0 else self._rank(ordinal) + days
        return date.fromordinal(self._ordinal(rank))

    def day_zero(self, start: datetime, *, cutoff: time = OFFICE_CUTOFF) -> date:
        """The working day an item arriving at `start` counts as day 0."""
        local = _local(start)
        if self.is_workday(local.date()) and local.time() < cutoff:
            return local.date()
        return self.shift(local.date(), 1)

    def _deadline(self, since: date, due: date, provisional: bool = False) -> Deadline:
        at = datetime.combine(due, time.max, tzinfo=SHANGHAI)
        return Deadline(at=at, provisional=provisional or bool(self.unpublished_years(since, due)))

    def add_working_days(self, start: datetime, days: int, *, cutoff: time = OFFICE_CUTOFF) -> Deadline:
        """The deadline of an item that arrives at the instant `start` and is due in `days` working days.

        - Instants are read in Asia/Shanghai (zoneinfo); a naive datetime is refused (ValueError).
        - Day 0 is the arrival day if it is a working day and the local time is before `cutoff`
          (17:00 by default; exactly 17:00 is after); otherwise the next working day.
        - The deadline is the END of the `days`-th working day after day 0: "within 5 working days"
          means by the end of that day. `at` is 23:59:59.999999 local, the last instant of the due
          day rather than the next midnight, so that `at.date()` is the due day itself and
          `done_at <= at` is the test of "on time" (microseconds are what datetimes and PostgreSQL
          resolve). Example: 2026-09-28 (Monday, 10:00) + 5 is Saturday 2026-10-10 23:59:59.999999,
          a make-up working day after the National Day holiday.
        - Negative `days` count back from day 0; 0 is the end of day 0.
        - Days in a year that is not published count Monday–Friday and `provisional` is True.
        """
        local = _local(start)
        return self._deadline(local.date(), self.shift(self.day_zero(local, cutoff=cutoff), days))

    def extend(self, deadline: Deadline, days: int) -> Deadline:
        """The end of the `days`-th working day after a deadline's day (overrun rungs: "+2 WD")."""
        return self._deadline(deadline.day, self.shift(deadline.day, days), deadline.provisional)

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """Working days strictly between the local dates of `a` and `b`: the days wholly elapsed
        after a's day and before b's day; negative if b is before a. So that for a deadline,
        `working_days_between(deadline.at, now) >= n` exactly when `now > extend(deadline, n).at`, n >= 1."""
        first, second = _local(a).date().toordinal(), _local(b).date().toordinal()
        if second > first:
            return self._rank(second) - self._rank(first + 1)
        if second < first:
            return -(self._rank(first) - self._rank(second + 1))
        return 0
