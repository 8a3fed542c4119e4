"""Freezing a period's figures: the first run of a period stores them, every later run gets them back.

A report's figures are computed once, by the figures service, and kept as JSON in ``reports``: re-run,
the period gives the same report (same version, same figures, no second mail); a correction is asked
for explicitly and becomes the next version, the earlier ones kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import InvalidInput
from jianyi.models import Report
from jianyi.models.enums import Role
from jianyi.services.actors import Actor
from jianyi.services.figures import Period, Scope, compute_figures, trend_counts
from jianyi.services.reports.kinds import kind_for, kind_of

# Who computes a report's figures: the system, on the office's behalf (the whole network).
REPORTS = Actor(label="reports", role=Role.admin)
CITY = "city"
TREND_WEEKS = 8  # a weekly summary's trend shows the weeks before it too


def latest(session: Session, *, kind: str, period: str, scope_key: str = CITY) -> Report | None:
    return session.scalar(
        select(Report)
        .where(Report.kind == kind, Report.period == period, Report.scope_key == scope_key)
        .order_by(Report.version.desc())
        .limit(1)
    )


def trend_periods(period: Period, *, at_least: int = TREND_WEEKS) -> list[Period]:
    """The periods a report's trend shows: the ISO weeks that overlap a week, month or quarter, with
    earlier ones so that there are ``at_least``; the months of a half-year or a year."""
    if period.kind in ("half", "year"):
        months = [Period.containing("month", period.start)]
        while months[-1].end < period.end:
            months.append(Period.containing("month", months[-1].end))
        return months
    last = Period.containing("week", period.end - timedelta(seconds=1))
    weeks = [last]
    while weeks[0].start > period.start or len(weeks) < at_least:
        weeks.insert(0, weeks[0].previous())
    return weeks


def trend(session: Session, period: Period, now: datetime) -> dict[str, Any]:
    """Period by period (weeks or months, ``trend_periods``): suggestions received, referrals to units,
    late answers, as the figures service counts them as of ``now`` (periods not yet begun left out)."""
    shown = [p for p in trend_periods(period) if p.start < now]
    series: dict[str, list[int]] = {"收到建议": [], "转办单位": [], "超期办理": []}
    for each in shown:
        found = trend_counts(session, actor=REPORTS, period=each, scope=Scope.city(), now=now)
        series["收到建议"].append(found["received"])
        series["转办单位"].append(found["referred"])
        series["超期办理"].append(found["late"])
    by = "month" if period.kind in ("half", "year") else "week"
    return {"by": by, "periods": [each.code for each in shown], "series": series}


def freeze(
    session: Session,
    *,
    kind: str,
    period: str,
    now: datetime,
    correct: bool = False,
    note: str | None = None,
    flow_run_id: str | None = None,
) -> Report:
    """The report of ``kind`` for ``period``: the latest version stored, or (none yet, or ``correct``)
    a new version with the figures computed as of ``now``. Flushes; the caller commits. Two runs
    of one period at once: the unique version makes the second's commit fail, and its retry finds
    the first's report."""
    kind_of(kind)
    parsed = Period.parse(period)
    if kind_for(parsed) != kind:
        raise InvalidInput(f"{period} is not a period of the {kind} report")
    period = parsed.code
    before = latest(session, kind=kind, period=period)
    if before is not None and not correct:
        return before
    figures = compute_figures(session, actor=REPORTS, period=parsed, scope=Scope.city(), now=now)
    frozen = figures.model_dump(mode="json")
    frozen["trend"] = trend(session, parsed, now)
    report = Report(
        kind=kind,
        period=period,
        period_label=parsed.label,
        scope_key=CITY,
        version=before.version + 1 if before is not None else 1,
        note=note,
        figures=frozen,
        created_at=now,
        flow_run_id=flow_run_id,
    )
    session.add(report)
    session.flush()
    return report
