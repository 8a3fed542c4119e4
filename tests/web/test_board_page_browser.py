"""The supervision board in a real browser (Debian's chromium): a supervisor filters by a campaign and
a channel at once (the URL follows), the charts are drawn as SVG, a number drills down to the
suggestion's page, the current filter downloads as CSV; axe-core finds no serious violation and a
phone-width screenshot is kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from support import SUGGESTION
from test_pages_browser import _set_password, check, sign_in

pytestmark = pytest.mark.e2e

CAMPAIGN = "看板测试征集<b>活动</b>"


def test_a_supervisor_filters_drills_down_and_exports(web: Any, page: Page, results: Path) -> None:
    office = {"Authorization": f"Bearer {web.users.tokens['office']}"}
    title = "关于看板测试的建议<img src=x onerror=alert(1)>"
    created = web.http.post(
        "/api/suggestions", json={**SUGGESTION, "title": title, "campaign": CAMPAIGN}, headers=office
    )
    assert created.status_code in (200, 201), created.text
    suggestion_id = created.json()["id"]
    _set_password(web, "supervisor", "du-ban")
    sign_in(page, "du-ban")
    page.get_by_role("link", name="督办看板").click()
    expect(page.get_by_role("heading", name="督办看板", level=1)).to_be_visible()
    expect(page.locator("#chart-stages svg")).to_have_count(1)  # ECharts' SVG renderer

    # Two fields at once (a campaign AND a channel): htmx swaps the figures, the URL keeps both.
    page.get_by_role("combobox", name="主动征集活动").select_option(label=CAMPAIGN)
    expect(page).to_have_url(re.compile(r"/board\?period=\d{4}-\d{2}.*&campaign=%E7%9C%8B"))
    page.get_by_role("combobox", name="渠道").select_option(label="人民建议征集信箱")
    expect(page).to_have_url(re.compile(r"channel=mailbox.*&campaign=%E7%9C%8B"))
    expect(page.locator("#board-scope")).to_contain_text("渠道：人民建议征集信箱；主动征集活动：")
    expect(page.locator("#board-scope")).to_contain_text(CAMPAIGN)
    expect(page.locator("#chart-stages svg")).to_have_count(1)  # drawn again after the swap
    page.reload()  # the URL alone brings the same filter back
    expect(page.get_by_role("combobox", name="渠道")).to_have_value("mailbox")
    expect(page.get_by_role("combobox", name="主动征集活动")).to_have_value(CAMPAIGN)
    check(page, results, "board")
    board_url = page.url

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    content = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert download.value.suggested_filename.startswith("figures-") and CAMPAIGN in content

    page.get_by_role("row", name=re.compile("梳理研判")).get_by_role("link").click()  # one suggestion
    expect(page.get_by_role("heading", level=1)).to_have_text("收件按当前阶段：梳理研判")
    check(page, results, "board-drill")
    page.get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/suggestions/{suggestion_id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)  # as text, never run

    # The session gone, the next refresh of the figures leads to the login form, back to this filter.
    page.goto(board_url)
    page.context.clear_cookies()
    page.get_by_label("统计期间").select_option(index=1)
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fboard%3Fperiod%3D"))
