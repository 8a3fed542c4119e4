"""The pages in a real browser (Debian's chromium), by clicking only: a citizen submits, sees the
codes, looks the suggestion up; a department clerk signs in, finds the step on the workbench and
completes it. Each page is checked with axe-core (no serious or critical violation) and kept as a
phone-width screenshot under tests/web/results."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from support import triage

from jianyi.models import Step
from jianyi.models.enums import StepKind, StepState

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCRIPT = "<img src=x onerror=alert(document.cookie)>"
PASSWORD = "correct horse battery"
PHONE_NUMBER = "13912345678"
EMAIL = "citizen-web@example.com"


def check(page: Page, results: Path, name: str) -> None:
    """axe-core on the page (no serious or critical violation), and its screenshot."""
    page.evaluate(AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    serious = [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"
    page.screenshot(path=str(results / f"{name}.png"), full_page=True)


def _public_text_has_no_contact(page: Page) -> None:
    text = page.content()
    assert not re.search(r"1[3-9]\d{9}", text), "a phone number on a public page"
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text), "an e-mail address on a public page"


def _step_of(web: Any, suggestion_id: int, kind: StepKind) -> Step | None:
    with web.sessions() as session:
        return session.query(Step).filter_by(suggestion_id=suggestion_id, kind=kind).one_or_none()


def _wait(what: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def submit_on_the_public_form(page: Page, results: Path, title: str) -> tuple[str, str]:
    page.goto("/")
    check(page, results, "home")
    page.get_by_label("标题").fill(title)
    page.get_by_label("存在的问题").fill("早高峰公交车间隔过长，乘客等候时间超过二十分钟。")
    page.get_by_label("依据和理由").fill("沿线新建小区入住人口增加。")
    page.get_by_label("具体建议措施").fill("早高峰加密班次至每十分钟一班。")
    page.get_by_label("姓名或单位名称").fill("张三")
    page.get_by_label("手机或电话").fill(PHONE_NUMBER)
    page.get_by_label("电子邮箱").fill(EMAIL)
    page.get_by_role("button", name="提交建议").click()
    expect(page.get_by_role("heading", name="您的建议已提交")).to_be_visible()
    check(page, results, "receipt")
    _public_text_has_no_contact(page)
    return page.locator("#tracking-code").inner_text(), page.locator("#check-code").inner_text()


def test_a_citizen_submits_and_follows_a_suggestion(web: Any, page: Page, results: Path) -> None:
    # The title carries a script: it is shown as text and never runs (the context fails on a dialog).
    code, check_code = submit_on_the_public_form(page, results, f"关于加密公交班次的建议{SCRIPT}")
    assert re.fullmatch(r"JY\d{4}[0-9A-Z]{8}", code) and check_code
    # A form with a mistake: Chinese errors beside their fields, nothing lost.
    page.goto("/")
    page.get_by_label("标题").fill("短")
    page.get_by_role("button", name="提交建议").click()
    expect(page.locator("#e-title")).to_contain_text("至少")
    expect(page.locator("#e-problem")).to_be_visible()
    expect(page.get_by_label("标题")).to_have_value("短")
    check(page, results, "home-errors")

    page.get_by_role("link", name="查询进度").first.click()
    check(page, results, "lookup")
    page.get_by_label("跟踪编号").fill(code)
    page.get_by_label("查询码").fill("WRONG0000000")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()  # a page, never JSON
    check(page, results, "not-found")
    page.go_back()
    page.get_by_label("跟踪编号").fill(code)
    page.get_by_label("查询码").fill(check_code)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#stage")).to_have_text("梳理研判")
    expect(page.get_by_role("heading", level=1)).to_contain_text("<img src=x")  # shown as text
    expect(page.locator("ol.progress li[aria-current=step]")).to_have_text("梳理研判")
    check(page, results, "tracking")
    _public_text_has_no_contact(page)


def _set_password(web: Any, user: str, login: str) -> None:
    """`jianyi users set-password`, as an administrator would run it."""
    user_id = web.users.actors[user].user_id
    env = {**os.environ, "JIANYI_DATABASE_URL": web.system.database_url, "JIANYI_HOME": str(web.system.home)}
    done = subprocess.run(
        [sys.executable, "-m", "jianyi", "users", "set-password", str(user_id), "--login", login],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def sign_in(page: Page, login: str, password: str = PASSWORD) -> None:
    page.goto("/workbench")  # not signed in: sent to the login form
    page.get_by_label("登录名").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_a_department_completes_its_step_on_the_workbench(
    web: Any, page: Page, context: BrowserContext, browser: Any, results: Path
) -> None:
    code, _ = submit_on_the_public_form(page, results, "关于优化路口信号灯配时的建议")
    with web.sessions() as session:
        from jianyi.models import Suggestion

        suggestion_id = session.query(Suggestion.id).filter_by(tracking_code=code).scalar()
    triage_step = _wait(lambda: _step_of(web, suggestion_id, StepKind.triage))
    office = {"Authorization": f"Bearer {web.users.tokens['office']}"}
    answer = web.http.post(f"/api/steps/{triage_step.id}/complete", json=triage(), headers=office)
    assert answer.status_code == 200, answer.text
    opinion = _wait(lambda: _step_of(web, suggestion_id, StepKind.opinion), timeout=90)
    _set_password(web, "transport", "zhao")
    _set_password(web, "edu", "qian")

    sign_in(page, "zhao", "wrong password!!")
    expect(page.locator("#login-error")).to_have_text("登录名或密码错误。")
    check(page, results, "login")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    check(page, results, "workbench")
    page.get_by_label("跟踪编号或标题").fill(code)
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(rf"q={code}"))  # the filter is in the URL
    page.locator(f"a[href='/steps/{opinion.id}']").click()
    expect(page).to_have_url(re.compile(rf"/steps/{opinion.id}$"))
    expect(page.locator("#proposer")).to_contain_text(PHONE_NUMBER)  # the lead unit may call them
    check(page, results, "step")
    with web.sessions() as session:
        from jianyi.models import AuditEntry

        viewed = session.query(AuditEntry).filter_by(action="proposer.viewed", suggestion_id=suggestion_id)
        assert viewed.count() >= 1

    expect(page.get_by_role("navigation", name="同一建议的其他待办")).to_contain_text("退回异议")
    # Waiting for the proposer's material: the clock stops, then runs again.
    page.locator("#clock summary").click()
    page.get_by_label("等待的事项（必填）").fill("等待建议人补充站点照片")
    page.get_by_role("button", name="暂停计时").click()
    expect(page.locator("#paused")).to_contain_text("计时已暂停")
    page.locator("#clock summary").click()
    page.get_by_role("button", name="恢复计时").click()
    expect(page.locator("#paused")).to_have_count(0)

    # Submitted empty: the model's errors, in Chinese, beside their fields.
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#e-f-reasons")).to_have_text("请填写此项")
    page.get_by_label("办理意见").select_option("adopt")
    page.get_by_label("理由").fill(f"经调研，建议可行。{SCRIPT}")
    page.get_by_label("措施").fill("调整早高峰信号配时。")
    page.get_by_label("计划完成日期").fill("2027-03-31")
    page.get_by_label("征求建议人意见情况").fill("电话征求意见，建议人同意。")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    done = _wait(
        lambda: (s := _step_of(web, suggestion_id, StepKind.opinion)) and s.state is not StepState.open and s
    )
    assert done.input["decision"] == "adopt" and done.completed_by_label == "市交通委 赵经办"
    page.get_by_role("link", name="已办事项").click()  # what the unit answered, searchable
    page.get_by_label("跟踪编号或标题").fill(code)
    page.get_by_role("button", name="搜索").click()
    expect(page.locator(f"a[href='/steps/{opinion.id}']")).to_have_text("办理意见")
    check(page, results, "done")

    # Another unit's clerk opening the step by its URL: a 403 page.
    other = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN", base_url=web.url)
    try:
        other_page = other.new_page()
        sign_in(other_page, "qian")
        expect(other_page.get_by_role("heading", name="待办事项")).to_be_visible()
        answer_403 = other_page.goto(f"/steps/{opinion.id}")
        assert answer_403 is not None and answer_403.status == 403
        expect(other_page.get_by_role("heading", name="无权访问")).to_be_visible()
        check(other_page, results, "forbidden")
        assert (other_page.goto(f"/suggestions/{suggestion_id}") or pytest.fail("no answer")).status == 403
    finally:
        other.close()


def test_a_form_without_its_csrf_token_is_refused(web: Any, page: Page, results: Path) -> None:
    code, _ = submit_on_the_public_form(page, results, "关于增设公共自行车站点的建议")
    with web.sessions() as session:
        from jianyi.models import Suggestion

        suggestion_id = session.query(Suggestion.id).filter_by(tracking_code=code).scalar()
    triage_step = _wait(lambda: _step_of(web, suggestion_id, StepKind.triage))
    _set_password(web, "office", "wang-office")
    sign_in(page, "wang-office")  # the office's handler owes the triage
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    # The signed-in browser posts the form without the token (as another site's page would).
    refused = page.request.post(f"/steps/{triage_step.id}", form={"kind": "complaint", "note": "x"})
    assert refused.status == 403 and "表单已失效" in refused.text()
    assert _step_of(web, suggestion_id, StepKind.triage).state is StepState.open
    # …and with it, through the page itself, the same answer is taken.
    page.goto(f"/steps/{triage_step.id}")
    page.get_by_label("类型").select_option("complaint")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    assert _step_of(web, suggestion_id, StepKind.triage).state is not StepState.open


def complete_on_its_page(page: Page, step_id: int, fields: dict[str, str]) -> None:
    """Open the step from the workbench and answer it: selects by value, the rest typed."""
    page.goto("/workbench")
    page.locator(f"a[href='/steps/{step_id}']").click()
    for label, value in fields.items():
        box = page.get_by_label(label)
        if box.evaluate("e => e.tagName") == "SELECT":
            box.select_option(value)
        else:
            box.fill(value)
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()


def test_a_suggestion_goes_from_the_form_to_the_rating_by_clicking(
    web: Any, page: Page, results: Path
) -> None:
    code, check_code = submit_on_the_public_form(page, results, "关于延长图书馆开放时间的建议")
    with web.sessions() as session:
        from jianyi.models import Suggestion

        suggestion_id = session.query(Suggestion.id).filter_by(tracking_code=code).scalar()
    _set_password(web, "office", "wang-office")
    _set_password(web, "transport", "zhao")

    def open_step(kind: StepKind) -> int:
        step = _wait(
            lambda: (s := _step_of(web, suggestion_id, kind)) and s.state is StepState.open and s, 90
        )
        return int(step.id)

    sign_in(page, "wang-office")  # the office triages at its desk, the rules' proposal prefilled
    triage_id = open_step(StepKind.triage)
    page.get_by_role("link", name="分拣台").click()
    page.locator(f"a[href='/steps/{triage_id}']").click()
    expect(page.locator("#proposal")).to_contain_text("transport-keywords")  # 公交 in its text
    expect(page.get_by_label("主办单位（代码）")).to_have_value("city-transport")
    check(page, results, "triage")
    complete_on_its_page(  # confirmed, with a category
        page,
        triage_id,
        {"类型": "suggestion", "类别": "文化"},
    )
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()

    sign_in(page, "zhao")  # the lead unit answers
    complete_on_its_page(
        page,
        open_step(StepKind.opinion),
        {
            "办理意见": "not_adopt",
            "理由": "现有开放时间已覆盖主要需求。",
            "征求建议人意见情况": "已电话沟通。",
        },
    )
    page.get_by_role("button", name="退出登录").click()

    sign_in(page, "wang-office")  # the office reads the whole case, accepts the opinion and replies
    review_id = open_step(StepKind.review)
    page.goto("/workbench")
    page.locator(f"a[href='/steps/{review_id}']").click()
    page.get_by_role("link", name="关于延长图书馆开放时间的建议").click()
    expect(page.locator("#flow-run")).to_have_attribute("href", re.compile(r"/runs/flow-run/[0-9a-f-]{36}$"))
    expect(page.locator("ol.timeline")).to_contain_text("办理意见")
    check(page, results, "suggestion")
    complete_on_its_page(page, review_id, {"处理": "accept"})
    reply = "感谢您的建议。经研究，现有开放时间已覆盖主要需求，暂不调整。"
    complete_on_its_page(page, open_step(StepKind.reply), {"方式": "email", "内容": reply})
    open_step(StepKind.rating)

    page.goto("/track")  # the proposer reads the reply and rates it
    page.get_by_label("跟踪编号").fill(code)
    page.get_by_label("查询码").fill(check_code)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#reply .reply-text")).to_have_text(reply)
    check(page, results, "tracking-reply")
    page.get_by_label("满意", exact=True).check()
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_role("status")).to_have_text("感谢您的评价。")
    _wait(lambda: (s := _step_of(web, suggestion_id, StepKind.rating)) and s.state is StepState.completed)
    page.reload()
    expect(page.locator("#outcome h2")).to_have_text("办理结果：暂不采纳")
    expect(page.locator("ol.timeline li", has_text="已答复")).to_have_count(1)
    expect(page.locator("ol.progress li.done", has_text="落实转化")).to_have_count(0)  # never entered
    expect(page.locator("ol.progress li.done", has_text="沟通反馈")).to_have_count(1)
    check(page, results, "tracking-closed")
