"""The office's cycles in a real browser (Debian's chromium), by clicking: the office compiles the
digest, a leader instructs an important item on its issue's page and the lead unit reads the
instruction on its step page; a campaign opened by the office, answered on its public page, its
collective feedback published and visible to all. axe-core on each page, phone-width screenshots."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from support import SUGGESTION, triage
from test_pages_browser import SCRIPT, _set_password, _step_of, _wait, check, sign_in

from jianyi.models import Campaign, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.rules.calendar import SHANGHAI
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


def _local(delta: timedelta) -> str:
    """A datetime-local input's value (Shanghai wall time)."""
    return (utcnow() + delta).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def test_a_campaign_is_opened_answered_and_its_feedback_published(
    web: Any, page: Page, browser: Browser, results: Path
) -> None:
    topic = f"夜间公交线路优化{SCRIPT}"
    _set_password(web, "office", "wang-campaign")
    sign_in(page, "wang-campaign")  # the office opens the campaign
    page.get_by_role("link", name="主动征集").click()
    page.get_by_role("button", name="发起主动征集").click()
    page.get_by_label("征集议题").fill(topic)
    page.get_by_label("征集说明").fill("围绕夜间出行需求，向社会征集线路优化建议。")
    page.locator("#f-code").fill("night-bus-web")
    page.get_by_label("承办单位（代码，以逗号分隔）").fill("city-transport")
    page.get_by_label("开始时间").fill(_local(-timedelta(hours=1)))
    page.get_by_label("截止时间").fill(_local(-timedelta(hours=2)))  # before it opens: refused
    page.get_by_role("button", name="发起征集").click()
    expect(page.locator("#e-closes_at")).to_be_visible()
    check(page, results, "campaign-new")
    page.get_by_label("截止时间").fill(_local(timedelta(days=14)))
    page.get_by_role("button", name="发起征集").click()
    expect(page.locator("#state")).to_have_text("征集中")
    campaign_id = int(page.url.rsplit("/", 1)[1])

    public = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN", base_url=web.url)
    try:
        citizen = public.new_page()
        citizen.goto("/")
        citizen.get_by_role("link", name="主动征集").click()
        citizen.get_by_role("link", name=topic).click()
        expect(citizen.locator("#hosts")).to_have_text("上海市交通委员会")
        expect(citizen.locator("#channels")).to_contain_text("网上征集页面")
        expect(citizen.locator("#deadline")).not_to_be_empty()
        check(citizen, results, "campaign-page")
        citizen.get_by_label("标题").fill("关于增开夜宵公交线的建议")
        citizen.get_by_label("存在的问题").fill("夜间下班后没有公交可乘。")
        citizen.get_by_label("具体建议措施").fill("增开23点后的夜宵线。")
        citizen.get_by_label("姓名或单位名称").fill("王五")
        citizen.get_by_label("电子邮箱").fill("night-rider@example.com")
        citizen.get_by_role("button", name="提交建议").click()
        expect(citizen.get_by_role("heading", name="您的建议已提交")).to_be_visible()
        with web.sessions() as session:
            code = citizen.locator("#tracking-code").inner_text()
            assert session.query(Suggestion).filter_by(tracking_code=code).one().campaign == "night-bus-web"
            campaign = session.get_one(Campaign, campaign_id)  # the clock moves past the window's end
            campaign.closes_at = utcnow() - timedelta(minutes=1)
            session.commit()

        page.reload()  # the office writes and publishes the collective feedback
        page.get_by_label("情况综述").fill("共收到夜间公交建议，整理形成三条线路方案。")
        page.get_by_label("下一步工作").fill("明年一季度试运行。")
        check(page, results, "campaign-office")
        page.get_by_role("button", name="发布集中反馈").click()
        expect(page.locator("#state")).to_have_text("已发布集中反馈")

        citizen.goto(f"/campaigns/{campaign_id}")
        expect(citizen.locator("#feedback-summary")).to_have_text(
            "共收到夜间公交建议，整理形成三条线路方案。"
        )
        expect(citizen.locator("#participants")).to_have_text("1")
        check(citizen, results, "campaign-feedback")
        assert "night-rider@example.com" not in citizen.content()  # no personal data
    finally:
        public.close()
