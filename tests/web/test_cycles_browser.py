"""The office's cycles in a real browser (Debian's chromium), by clicking: the office compiles the
digest, a leader instructs an important item on its issue's page and the lead unit reads the
instruction on its step page; a campaign opened by the office, answered on its public page, its
collective feedback published and visible to all. axe-core on each page, phone-width screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from support import SUGGESTION, triage
from test_pages_browser import SCRIPT, _set_password, _step_of, _wait, check, sign_in

from jianyi.models.enums import Role, StepKind, StepState
from jianyi.services import auth

pytestmark = pytest.mark.e2e

PRE_REPORT = {
    "held_at": "2026-11-20T09:00:00+08:00",
    "method": "phone",
    "participants": "张三、王处长",
    "refined": "早高峰公交间隔过长，建议加密班次",
    "problem": "候车时间超过二十分钟",
    "proposal": "高峰时段每十分钟一班",
    "office_view": "建议市交通委研究采纳",
}


def _leader(web: Any, login: str) -> None:
    """A city leader with a password (the digest is addressed to the leader role)."""
    with web.sessions() as session:
        user, token = auth.create_user(session, name="市领导 吴", role=Role.leader, unit_code=None)
        session.commit()
        web.users.actors["leader"], web.users.tokens["leader"] = auth.actor_for(user), token
    _set_password(web, "leader", login)


def _open(web: Any, suggestion_id: int, kind: StepKind, timeout: float = 90) -> int:
    step = _wait(
        lambda: (s := _step_of(web, suggestion_id, kind)) and s.state is StepState.open and s, timeout
    )
    return int(step.id)


def _important(web: Any, title: str) -> int:
    """An important item, triaged and pre-reported through the API: it waits for the digest."""
    office = {"Authorization": f"Bearer {web.users.tokens['office']}"}
    created = web.http.post("/api/suggestions", json={**SUGGESTION, "title": title}, headers=office)
    assert created.status_code == 201, created.text
    suggestion_id = int(created.json()["id"])
    for kind, payload in (
        (StepKind.triage, triage(level="important")),
        (StepKind.pre_report_communication, PRE_REPORT),
    ):
        step_id = _open(web, suggestion_id, kind)
        answer = web.http.post(f"/api/steps/{step_id}/complete", json=payload, headers=office)
        assert answer.status_code == 200, answer.text
    _open(web, suggestion_id, StepKind.leader_instruction)
    return suggestion_id


def test_a_leader_instructs_an_important_item_by_clicking(
    web: Any, page: Page, browser: Browser, results: Path
) -> None:
    title = f"关于加密早高峰公交班次的建议{SCRIPT}"
    suggestion_id = _important(web, title)
    _set_password(web, "office", "wang-digest")
    _set_password(web, "transport", "zhao-digest")
    _leader(web, "wu-leader")

    sign_in(page, "wang-digest")  # the office compiles the next issue now
    page.get_by_role("link", name="摘报").click()
    expect(page.locator("#waiting")).not_to_have_text("0")
    page.get_by_role("button", name="现在编发下一期").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("人民建议摘报（第")
    page.get_by_role("button", name="退出登录").click()

    sign_in(page, "wu-leader")
    page.get_by_role("link", name="重要建议").click()
    expect(page.get_by_role("heading", name="重要建议")).to_be_visible()
    check(page, results, "leader")
    page.get_by_role("link", name=re.compile(r"待批示（第\d+期）")).first.click()
    item = page.locator(f"#item-{suggestion_id}")
    expect(item.get_by_role("heading", level=2)).to_contain_text("<img src=x")  # shown as text
    expect(item).to_contain_text("早高峰公交间隔过长，建议加密班次")
    expect(page.locator("body")).not_to_contain_text("13800000000")  # no personal data
    check(page, results, "digest")
    item.get_by_role("button", name="批示", exact=True).click()  # empty: the error beside the field
    expect(page.locator(f"#e-text-{suggestion_id}")).to_have_text("请填写批示内容")
    instruction = "请市交通委抓紧研究，提出加密班次方案。"
    page.locator(f"#item-{suggestion_id}").get_by_label("批示内容").fill(instruction)
    page.locator(f"#item-{suggestion_id}").get_by_role("button", name="批示", exact=True).click()
    expect(page.locator(f"#instruction-{suggestion_id}")).to_contain_text(instruction)
    expect(page.get_by_role("status")).to_contain_text("批示已记录")
    check(page, results, "digest-instructed")

    # The flow run resumes: the lead unit hears the proposer (事中沟通) and reads the instruction.
    hearing = _open(web, suggestion_id, StepKind.proposer_hearing)
    other = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN", base_url=web.url)
    try:
        unit = other.new_page()
        sign_in(unit, "zhao-digest")
        unit.locator(f"a[href='/steps/{hearing}']").click()
        expect(unit.locator("#instruction")).to_contain_text(instruction)
        expect(unit.locator("#instruction")).to_contain_text("市领导 吴")
        check(unit, results, "step-instruction")
    finally:
        other.close()
    page.get_by_role("link", name="重要建议").click()  # what became of it
    expect(page.get_by_role("row", name=re.compile("加密早高峰"))).to_contain_text(instruction)
