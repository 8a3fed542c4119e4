"""A department's objection and extension request in a real browser (Debian's chromium), by clicking
only: the lead unit asks for more time from its step page and the office approves it (the new
deadline shown to the unit); the unit then objects ("not our responsibility") and the office
re-routes the item, which leaves the unit's workbench for the other unit's. Each page is checked
with axe-core and kept as a phone-width screenshot; a script typed into a field never runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from support import SUGGESTION, triage
from test_pages_browser import SCRIPT, _set_password, _step_of, _wait, check, sign_in

from jianyi.models import Step
from jianyi.models.enums import StepKind, StepState
from jianyi.web.templating import local

pytestmark = pytest.mark.e2e


def _open(web: Any, suggestion_id: int, kind: StepKind, unit: str | None = None) -> Step:
    """The open step of that kind (of that unit's code, when given), once the flow has opened it."""

    def found() -> Step | None:
        with web.sessions() as session:
            from jianyi.models import Unit

            query = session.query(Step).filter_by(
                suggestion_id=suggestion_id, kind=kind, state=StepState.open
            )
            if unit is not None:
                query = query.join(Unit, Unit.id == Step.unit_id).filter(Unit.code == unit)
            return query.one_or_none()

    return _wait(found, timeout=90)  # type: ignore[no-any-return]


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()


def _step_from_workbench(page: Page, code: str, step_id: int) -> None:
    page.goto("/workbench")
    page.get_by_label("跟踪编号或标题").fill(code)
    page.get_by_role("button", name="筛选").click()
    page.locator(f"a[href='/steps/{step_id}']").click()
    expect(page).to_have_url(re.compile(rf"/steps/{step_id}$"))


def test_a_department_objects_and_asks_for_more_time_and_sees_the_outcome(
    web: Any, page: Page, results: Path
) -> None:
    office = {"Authorization": f"Bearer {web.users.tokens['office']}"}
    created = web.http.post(
        "/api/suggestions", json={**SUGGESTION, "title": "关于公交站台增设座椅的建议"}, headers=office
    )
    assert created.status_code in (200, 201), created.text
    suggestion_id, code = created.json()["id"], created.json()["tracking_code"]
    triage_step = _open(web, suggestion_id, StepKind.triage)
    answer = web.http.post(f"/api/steps/{triage_step.id}/complete", json=triage(), headers=office)
    assert answer.status_code == 200, answer.text
    opinion = _open(web, suggestion_id, StepKind.opinion)
    _set_password(web, "transport", "zhao")
    _set_password(web, "edu", "qian")
    _set_password(web, "office", "wang-office")

    # The lead unit asks for five more working days, from its opinion's page.
    sign_in(page, "zhao")
    _step_from_workbench(page, code, opinion.id)
    before = page.locator("#due").inner_text()
    page.get_by_role("navigation", name="同一建议的其他待办").get_by_role("link", name="延期申请").click()
    expect(page.get_by_role("heading", name="延期申请", level=1)).to_be_visible()
    page.get_by_label("工作日数").fill("99")  # beyond the model's limit: said beside the field
    page.get_by_label("理由").fill(f"需要现场调研多个站台。{SCRIPT}")
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#e-f-working_days")).to_have_text("数值过大")
    expect(page.get_by_label("理由")).to_have_value(f"需要现场调研多个站台。{SCRIPT}")  # nothing lost
    check(page, results, "extension-request")
    page.get_by_label("工作日数").fill("5")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    _sign_out(page)

    # The office approves it at its step page.
    sign_in(page, "wang-office")
    decision = _open(web, suggestion_id, StepKind.extension_decision)
    _step_from_workbench(page, code, decision.id)
    expect(page.locator("ol.timeline")).to_contain_text("延期申请")
    check(page, results, "extension-decision")
    page.get_by_label("同意", exact=True).check()
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    extended = _wait(
        lambda: (s := _step_of(web, suggestion_id, StepKind.opinion)) and s.due_at != opinion.due_at and s
    )
    _sign_out(page)

    # The unit sees its new deadline on the step's page.
    sign_in(page, "zhao")
    _step_from_workbench(page, code, opinion.id)
    expect(page.locator("#due")).to_contain_text(local(extended.due_at))
    expect(page.locator("#due")).to_contain_text("已批准延期 5 个工作日")
    assert page.locator("#due").inner_text() != before

    # Then it objects: not its responsibility, the education commission's.
    page.get_by_role("navigation", name="同一建议的其他待办").get_by_role("link", name="退回异议").click()
    expect(page.get_by_role("heading", name="退回异议", level=1)).to_be_visible()
    page.get_by_label("理由").fill(f"站台座椅属教育系统校园周边设施。{SCRIPT}")
    page.get_by_label("建议的责任单位（代码）").fill("city-edu")
    check(page, results, "objection")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    _sign_out(page)

    # The office accepts the objection and names the new lead unit.
    sign_in(page, "wang-office")
    reroute = _open(web, suggestion_id, StepKind.reroute)
    _step_from_workbench(page, code, reroute.id)
    expect(page.locator("ol.timeline")).to_contain_text("退回异议")
    page.get_by_label("同意异议").check()
    page.get_by_label("主办单位（代码）").fill("city-edu")
    check(page, results, "reroute")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()
    _open(web, suggestion_id, StepKind.opinion, unit="city-edu")
    _sign_out(page)

    # The item has left the unit's workbench; its answered steps say where it went.
    sign_in(page, "zhao")
    page.get_by_label("跟踪编号或标题").fill(code)
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#no-steps")).to_be_visible()
    page.get_by_role("link", name="已办事项").click()
    page.get_by_label("跟踪编号或标题").fill(code)
    page.get_by_role("button", name="搜索").click()
    expect(page.locator("table.steps tbody tr")).to_have_count(2)  # the request and the objection
    expect(page.locator("table.steps")).to_contain_text("已重新交办")
    check(page, results, "done-rerouted")
    _sign_out(page)

    # …and is on the education commission's.
    sign_in(page, "qian")
    page.get_by_label("跟踪编号或标题").fill(code)
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_role("link", name="办理意见")).to_have_count(1)
    check(page, results, "workbench-rerouted")
