"""The report flow's tasks: freeze, render, mail. Each takes ids and plain values, opens its own
units of work (the services only flush) and returns plain data. The plain functions are what the
CLI runs when there is no Prefect server to record a flow run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import IntegrityError

from jianyi.db import read_scope, session_scope
from jianyi.models import Report
from jianyi.services.reports import freeze, mail, render


@dataclass(frozen=True)
class Made:
    """What one run of a period did: the version it stands on, whether that version is new."""

    report_id: int
    version: int
    new: bool


def freeze_figures(
    kind: str,
    period: str,
    now: datetime,
    *,
    correct: bool = False,
    note: str | None = None,
    flow_run_id: str | None = None,
) -> Made:
    """The period's report: the latest version, or a new one (none yet, or a correction)."""
    for attempt in range(2):
        try:
            with session_scope() as session:
                before = freeze.latest(session, kind=kind, period=period)
                report = freeze.freeze(
                    session,
                    kind=kind,
                    period=period,
                    now=now,
                    correct=correct,
                    note=note,
                    flow_run_id=flow_run_id,
                )
                return Made(report.id, report.version, new=before is None or before.id != report.id)
        except IntegrityError:  # the same period frozen at the same moment elsewhere: take that one
            if attempt or correct:
                raise
    raise AssertionError("unreachable")


def render_files(report_id: int) -> render.Files:
    """Render outside any transaction, then record the paths (a short write)."""
    with read_scope() as session:
        row = session.get_one(Report, report_id)
        frozen = render.Frozen(
            id=row.id,
            kind=row.kind,
            period=row.period,
            period_label=row.period_label,
            version=row.version,
            note=row.note,
            figures=row.figures,
            created_at=row.created_at,
        )
        recorded = (row.html_path, row.pdf_path)
    files = render.render(frozen)
    if recorded != (str(files.html), str(files.pdf)):
        with session_scope() as session:
            row = session.get_one(Report, report_id)
            row.html_path, row.pdf_path = str(files.html), str(files.pdf)
    return files


def mail_out(report_id: int, now: datetime) -> int:
    with session_scope() as session:
        return mail.queue(session, report_id=report_id, now=now)


def produce(kind: str, period: str, now: datetime, *, correct: bool = False, note: str | None = None) -> Made:
    """Freeze, render and mail, without Prefect."""
    made = freeze_figures(kind, period, now, correct=correct, note=note)
    render_files(made.report_id)
    mail_out(made.report_id, now)
    return made


# The application database is the record: nothing cached or persisted in Prefect.
@task(name="freeze", cache_policy=NO_CACHE, persist_result=False)
def freeze_task(
    kind: str,
    period: str,
    now: str,
    correct: bool = False,
    note: str | None = None,
    flow_run_id: str | None = None,
) -> dict[str, int]:
    made = freeze_figures(
        kind, period, datetime.fromisoformat(now), correct=correct, note=note, flow_run_id=flow_run_id
    )
    return {"report_id": made.report_id, "version": made.version, "new": int(made.new)}


@task(name="render", cache_policy=NO_CACHE, persist_result=False)
def render_task(report_id: int) -> dict[str, str]:
    files = render_files(report_id)
    return {"html": str(files.html), "pdf": str(files.pdf)}


@task(name="mail", cache_policy=NO_CACHE, persist_result=False)
def mail_task(report_id: int, now: str) -> int:
    return mail_out(report_id, datetime.fromisoformat(now))
