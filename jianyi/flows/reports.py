"""The periodic reports of step 4 (协调督办): weekly summary 周汇总, monthly bulletin 月通报, quarterly
inspection 季督查, half-year report 半年报告, annual summary 年度总结. One flow run makes one period's
report: period → freeze (task) → render (task) → mail (task) → a markdown artifact on the run.

jianyi's executor registers one deployment per kind and triggers their runs from its own cron jobs
(``jianyi.executor.reports``); deployments/prefect.yaml has the same deployments with Prefect
schedules, for the standard Prefect way. Re-running a period returns its report unchanged, with no
second mail; ``correct=True`` makes the next version and keeps the earlier ones.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext

from jianyi.db import read_scope
from jianyi.models import Report
from jianyi.models.base import utcnow
from jianyi.services.reports.kinds import kind_of
from jianyi.services.reports.summary import markdown
from jianyi.settings import get_settings
from jianyi.tasks.reports import freeze_task, mail_task, render_task

FLOW_NAME = "periodic-report"


def artifact_key(kind: str, period: str) -> str:
    """Prefect's artifact keys allow lowercase letters, digits and dashes: one key per period, so its
    versions (and re-runs) line up as that key's history."""
    return re.sub(r"[^a-z0-9-]", "-", f"report-{kind}-{period}".lower())


def _summary(report_id: int) -> str:
    with read_scope() as session:
        report = session.get_one(Report, report_id)
        link = f"{get_settings().resolved_public_url}/api/reports/{report.id}"
        return markdown(report, pdf_url=f"{link}.pdf", html_url=f"{link}.html")


@flow(name=FLOW_NAME, persist_result=False, log_prints=False)
def periodic_report(
    kind: str,
    period: str | None = None,
    correct: bool = False,
    note: str | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """One period's report of ``kind`` (weekly, monthly, quarterly, half_year, annual); ``period``
    (2026-W49, 2026-12, 2026-Q4, 2026-H2, 2026) defaults to the last one that has ended; ``now``
    (ISO 8601) is the instant the figures are taken at, by default the present."""
    at = datetime.fromisoformat(now) if now else utcnow()
    period = period or kind_of(kind).last_complete(at)
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    made = freeze_task(kind, period, at.isoformat(), correct=correct, note=note, flow_run_id=run_id)
    report_id = made["report_id"]
    files = render_task(report_id)
    queued = mail_task(report_id, at.isoformat())
    create_markdown_artifact(
        markdown=_summary(report_id),
        key=artifact_key(kind, period),
        description=f"{kind_of(kind).title} {period} v{made['version']}",
    )
    get_run_logger().info(
        "%s %s: version %s (%s), %d mail(s) queued",
        kind,
        period,
        made["version"],
        "new" if made["new"] else "unchanged",
        queued,
    )
    return {**made, "new": bool(made["new"]), **files, "period": period, "mails_queued": queued}
