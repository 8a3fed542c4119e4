"""The digest of important suggestions (人民建议摘报) end to end without Prefect, on seeded data with
the clock set: compiled through the API and the CLI, its PDF read back as text and as images, mailed
once to each leader, the leaders' instructions completing each item's step and resuming its case,
the instruction shown to the lead unit, and no proposer's identity or contact anywhere in it."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from digest_seed import FRIDAY, add_leaders, personal_data, seed_important
from reports_seed import clock, pdf_pages, pdf_text, reports_home, sink
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.models import AuditEntry, LeaderInstruction, Step, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import StepKind, StepState
from jianyi.runtime.smtp_sink import SmtpSink
from jianyi.services.lifecycle.engine import advance
from jianyi.services.reports.kinds import SHANGHAI

__all__ = ["clock", "reports_home", "sink"]  # fixtures
# SQLite only: PDFs take CPU; the lapse and the stage map are tested on both backends.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def deliver(sessions: sessionmaker[Session], sink: SmtpSink) -> list[EmailMessage]:
    dispatcher = OutboxDispatcher(sessionmaker=sessions, host=sink.host, port=sink.port)
    while asyncio.run(dispatcher.run_once()):
        pass
    return [m for m in sink.messages if m["Subject"].startswith("【人民建议摘报】")]


def no_personal_data(text: str) -> None:
    found = [value for value in personal_data() if value in text]
    assert not found, f"personal data in a digest: {found}"


def resume(sessions: sessionmaker[Session], suggestion_id: int, at: Any) -> None:
    """What the executor's attempt does for a submitted step: apply it, open the next steps."""
    with sessions() as session:
        advance(session, suggestion_id=suggestion_id, now=at)
        session.commit()


@SQLITE
def test_the_digest_through_the_api(
    clock: Clock,
    users: Any,
    sessions: sessionmaker[Session],
    reports_home: Path,
    sink: SmtpSink,
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from jianyi.api.app import create_app

    leaders = add_leaders(clock)
    first, second = seed_important(clock)
    http = TestClient(create_app())

    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    office, transport = headers(users.tokens["office"]), headers(users.tokens["transport"])
    leader_a = headers(leaders["leader_a"][1])
    assert http.post("/api/digests", headers=transport).status_code == 403
    assert http.post("/api/digests", headers=leader_a).status_code == 403  # leaders read, the office compiles

    compiled = http.post("/api/digests", headers=office)
    assert compiled.status_code == 201, compiled.text
    digest = compiled.json()
    assert (digest["number"], digest["title"]) == (1, "人民建议摘报（第1期）")
    assert [i["suggestion_id"] for i in digest["items"]] == [first, second]  # the general item is not taken
    entry = digest["items"][0]["entry"]
    assert entry["district"] == "黄浦区" and entry["problem"] == "第1件反映的问题：早高峰公交间隔过长"
    assert (
        entry["proposal"] == "第1件的建议：高峰时段加密班次"
        and entry["office_view"] == "建议市交通委研究采纳"
    )
    assert entry["refined"].startswith("经与（建议人）（（建议人））沟通")  # the name and phone struck out
    no_personal_data(json.dumps(digest, ensure_ascii=False))
    # Nothing waits any more: no second issue.
    assert http.post("/api/digests", headers=office).status_code == 204

    pdf = http.get(f"/api/digests/{digest['id']}.pdf", headers=leader_a)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    (tmp_path / "digest.pdf").write_bytes(pdf.content)
    text = pdf_text(tmp_path / "digest.pdf")
    assert "人民建议摘报" in text and "第1期" in text
    for expected in (
        "关于公交线路优化的建议（1）",
        "关于公交线路优化的建议（2）",
        "黄浦区",
        "办公室意见",
        "第2件的建议：高峰时段加密班次",
        "建议市交通委研究采纳",
    ):
        assert expected in text.replace(" ", ""), expected
    no_personal_data(text)
    pages = pdf_pages(tmp_path / "digest.pdf", tmp_path / "png")
    assert pages and all(page.stat().st_size > 5_000 for page in pages)  # drawn, not blank
    page = http.get(f"/api/digests/{digest['id']}.html", headers=office)
    assert page.status_code == 200 and "第1期" in page.text
    no_personal_data(page.text)

    mails = deliver(sessions, sink)
    assert sorted(m["To"] for m in mails) == ["leader_a@example.gov.cn", "leader_b@example.gov.cn"]
    for mail in mails:
        assert mail["Subject"] == "【人民建议摘报】第1期"
        [attachment] = list(mail.iter_attachments())
        assert attachment.get_content_type() == "application/pdf" and attachment.get_content() == pdf.content
        body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        no_personal_data(body)
        assert f"/digests/{digest['id']}" in body  # the page, where they instruct
    assert len(deliver(sessions, sink)) == 2  # once

    # Who reads the digest: leaders and the city office; not a department, not a district office.
    assert [d["number"] for d in http.get("/api/digests", headers=leader_a).json()] == [1]
    assert http.get("/api/digests", headers=transport).status_code == 403
    assert (
        http.get(f"/api/digests/{digest['id']}", headers=headers(users.tokens["huangpu"])).status_code == 403
    )

    # A leader instructs the first item: its step is completed, and the case resumes.
    path = f"/api/digests/{digest['id']}/items/{first}/instruction"
    given = http.post(path, headers=leader_a, json={"has_instruction": True, "text": "请市交通委研究落实"})
    assert given.status_code == 200, given.text
    assert given.json()["state"] == "submitted" and given.json()["kind"] == "leader_instruction"
    again = http.post(path, headers=headers(leaders["leader_b"][1]), json={"has_instruction": False})
    assert again.status_code == 409
    resume(sessions, first, FRIDAY + timedelta(days=3))
    item = http.get(f"/api/digests/{digest['id']}/items/{first}", headers=office).json()
    assert item["step_state"] == "completed"
    # The leader answered in their own name, dated the day they answered (in Shanghai).
    today = utcnow().astimezone(SHANGHAI).date().isoformat()
    assert item["instruction"] == {
        "has_instruction": True,
        "leader": "市领导甲",
        "instructed_on": today,
        "text": "请市交通委研究落实",
    }

    # The lead unit sees the instruction and the leader on its steps.
    owed = {
        s["kind"]: s for s in http.get("/api/steps", headers=transport).json() if s["suggestion_id"] == first
    }
    assert {"opinion", "proposer_hearing"} <= owed.keys()  # instructed: the proposer is heard (事中沟通)
    assert owed["opinion"]["instruction"]["leader"] == "市领导甲"
    assert owed["opinion"]["instruction"]["text"] == "请市交通委研究落实"

    # The office records a paper instruction: the leader and date it bears are required.
    second_path = f"/api/digests/{digest['id']}/items/{second}/instruction"
    refused = http.post(second_path, headers=office, json={"has_instruction": True, "text": "阅"})
    assert refused.status_code == 422 and "leader" in refused.text
    assert http.post(second_path, headers=transport, json={"has_instruction": False}).status_code == 403
    with sessions() as session:
        assert session.get_one(Step, digest["items"][1]["step_id"]).state is StepState.open  # unchanged
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "step.refused")) is not None
    noted = http.post(second_path, headers=office, json={"has_instruction": False})
    assert noted.status_code == 200
    resume(sessions, second, FRIDAY + timedelta(days=3))
    with sessions() as session:
        assert session.get_one(Suggestion, second).instructed is False
        row = session.scalar(select(LeaderInstruction).where(LeaderInstruction.suggestion_id == second))
        assert row is not None and row.has_instruction is False
    owed = {
        s["kind"]: s for s in http.get("/api/steps", headers=transport).json() if s["suggestion_id"] == second
    }
    assert "opinion" in owed and owed["opinion"]["instruction"] is None and "proposer_hearing" not in owed


@SQLITE
def test_the_digest_through_the_cli(
    clock: Clock, users: Any, sessions: sessionmaker[Session], reports_home: Path
) -> None:
    from typer.testing import CliRunner

    from jianyi.cli.main import app

    leaders = add_leaders(clock)
    first, second = seed_important(clock)
    runner = CliRunner()
    office = {"JIANYI_TOKEN": users.tokens["office"]}
    refused = runner.invoke(
        app, ["digest", "compile", "--local"], env={"JIANYI_TOKEN": users.tokens["transport"]}
    )
    assert refused.exit_code == 4
    made = runner.invoke(
        app, ["digest", "compile", "--local", "--now", "2026-11-06T09:00:00+08:00"], env=office
    )
    assert made.exit_code == 0, made.output
    digest = json.loads(made.stdout)
    assert digest["number"] == 1 and len(digest["items"]) == 2 and digest["emailed_at"] is not None
    assert runner.invoke(app, ["digest", "compile", "--local"], env=office).exit_code == 3  # nothing waits
    listed = json.loads(runner.invoke(app, ["digest", "list"], env=office).stdout)
    assert [d["id"] for d in listed] == [digest["id"]]
    shown = json.loads(runner.invoke(app, ["digest", "show", str(digest["id"])], env=office).stdout)
    assert Path(shown["pdf_file"]).is_file()
    text = pdf_text(Path(shown["pdf_file"]))
    assert "2026年11月6日" in text.replace(" ", "")  # compiled on the clock's Friday, in Shanghai
    no_personal_data(text)

    leader = {"JIANYI_TOKEN": leaders["leader_b"][1]}
    args = ["digest", "instruct", str(digest["id"]), str(first)]
    assert runner.invoke(app, [*args, "--text", "同意", "--none"], env=leader).exit_code == 7
    given = runner.invoke(app, [*args, "--text", "请抓紧研究", "--on", "2026-11-09"], env=leader)
    assert given.exit_code == 0, given.output
    assert json.loads(given.stdout)["state"] == "submitted"
    paper = runner.invoke(app, ["digest", "instruct", str(digest["id"]), str(second), "--none"], env=office)
    assert paper.exit_code == 0, paper.output
    for suggestion in (first, second):
        resume(sessions, suggestion, FRIDAY + timedelta(days=3))
    with sessions() as session:
        assert session.get_one(Suggestion, first).instructed is True
        row = session.scalar(select(LeaderInstruction).where(LeaderInstruction.suggestion_id == first))
        assert row is not None and (row.leader, str(row.instructed_on), row.text) == (
            "市领导乙",
            "2026-11-09",
            "请抓紧研究",
        )
        opinions = session.scalars(select(Step).where(Step.kind == StepKind.opinion)).all()
        assert {s.suggestion_id for s in opinions} >= {first, second}
