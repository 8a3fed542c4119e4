"""The periodic reports, read-only: the list, each version's figures, its PDF and HTML. Who sees
which: jianyi.services.reports.access (the city office, leaders and administrators all; others only
reports about their own unit)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from jianyi.api.deps import CurrentActor, RecordId, SessionDep
from jianyi.api.documents import document
from jianyi.models.report_schemas import ReportDetail, ReportOut, report_out
from jianyi.services.reports import access
from jianyi.services.reports.kinds import kind_of

router = APIRouter(prefix="/api/reports", tags=["reports"])


@router.get("", response_model=list[ReportOut])
def list_reports(
    session: SessionDep,
    actor: CurrentActor,
    kind: str | None = Query(
        default=None, max_length=16, description="weekly, monthly, quarterly, half_year or annual"
    ),
    period: str | None = Query(
        default=None, max_length=16, description="e.g. 2026-W49, 2026-12, 2026-Q4, 2026-H2, 2026"
    ),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[ReportOut]:
    """Reports you may read, newest first, every version."""
    return [
        report_out(r)
        for r in access.list_reports(session, actor=actor, kind=kind, period=period, limit=limit)
    ]


def _file(session: SessionDep, actor: CurrentActor, report_id: int, suffix: str) -> FileResponse:
    report = access.get_report(session, actor=actor, report_id=report_id)
    path = report.pdf_path if suffix == "pdf" else report.html_path
    name = f"{kind_of(report.kind).title}-{report.period}-v{report.version}.{suffix}"
    return document(path, what=f"report {report_id}", suffix=suffix, filename=name)


# Before /{report_id}: "12.pdf" would otherwise reach it and fail as an id.
@router.get("/{report_id}.pdf", response_class=FileResponse)
def report_pdf(report_id: RecordId, session: SessionDep, actor: CurrentActor) -> FileResponse:
    """The report's PDF."""
    return _file(session, actor, report_id, "pdf")


@router.get("/{report_id}.html", response_class=FileResponse)
def report_html(report_id: RecordId, session: SessionDep, actor: CurrentActor) -> FileResponse:
    """The report's HTML (its charts inline)."""
    return _file(session, actor, report_id, "html")


@router.get("/{report_id}", response_model=ReportDetail)
def report_detail(report_id: RecordId, session: SessionDep, actor: CurrentActor) -> ReportOut:
    """One version with its frozen figures."""
    return report_out(access.get_report(session, actor=actor, report_id=report_id), detail=True)
