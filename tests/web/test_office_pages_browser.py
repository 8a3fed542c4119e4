"""The office's and the administrator's pages in a real browser (Debian's chromium), by clicking only:
a letter taken in at the intake page, its acknowledgement letter printed and logged; a duplicate
marked at the triage desk by searching its original; an administrator's units, users, tokens, rules
and development sinks. Every page is checked with axe-core and kept as a phone-width screenshot; the
site nav fits a phone's width; a script typed into a field never runs (the context fails on it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from support import SUGGESTION
from test_pages_browser import PASSWORD, SCRIPT, _set_password, _step_of, _wait, check, sign_in

from jianyi.models import PlannedCommunication, Suggestion
from jianyi.models.enums import CommunicationState, StepKind, StepState

pytestmark = pytest.mark.e2e


def _fits_the_phone(page: Page) -> None:
    """Nothing wider than the phone's screen: the nav's links scroll within their own strip."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_office_takes_a_letter_in_prints_and_logs_its_acknowledgement(
    web: Any, page: Page, results: Path
) -> None:
    _set_password(web, "office", "wang-office")
    sign_in(page, "wang-office")
    _fits_the_phone(page)
    page.get_by_role("link", name="受理登记").click()
    expect(page.get_by_role("heading", name="受理登记")).to_be_visible()
    _fits_the_phone(page)
    page.get_by_role("button", name="受理").click()  # empty: the model's errors, in Chinese, by field
    expect(page.locator("#e-f-title")).to_have_text("请填写此项")
    expect(page.locator("#e-f-problem")).to_be_visible()
    check(page, results, "office-intake-errors")

    # The same page posted without its CSRF token (as another site's page would): refused.
    refused = page.request.post("/office/intake", form={"title": "跨站提交的建议", "channel": "letter"})
    assert refused.status == 403 and "表单已失效" in refused.text()

    title = f"关于老旧小区加装电梯的建议{SCRIPT}"
    page.get_by_label("标题").fill(title)
    page.get_by_label("受理渠道").select_option("letter")
    page.get_by_label("来信编号或来电记录号").fill(f"来信-{SCRIPT}")
    page.get_by_label("存在的问题").fill(f"老旧小区多为六层，老年人上下楼困难。{SCRIPT}")
    page.get_by_label("具体建议措施").fill("简化加装电梯审批，给予适当补贴。")
    page.get_by_label("姓名或单位名称").fill(f"王五{SCRIPT}")
    page.get_by_label("通信地址").fill("长宁区延安西路100号")
    page.get_by_role("button", name="受理").click()
    expect(page.get_by_role("heading", name="已受理")).to_be_visible()
    check(page, results, "office-receipt")
    code = page.locator("#tracking-code").inner_text()
    check_code = page.locator("#check-code").inner_text()
    with web.sessions() as session:
        stored = session.query(Suggestion).filter_by(tracking_code=code).one()
        assert stored.title == title and stored.check_code == check_code and stored.channel.value == "letter"
    _wait(lambda: _step_of(web, stored.id, StepKind.triage))  # the flow run started, as for the API

    page.get_by_role("link", name="沟通联系").click()  # the acknowledgement letter the office owes
    expect(page.get_by_role("heading", name="与建议人的沟通联系")).to_be_visible()
    check(page, results, "office-communications")
    row = page.locator("#owed tr", has_text=code)
    row.get_by_role("link", name="登记").click()
    expect(page.locator("#to-hold")).to_contain_text("长宁区延安西路100号")
    expect(page.locator("#to-hold")).to_contain_text(check_code)
    check(page, results, "office-communication")
    page.get_by_role("button", name="打印信函").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("受理告知书")
    check(page, results, "office-letter")
    page.get_by_role("link", name="返回登记").click()

    page.get_by_role("button", name="登记").click()  # nothing said yet: an error beside the field
    expect(page.locator("#e-f-summary")).to_have_text("请填写此项")
    page.get_by_label("沟通情况和结果").fill(f"受理告知书已挂号寄出。{SCRIPT}")
    page.get_by_role("button", name="登记").click()
    expect(page.locator("#logged")).to_have_text("已登记。")
    expect(page.locator("#owed tr", has_text=code)).to_have_count(0)
    with web.sessions() as session:
        plan = session.query(PlannedCommunication).filter_by(suggestion_id=stored.id, channel="letter").one()
        assert plan.state is CommunicationState.done
    page.goto(f"/suggestions/{stored.id}")  # every text shown as text on the case page too
    expect(page.get_by_role("heading", level=1)).to_contain_text("<img src=x")


def test_the_triage_desk_marks_a_duplicate_by_searching_its_original(
    web: Any, page: Page, results: Path
) -> None:
    office = {"Authorization": f"Bearer {web.users.tokens['office']}"}
    ids = []
    for title in ("关于地铁站增设无障碍电梯的建议", "地铁站应增设无障碍电梯"):
        answer = web.http.post("/api/suggestions", json={**SUGGESTION, "title": title}, headers=office)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json())
    original, duplicate = ids
    triage = _wait(
        lambda: (s := _step_of(web, duplicate["id"], StepKind.triage)) and s.state is StepState.open and s
    )
    _set_password(web, "office", "wang-office")
    sign_in(page, "wang-office")
    page.get_by_role("link", name="分拣台").click()
    page.locator(f"a[href='/steps/{triage.id}']").click()
    page.get_by_label("原建议的跟踪编号或标题中的词语").fill("无障碍电梯")
    found = page.locator("#originals li", has_text=original["tracking_code"])
    expect(found).to_have_count(1)
    expect(page.locator("#originals li", has_text=duplicate["tracking_code"])).to_have_count(0)  # not itself
    page.get_by_label("原建议的跟踪编号或标题中的词语").fill("<svg/onload=alert('找')>")  # never run
    expect(page.locator("#no-originals")).to_be_visible()
    # The session gone, the next search leads to the login form and back to this step.
    page.context.clear_cookies()
    page.get_by_label("原建议的跟踪编号或标题中的词语").fill("无障碍")
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/login\?next=%2Fsteps%2F{triage.id}$"))
    page.get_by_label("登录名").fill("wang-office")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(rf"/steps/{triage.id}$"))
    page.get_by_label("原建议的跟踪编号或标题中的词语").fill(original["tracking_code"])
    found.get_by_role("button", name=re.compile("选为原建议")).click()
    expect(page.get_by_label("原建议跟踪编号")).to_have_value(original["tracking_code"])
    expect(page.get_by_label("类型")).to_have_value("duplicate")
    expect(page.locator("#original-picked")).to_contain_text(original["tracking_code"])
    check(page, results, "triage-duplicate")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()

    def merged() -> bool:
        with web.sessions() as session:
            return session.get_one(Suggestion, duplicate["id"]).duplicate_of_id == original["id"]

    _wait(merged, timeout=90)


def test_an_administrator_manages_officials_and_reads_the_rules_and_sinks(
    web: Any, page: Page, results: Path
) -> None:
    # A suggestion whose acknowledgement e-mail reaches the development mail sink.
    office = {"Authorization": f"Bearer {web.users.tokens['office']}"}
    web.http.post("/api/suggestions", json={**SUGGESTION, "title": "关于管理页面测试的建议"}, headers=office)
    web.system.sink.wait_for(1, timeout=60)
    _set_password(web, "admin", "root-admin")
    _set_password(web, "office", "wang-office")
    sign_in(page, "root-admin")
    _fits_the_phone(page)
    page.get_by_role("link", name="系统管理").click()
    expect(page.get_by_role("heading", name="单位", level=1)).to_be_visible()
    expect(page.locator("#units")).to_contain_text("city-transport")
    check(page, results, "admin-units")

    page.get_by_role("link", name="用户", exact=True).click()
    page.get_by_role("button", name="添加").click()
    expect(page.locator("#e-f-name")).to_have_text("请填写此项")
    check(page, results, "admin-users")
    name = f"新经办{SCRIPT}"
    page.get_by_label("姓名").fill(name)
    page.get_by_label("角色").select_option("department")
    page.get_by_label("所属单位").select_option("city-edu")
    page.get_by_role("button", name="添加").click()
    expect(page.get_by_role("heading", name="已添加用户")).to_be_visible()
    token = page.locator("#token").inner_text()
    assert web.http.get("/api/units", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    check(page, results, "admin-token")

    page.get_by_role("link", name="返回用户").click()
    page.locator("tr", has_text="新经办").get_by_role("link", name="设置密码").click()
    page.get_by_label("登录名").fill("xin-jingban")
    page.get_by_label("新密码").fill("short")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#e-password")).to_have_text("至少 10 个字")
    check(page, results, "admin-password")
    page.get_by_label("新密码").fill("a long enough password")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#changed")).to_be_visible()

    page.get_by_role("link", name="API 令牌").click()
    expect(page.locator("#tokens")).to_contain_text("有效")
    check(page, results, "admin-tokens")
    page.get_by_role("button", name=re.compile("^吊销 新经办")).click()
    expect(page.locator("tr", has_text="新经办")).to_contain_text("已吊销")
    assert web.http.get("/api/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    page.get_by_role("link", name="规则").click()
    expect(page.locator("#rules-check h2")).to_have_text("检查通过")
    check(page, results, "admin-rules")
    page.get_by_role("link", name="开发邮箱和短信").click()
    expect(page.locator("details.sink-mail").first).to_be_visible()
    check(page, results, "admin-sinks")

    refused = page.request.post("/admin/users", form={"name": "跨站添加", "role": "admin"})
    assert refused.status == 403 and "表单已失效" in refused.text()

    page.get_by_role("button", name="退出登录").click()
    sign_in(page, "wang-office")  # the office: the 403 page
    answer = page.goto("/admin/users")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", name="无权访问")).to_be_visible()
