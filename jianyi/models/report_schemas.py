"""What the API and the CLI show of a report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from jianyi.models.report import Report
from jianyi.services.reports.kinds import kind_of


class ReportOut(BaseModel):
    id: int
    kind: str
    title: str  # 周汇总, 月通报 …
    period: str
    period_label: str
    version: int
    note: str | None
    created_at: datetime
    emailed_at: datetime | None
    flow_run_id: str | None
    pdf: str  # the download paths
    html: str


class ReportDetail(ReportOut):
    figures: dict[str, Any]


def report_out(report: Report, *, detail: bool = False) -> ReportOut:
    values = {
        "id": report.id,
        "kind": report.kind,
        "title": kind_of(report.kind).title,
        "period": report.period,
        "period_label": report.period_label,
        "version": report.version,
        "note": report.note,
        "created_at": report.created_at,
        "emailed_at": report.emailed_at,
        "flow_run_id": report.flow_run_id,
        "pdf": f"/api/reports/{report.id}.pdf",
        "html": f"/api/reports/{report.id}.html",
    }
    return ReportDetail(**values, figures=report.figures) if detail else ReportOut(**values)
