"""``jianyi reports``: make a period's report, list the reports, show one."""

from __future__ import annotations

from datetime import datetime

import typer
from prefect.settings import PREFECT_API_URL

from jianyi.cli.common import TokenOption, actor, domain_errors_as_exit_codes, emit, fail, session
from jianyi.models import Report
from jianyi.models.base import utcnow
from jianyi.models.report_schemas import report_out
from jianyi.services.reports import access
from jianyi.services.reports.kinds import KINDS

reports_app = typer.Typer(
    help="Periodic reports: 周汇总 weekly, 月通报 monthly, 季督查 quarterly, 半年报告 half_year, 年度总结 annual.",
    no_args_is_help=True,
)


@reports_app.command("run")
def run(
    kind: str = typer.Argument(..., help=", ".join(KINDS)),
    period: str | None = typer.Option(
        None, "--period", help="2026-W49, 2026-12, 2026-Q4, 2026-H2 or 2026; default: the last ended"
    ),
    correct: bool = typer.Option(False, "--correct", help="recompute: a new version, the old one kept"),
    note: str | None = typer.Option(None, "--note", help="with --correct: what the correction is"),
    now: datetime | None = typer.Option(None, "--now", help="take the figures as of this instant (ISO 8601)"),
    local: bool = typer.Option(
        False,
        "--local",
        help="run without Prefect (also when PREFECT_API_URL is unset): no flow run, no artifact",
    ),
    token: str | None = TokenOption,
) -> None:
    """Make the period's report, or get it back unchanged if it exists: as a Prefect flow run (its
    artifact on the run) when PREFECT_API_URL is set, else in this process."""
    if kind not in KINDS:
        fail(f"unknown kind {kind!r}: one of {', '.join(KINDS)}", code=7)
    if note and not correct:
        fail("--note goes with --correct", code=7)
    with session() as db:
        access.require_office(db, actor(db, token))
    at = utcnow() if now is None else now if now.tzinfo else now.astimezone()  # naive: local time
    with domain_errors_as_exit_codes():  # a period of another kind, say
        if local or not PREFECT_API_URL.value():
            from jianyi.tasks.reports import produce

            period = period or KINDS[kind].last_complete(at)
            report_id = produce(kind, period, at, correct=correct, note=note).report_id
        else:
            from jianyi.flows.reports import periodic_report

            result = periodic_report(kind=kind, period=period, correct=correct, note=note, now=at.isoformat())
            report_id = int(result["report_id"])
    with session() as db:
        emit(report_out(db.get_one(Report, report_id)))


@reports_app.command("list")
def list_(
    kind: str | None = typer.Option(None, "--kind"),
    period: str | None = typer.Option(None, "--period"),
    token: str | None = TokenOption,
) -> None:
    """The reports you may read, newest first."""
    with session() as db:
        emit(
            [report_out(r) for r in access.list_reports(db, actor=actor(db, token), kind=kind, period=period)]
        )


@reports_app.command("show")
def show(report_id: int = typer.Argument(...), token: str | None = TokenOption) -> None:
    """One version with its frozen figures, and where its PDF and HTML files are."""
    with session() as db:
        report = access.get_report(db, actor=actor(db, token), report_id=report_id)
        emit(
            {
                **report_out(report, detail=True).model_dump(mode="json"),
                "pdf_file": report.pdf_path,
                "html_file": report.html_path,
            }
        )
