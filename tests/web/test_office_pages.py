"""The office's pages in-process (TestClient) on this test's database, SQLite or PostgreSQL: staff
intake (the API's model and service: errors in Chinese beside their field, nothing stored until it
is right), the triage desk's search for an original, the communications owed with their logging
form and the printed letter (HTML, and a PDF read back with pdftotext)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION
from test_pages import _sign_in, _token

from jianyi.api.app import create_app
from jianyi.models import AuditEntry, PlannedCommunication, Suggestion
from jianyi.models.enums import Channel, CommunicationState

LETTER = {
    "title": "关于老旧小区加装电梯的建议<script>alert(1)</script>",
    "channel": "letter",
    "channel_ref": "来信-2026-001",
    "problem": "老旧小区多为六层，老年人上下楼困难。",
    "grounds": "本区六十岁以上居民占比超过三成。",
    "proposal": "简化加装电梯审批，给予适当补贴。",
    "proposer.kind": "person",
    "proposer.name": "王五",
    "proposer.address": "长宁区延安西路100号",
}


@pytest.fixture
def http(cli_on: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _form(http: TestClient, path: str) -> str:
    page = http.get(path)
    assert page.status_code == 200, page.text
    return _token(page.text)


def test_staff_intake_takes_a_letter_in_through_the_intake_service(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    _sign_in(http, sessions, users, "office", "wang")
    token = _form(http, "/office/intake")
    assert http.post("/office/intake", data=LETTER).status_code == 403  # no CSRF token
    wrong = http.post(
        "/office/intake",
        data={
            **LETTER,
            "csrftoken": token,
            "channel": "phone",  # a call: the proposer must be reachable (a letter has its envelope)
            "title": "短",
            "problem": "",
            "grounds": "",
            "proposal": "",
            "proposer.address": "",
        },
    )
    assert wrong.status_code == 422
    assert re.search(r'id="e-f-title">至少 2 个字<', wrong.text)
    assert re.search(r'id="e-f-problem">[^<]+<', wrong.text)
    call = {**LETTER, "csrftoken": token, "channel": "phone", "proposer.address": ""}
    unreachable = http.post("/office/intake", data=call)
    assert unreachable.status_code == 422
    assert re.search(r'id="e-f-proposer-phone">请至少填写电话、电子邮箱或通信地址之一', unreachable.text)
    assert "王五" in wrong.text and "长宁区" not in wrong.text  # what was typed stays, as typed

    phone = http.post("/office/intake", data={**LETTER, "csrftoken": token, "proposer.phone": "12345"})
    assert phone.status_code == 422 and re.search(r'id="e-f-proposer-phone">请填写大陆手机号', phone.text)
    web = http.post("/office/intake", data={**LETTER, "csrftoken": token, "channel": "web"})
    assert web.status_code == 422 and 'id="e-f-channel"' in web.text  # not a channel taken by hand
    hotline = http.post("/office/intake", data={**LETTER, "csrftoken": token, "channel": "hotline_12345"})
    assert hotline.status_code == 422  # 12345 forwards its items itself; the office's own line is 来电
    assert '<option value="phone" selected>来电</option>' in http.get("/office/intake").text.replace("\n", "")
    region = http.post("/office/intake", data={**LETTER, "csrftoken": token, "region": "nowhere"})
    assert region.status_code == 422 and re.search(r'id="e-f-region">没有此代码的区或街道', region.text)
    with sessions() as session:
        assert session.query(Suggestion).count() == 0  # nothing stored by a refused form

    receipt = http.post("/office/intake", data={**LETTER, "csrftoken": token})
    assert receipt.status_code == 200 and receipt.headers["cache-control"] == "no-store"
    assert "&lt;script&gt;" in receipt.text and "<script>alert" not in receipt.text
    code = re.search(r'id="tracking-code">([^<]+)<', receipt.text)
    check = re.search(r'id="check-code">([^<]+)<', receipt.text)
    assert code and check
    with sessions() as session:
        stored = session.query(Suggestion).one()
        assert stored.channel is Channel.letter and stored.tracking_code == code.group(1)
        assert stored.intake_user_id == users.actors["office"].user_id and stored.check_code == check.group(1)
        assert "【依据和理由】\n本区六十岁以上" in stored.content
        letter = session.query(PlannedCommunication).filter_by(suggestion_id=stored.id).one()
        assert letter.channel == "letter" and letter.state is CommunicationState.awaiting
    again = http.post("/office/intake", data={**LETTER, "csrftoken": token})  # the same letter twice
    assert again.status_code == 200 and "此前已受理" in again.text and 'id="check-code"' not in again.text

    _sign_in(http, sessions, users, "transport", "zhao")  # a city department takes nothing in
    assert http.get("/office/intake").status_code == 403


def test_the_triage_desk_finds_an_original_by_code_or_title(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    def submit(who: str, title: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {users.tokens[who]}"}
        answer = http.post("/api/suggestions", json={**SUGGESTION, "title": title}, headers=headers)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    first = submit("office", "关于公交站台加装雨棚的建议")
    second = submit("office", "再提公交站台加装雨棚")
    elsewhere = submit("huangpu", "关于公交站台加装雨棚的建议（黄浦）")
    _sign_in(http, sessions, users, "office", "wang")
    found = http.get("/office/originals", params={"q": "站台加装", "excluding": second["id"]})
    assert found.status_code == 200 and "<html" not in found.text  # the partial htmx swaps in
    assert f'data-original="{first["tracking_code"]}"' in found.text
    assert second["tracking_code"] not in found.text  # not itself
    assert elsewhere["tracking_code"] not in found.text  # not another office's
    by_code = http.get("/office/originals", params={"q": first["tracking_code"].lower()})
    assert f'data-original="{first["tracking_code"]}"' in by_code.text
    assert "没有找到" in http.get("/office/originals", params={"q": "不存在的词"}).text
    step = http.get("/workbench", params={"kind": "triage", "q": second["tracking_code"]})
    step_id = re.search(r'href="/steps/(\d+)"', step.text)
    assert step_id
    desk = http.get(f"/steps/{step_id.group(1)}")
    assert f"/office/originals?excluding={second['id']}" in desk.text and "/static/web/office.js" in desk.text
    _sign_in(http, sessions, users, "transport", "zhao")
    assert http.get("/office/originals", params={"q": "站台"}).status_code == 403


def test_the_office_logs_what_it_owes_and_prints_the_letter(
    http: TestClient, sessions: sessionmaker[Session], users: Any, tmp_path: Path
) -> None:
    _sign_in(http, sessions, users, "office", "wang")
    token = _form(http, "/office/intake")
    assert http.post("/office/intake", data={**LETTER, "csrftoken": token}).status_code == 200
    with sessions() as session:
        plan = session.query(PlannedCommunication).one()
        suggestion = session.get_one(Suggestion, plan.suggestion_id)
    listed = http.get("/office/communications")
    assert listed.status_code == 200 and f'href="/office/communications/{plan.id}/letter"' in listed.text
    assert "王五" not in listed.text and "延安西路" not in listed.text  # the list holds no personal data

    page = http.get(f"/office/communications/{plan.id}")
    assert page.status_code == 200 and "延安西路100号" in page.text  # where the letter goes
    with sessions() as session:
        assert session.query(AuditEntry).filter_by(action="proposer.viewed").count() == 1
    letter = http.get(f"/office/communications/{plan.id}/letter")
    assert letter.status_code == 200 and suggestion.check_code in letter.text and "受理告知书" in letter.text
    assert 'href="/static/web/letter.css"' in letter.text and "&lt;script&gt;" in letter.text
    pdf = http.get(f"/office/communications/{plan.id}/letter.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "受理告知书" in text and "长宁区延安西路100号" in text and suggestion.tracking_code in text
    (tmp_path / "letter.pdf").write_bytes(pdf.content)
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "letter.pdf")], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "Noto-Serif-CJK-SC" in fonts  # set in Noto CJK, embedded

    token = _token(page.text)
    unsigned = {"kind": "acknowledgement", "method": "letter", "summary": "跨站登记"}
    assert http.post(f"/office/communications/{plan.id}", data=unsigned).status_code == 403  # no CSRF token
    empty = http.post(
        f"/office/communications/{plan.id}", data={"csrftoken": token, "kind": "acknowledgement"}
    )
    assert empty.status_code == 422 and re.search(r'id="e-f-summary">请填写此项<', empty.text)
    assert re.search(r'id="e-f-method">请填写此项<', empty.text)
    ahead = http.post(
        f"/office/communications/{plan.id}",
        data={
            "csrftoken": token,
            "kind": "acknowledgement",
            "method": "letter",
            "summary": "已寄出",
            "at": "2099-01-01T09:00",
        },
    )
    assert ahead.status_code == 422 and re.search(
        r'id="e-f-at">沟通时间须在 2000 年以后，且不能晚于现在<', ahead.text
    )
    with sessions() as session:
        assert session.get_one(PlannedCommunication, plan.id).state is CommunicationState.awaiting
    logged = http.post(
        f"/office/communications/{plan.id}",
        data={
            "csrftoken": token,
            "kind": "acknowledgement",
            "method": "letter",
            "summary": "受理告知书已挂号寄出",
        },
        follow_redirects=False,
    )
    assert logged.status_code == 303 and logged.headers["location"] == "/office/communications?logged=1"
    with sessions() as session:
        assert session.get_one(PlannedCommunication, plan.id).state is CommunicationState.done
    assert f"/office/communications/{plan.id}" not in http.get("/office/communications").text

    _sign_in(http, sessions, users, "huangpu", "zhou")  # another office: not its communication
    assert http.get(f"/office/communications/{plan.id}").status_code == 403
    assert http.get(f"/office/communications/{plan.id}/letter.pdf").status_code == 403
    _sign_in(http, sessions, users, "transport", "zhao")
    assert http.get("/office/communications").status_code == 403


def test_staff_intake_answers_an_open_campaign(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    from datetime import timedelta

    from jianyi.models.base import utcnow
    from jianyi.models.campaign_schemas import CampaignIn
    from jianyi.services.cycles import campaigns

    now = utcnow()
    data = CampaignIn.model_validate(
        {
            "code": "elevators-2026",
            "topic": "老旧小区加装电梯",
            "explanation": "征集意见",
            "host_units": ["city-housing"],
            "channels": ["letter", "visit"],
            "opens_at": (now - timedelta(days=1)).isoformat(),
            "closes_at": (now + timedelta(days=30)).isoformat(),
        }
    )
    with sessions() as session:
        campaign = campaigns.create(
            session, actor=users.actors["office"], data=data, now=now - timedelta(days=2)
        )
        session.commit()
        campaign_id = campaign.id
    _sign_in(http, sessions, users, "office", "wang")
    form = http.get("/office/intake")
    assert "所响应的征集活动（可选）" in form.text and f'<option value="{campaign_id}"' in form.text
    token = _token(form.text)
    call = {**LETTER, "csrftoken": token, "channel": "phone", "proposer.phone": "021-62781234"}
    refused = http.post("/office/intake", data={**call, "campaign_id": str(campaign_id)})
    assert refused.status_code == 422 and re.search(
        r'id="e-f-channel">所选征集活动不接受此渠道的建议<', refused.text
    )
    taken = http.post("/office/intake", data={**LETTER, "csrftoken": token, "campaign_id": str(campaign_id)})
    assert taken.status_code == 200, taken.text
    with sessions() as session:
        assert session.query(Suggestion).one().campaign == "elevators-2026"
