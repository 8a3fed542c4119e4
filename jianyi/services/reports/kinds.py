"""The five periodic reports of step 4 (协调督办): their titles, periods and schedules.

One table for the flow, the executor's cron jobs, the CLI and deployments/prefect.yaml (a test keeps
that file's schedules equal to these).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jianyi.services.figures import Period
from jianyi.services.figures.periods import PeriodKind

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class ReportKind:
    name: str  # weekly, monthly, quarterly, half_year, annual
    title: str  # what the office calls it
    period_kind: PeriodKind  # the figures service's period of the report
    cron: str  # when it is made, in Asia/Shanghai: just after its period has ended

    def last_complete(self, at: datetime) -> str:
        """The code of the last period that ended before ``at``: what a scheduled run reports on."""
        return Period.containing(self.period_kind, at).previous().code


KINDS: dict[str, ReportKind] = {
    kind.name: kind
    for kind in (
        ReportKind(
            "weekly", "周汇总", "week", "0 8 * * mon"
        ),  # Monday 08:00 (a name: APScheduler counts 0 as Monday)
        ReportKind("monthly", "月通报", "month", "0 8 1 * *"),  # the 1st at 08:00, the month before
        ReportKind("quarterly", "季督查", "quarter", "30 8 1 1,4,7,10 *"),
        ReportKind("half_year", "半年报告", "half", "0 9 1 1,7 *"),
        ReportKind("annual", "年度总结", "year", "30 9 1 1 *"),
    )
}


def kind_of(name: str) -> ReportKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown report kind {name!r}: one of {', '.join(KINDS)}") from None


def kind_for(period: Period) -> str:
    """The report kind of a period: 2026-W49 weekly, 2026-12 monthly, 2026-Q4, 2026-H2, 2026."""
    return next(kind.name for kind in KINDS.values() if kind.period_kind == period.kind)
