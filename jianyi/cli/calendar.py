"""``jianyi calendar``: the working-day calendar deadlines are counted on (工作日历)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import typer
from sqlalchemy import select

from jianyi.cli.common import fail, session
from jianyi.models import CalendarDay, CalendarYear
from jianyi.rules.calendar import (
    OFFICE_CUTOFF,
    SHANGHAI,
    WEEKDAYS_ZH,
    WorkingCalendar,
    chinese_calendar_years,
    load_notice,
    seed_from_chinese_calendar,
)
from jianyi.rules.calendar_notice import read_notice

calendar_app = typer.Typer(
    help="Working-day calendar (工作日历): holidays and make-up working days, deadlines in working days.",
    no_args_is_help=True,
)


def _instant(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        fail(f"START must be a date (2026-09-28) or an ISO datetime (2026-09-28T10:00+08:00), not {text!r}")
    # A bare date is the start of that day; a datetime without offset is Shanghai local time.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=SHANGHAI)


def _cutoff(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        fail(f"--cutoff must be HH:MM, not {text!r}")


@calendar_app.command()
def due(
    start: str = typer.Argument(..., help="arrival: a date or an ISO datetime (no offset = Shanghai time)"),
    days: int = typer.Argument(..., help="working days allowed (negative counts back)"),
    cutoff: str = typer.Option(
        OFFICE_CUTOFF.strftime("%H:%M"),
        "--cutoff",
        help="items arriving at or after this time count from the next working day",
    ),
) -> None:
    """The deadline of an item arriving at START with DAYS working days to go."""
    arrival = _instant(start)
    with session() as db:
        calendar = WorkingCalendar.load(db)
    deadline = calendar.add_working_days(arrival, days, cutoff=_cutoff(cutoff))
    local = deadline.at.astimezone(SHANGHAI)
    line = f"{local:%Y-%m-%d %H:%M:%S} {WEEKDAYS_ZH[local.weekday()]} (Asia/Shanghai)"
    if deadline.provisional:
        missing = calendar.unpublished_years(arrival.astimezone(SHANGHAI).date(), local.date())
        line += f" (provisional: {', '.join(map(str, missing))} not published)"
    typer.echo(line)


@calendar_app.command()
def load(
    file: Path = typer.Argument(..., help="a year's holiday notice as YAML (see rules/notices/)"),
) -> None:
    """Load an official holiday notice: replaces every day of its year, and recomputes the provisional
    deadlines of open steps (computed Monday–Friday while the year was unpublished)."""
    from jianyi.services.deadlines import replan_provisional

    with session() as db:
        year = read_notice(file).year
        written = load_notice(db, file)
        db.flush()
        replanned = replan_provisional(db)
    typer.echo(
        f"{year}: {written} days written from {file.name}; {replanned} provisional deadline(s) recomputed"
    )


@calendar_app.command()
def seed() -> None:
    """Fill every year the installed chinese_calendar knows (years loaded from notices are kept)."""
    with session() as db:
        written = seed_from_chinese_calendar(db)
    known = chinese_calendar_years()
    typer.echo(f"chinese_calendar covers {known[0]}–{known[-1]}: {written} days written")


@calendar_app.command()
def show(year: int = typer.Argument(..., help="the year")) -> None:
    """The holidays and make-up working days of a published year."""
    with session() as db:
        published = db.get(CalendarYear, year)
        if published is None:
            fail(f"{year} is not published: its days count Monday–Friday (load its notice)", code=5)
        rows = db.scalars(
            select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
            .order_by(CalendarDay.day)
        ).all()  # fmt: skip
    spans: list[tuple[str, date, date]] = []  # consecutive named days off, one line per holiday
    for row in rows:
        if row.workday or row.name is None:
            continue
        if spans and spans[-1][0] == row.name and spans[-1][2] + timedelta(days=1) == row.day:
            spans[-1] = (row.name, spans[-1][1], row.day)
        else:
            spans.append((row.name, row.day, row.day))
    typer.echo(f"{year}: {sum(r.workday for r in rows)} working days (source {published.source})")
    typer.echo("holidays 放假:")
    for name, first, last in spans:
        typer.echo(f"  {first} – {last}  {(last - first).days + 1} 天  {name}")
    typer.echo("make-up working days 调休上班:")
    for row in rows:
        if row.workday and row.day.weekday() >= 5:
            typer.echo(f"  {row.day} {WEEKDAYS_ZH[row.day.weekday()]}  {row.name or ''}".rstrip())
