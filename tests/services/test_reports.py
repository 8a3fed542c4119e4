"""The periodic reports end to end without Prefect, on seeded data with the clock set: figures frozen,
the PDF (read back with poppler: Chinese title, figures, the late and escalated units), the mail with
the PDF at a real SMTP server once, re-runs that change nothing, a correction as version 2."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from clock import Clock
from reports_seed import DECEMBER_1, MONDAY, clock, pdf_pages, pdf_text, reports_home, seed_november, sink
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.errors import Forbidden
from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.models import OutboxMessage, Report, Suggestion
from jianyi.runtime.smtp_sink import SmtpSink
from jianyi.services.reports import access
from jianyi.services.reports.kinds import KINDS
from jianyi.tasks.reports import produce

__all__ = ["clock", "reports_home", "sink"]  # fixtures
# SQLite only: PDFs take CPU, and nothing here differs by backend (the figures service is tested on both).
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def deliver(sessions: sessionmaker[Session], sink: SmtpSink) -> list[EmailMessage]:
    """Send the whole outbox to the sink; the report mails it has received so far."""
    dispatcher = OutboxDispatcher(sessionmaker=sessions, host=sink.host, port=sink.port)
    while asyncio.run(dispatcher.run_once()):
        pass
    return [m for m in sink.messages if m["Subject"].startswith("【月通报】")]


def report_mails(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.kind == "report")) or 0


@SQLITE
def test_the_monthly_bulletin_end_to_end(
    clock: Clock, sessions: sessionmaker[Session], reports_home: Path, sink: SmtpSink, tmp_path: Path
) -> None:
    cases = seed_november(clock)
    made = produce("monthly", "2026-11", DECEMBER_1)
    assert (made.version, made.new) == (1, True)
    with sessions() as session:
        report = session.get_one(Report, made.report_id)
        tracking = session.get_one(Suggestion, cases["answered"]).tracking_code
    assert report.period_label == "2026年11月" and report.emailed_at == DECEMBER_1
    [marked] = report.figures["bulletin"]  # the ignored one's mark is December's (see seed_november)
    assert (marked["tracking_code"], marked["units"]) == (tracking, ["huangpu-office"])
    assert report.pdf_path and Path(report.pdf_path).is_relative_to(reports_home)

    text = pdf_text(Path(report.pdf_path))
    assert "月通报（2026年11月）" in text
    assert "列入月通报事项" in text and tracking in text  # what the bulletin rung marked
    units = {u["unit"]: u for u in report.figures["units"]}
    assert units["city-transport"]["open_overdue"] == 1 and units["huangpu-office"]["escalated"] == 1
    flagged = [u["name"] for u in units.values() if u["late"] or u["open_overdue"] or u["escalated"]]
    assert "超期与提级督办单位" in text and all(name in text for name in flagged)  # named
    for rate in report.figures["rates"]:
        if rate["value"] is not None:
            assert rate["label_zh"] in text and f"{rate['value']:.1%}" in text
    pages = pdf_pages(Path(report.pdf_path), tmp_path / "png")
    assert pages and all(page.stat().st_size > 5_000 for page in pages)
    html = Path(report.html_path or "").read_text(encoding="utf-8")
    assert html.count("data:image/svg+xml;base64,") >= 3  # rates, units ranked, trend, tables

    [mail] = deliver(sessions, sink)
    assert mail["To"] == "city_supervisor@example.gov.cn" and "2026年11月" in mail["Subject"]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "月通报-2026-11-v1.pdf"
    assert attachment.get_content() == Path(report.pdf_path).read_bytes()

    # Re-run: the same version, the same files, no second mail.
    pdf_before = Path(report.pdf_path).read_bytes()
    again = produce("monthly", "2026-11", DECEMBER_1 + timedelta(days=3))
    assert (again.report_id, again.version, again.new) == (made.report_id, 1, False)
    assert Path(report.pdf_path).read_bytes() == pdf_before
    assert report_mails(sessions) == 1 and len(deliver(sessions, sink)) == 1

    # A correction: version 2, version 1 kept with its files; the recipients get the new version once.
    corrected = produce("monthly", "2026-11", DECEMBER_1, correct=True, note="补录一件漏登记的建议")
    assert (corrected.version, corrected.new) == (2, True)
    with sessions() as session:
        versions = session.scalars(
            select(Report)
            .where(Report.kind == "monthly", Report.period == "2026-11")
            .order_by(Report.version)
        ).all()
    assert [(r.version, r.note) for r in versions] == [(1, None), (2, "补录一件漏登记的建议")]
    assert (
        all(Path(r.pdf_path or "").is_file() for r in versions)
        and versions[0].pdf_path != versions[1].pdf_path
    )
    assert "更正说明：补录一件漏登记的建议" in pdf_text(Path(versions[1].pdf_path or ""))
    mails = deliver(sessions, sink)
    assert [m["Subject"] for m in mails] == ["【月通报】2026年11月", "【月通报】2026年11月（更正第2版）"]
    assert produce("monthly", "2026-11", DECEMBER_1).version == 2  # the latest version stands


@SQLITE
@pytest.mark.parametrize(
    ("kind", "period", "title"),
    [
        ("weekly", "2026-W45", "周汇总（2026年第45周）"),
        ("quarterly", "2026-Q4", "季督查（2026年第四季度）"),
        ("half_year", "2026-H2", "半年报告（2026年下半年）"),
        ("annual", "2026", "年度总结（2026年）"),
    ],
)
def test_every_kind_renders_its_chinese_title_and_figures(
    clock: Clock, reports_home: Path, kind: str, period: str, title: str
) -> None:
    seed_november(clock)
    at = DECEMBER_1 if kind == "weekly" else MONDAY.replace(year=2027, month=1, day=4)
    made = produce(kind, period, at)
    with clock.sessions() as session:
        report = session.get_one(Report, made.report_id)
    text = pdf_text(Path(report.pdf_path or ""))
    received = next(t for t in report.figures["tables"] if t["name"] == "by_stage")
    assert sum(row["count"] for row in received["rows"]) == 3  # all three came in the week of 2 November
    trend = report.figures["trend"]
    if kind in ("half_year", "annual"):  # month by month
        assert title in text and "主要指标" in text and "按月趋势" in text
        assert trend["periods"] == [f"2026-{m:02d}" for m in range(1 if kind == "annual" else 7, 13)]
        assert trend["series"]["收到建议"][trend["periods"].index("2026-11")] == 3
    else:  # week by week, at least eight
        assert title in text and "主要指标" in text and "按周趋势" in text
        assert trend["periods"][-1] == ("2026-W45" if kind == "weekly" else "2026-W53")
        assert len(trend["periods"]) >= 8 and sum(trend["series"]["收到建议"]) == 3


@SQLITE
def test_who_reads_which_report(clock: Clock, users: Any, reports_home: Path) -> None:
    from fastapi.testclient import TestClient

    from jianyi.api.app import create_app

    seed_november(clock)
    made = produce("monthly", "2026-11", DECEMBER_1)
    with clock.sessions() as session:
        for who in ("office", "supervisor", "admin"):
            assert [r.id for r in access.list_reports(session, actor=users.actors[who])] == [made.report_id]
        for who in ("transport", "huangpu"):  # a department, a district office: not the city's report
            assert access.list_reports(session, actor=users.actors[who]) == []
            with pytest.raises(Forbidden):
                access.get_report(session, actor=users.actors[who], report_id=made.report_id)

    http = TestClient(create_app())

    def get(path: str, who: str) -> Any:
        return http.get(path, headers={"Authorization": f"Bearer {users.tokens[who]}"})

    [listed] = get("/api/reports", "office").json()
    assert listed["title"] == "月通报" and listed["pdf"] == f"/api/reports/{made.report_id}.pdf"
    pdf = get(f"/api/reports/{made.report_id}.pdf", "office")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    page = get(f"/api/reports/{made.report_id}.html", "supervisor")
    assert page.status_code == 200 and "月通报（2026年11月）" in page.text
    assert get(f"/api/reports/{made.report_id}", "admin").json()["figures"]["bulletin"]
    assert get("/api/reports", "transport").json() == []
    assert get(f"/api/reports/{made.report_id}.pdf", "transport").status_code == 403
    assert get("/api/reports/999.pdf", "office").status_code == 404


@SQLITE
def test_the_cli(clock: Clock, users: Any, reports_home: Path) -> None:
    from typer.testing import CliRunner

    from jianyi.cli.main import app

    seed_november(clock)
    runner = CliRunner()
    office = {"JIANYI_TOKEN": users.tokens["office"]}
    ran = runner.invoke(
        app,
        ["reports", "run", "weekly", "--period", "2026-W45", "--local", "--now", "2026-11-09T08:00:00+08:00"],
        env=office,
    )
    assert ran.exit_code == 0, ran.output
    made = yaml.safe_load(ran.stdout)
    assert made["title"] == "周汇总" and made["version"] == 1
    listed = yaml.safe_load(runner.invoke(app, ["reports", "list"], env=office).stdout)
    assert [r["id"] for r in listed] == [made["id"]]
    shown = yaml.safe_load(runner.invoke(app, ["reports", "show", str(made["id"])], env=office).stdout)
    assert Path(shown["pdf_file"]).is_file() and shown["figures"]["period"]["code"] == "2026-W45"
    refused = runner.invoke(
        app,
        ["reports", "run", "weekly", "--period", "2026-W45", "--local"],
        env={"JIANYI_TOKEN": users.tokens["transport"]},
    )
    assert refused.exit_code == 4
    wrong = runner.invoke(app, ["reports", "run", "weekly", "--period", "2026-11", "--local"], env=office)
    assert wrong.exit_code == 7


def test_the_schedules_in_prefect_yaml_are_the_executors() -> None:
    deployments = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml").read_text(encoding="utf-8")
    )["deployments"]
    reports = {
        d["parameters"]["kind"]: d for d in deployments if d["entrypoint"].endswith(":periodic_report")
    }
    assert set(reports) == set(KINDS)
    for name, kind in KINDS.items():
        [schedule] = reports[name]["schedules"]
        assert (schedule["cron"], schedule["timezone"]) == (kind.cron, "Asia/Shanghai")


def test_freezing_on_both_backends_keeps_every_version(clock: Clock, sessions: sessionmaker[Session]) -> None:
    from jianyi.services.reports import freeze

    seed_november(clock)
    with sessions() as session:
        first = freeze.freeze(session, kind="monthly", period="2026-11", now=DECEMBER_1)
        same = freeze.freeze(session, kind="monthly", period="2026-11", now=DECEMBER_1 + timedelta(days=9))
        second = freeze.freeze(
            session, kind="monthly", period="2026-11", now=DECEMBER_1, correct=True, note="更正"
        )
        session.commit()
        assert same.id == first.id and (first.version, second.version) == (1, 2)
        assert second.figures["rates"] == first.figures["rates"]  # the same period, the same figures
        assert (
            first.figures["period"]["code"] == "2026-11"
            and first.figures["trend"]["periods"][-1] == "2026-W49"
        )
        with pytest.raises(Exception, match="not a period of the weekly report"):
            freeze.freeze(session, kind="weekly", period="2026-11", now=DECEMBER_1)
