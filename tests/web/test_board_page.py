"""The supervision board page in-process (TestClient) on SQLite and PostgreSQL: the figures with their
drill-downs to the suggestions' pages, the filter in the URL, the htmx partial, the export of exactly
the current filter, the overdue list and late units, and who may see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from clock import Clock
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from support import NOT_ADOPT, SUGGESTION, triage

from jianyi.api.app import create_app
from jianyi.models.enums import StepKind
from jianyi.services import accounts
from jianyi.settings import get_settings
from jianyi.web.templating import local

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
PASSWORD = "correct horse battery"


@pytest.fixture
def http(cli_on: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def history(sessions: sessionmaker[Session], users: Any) -> dict[str, int]:
    """November: one opinion on time, one late (its title a script), one of Huangpu never answered."""
    clock = Clock(sessions, users)
    on_time = clock.submit(MONDAY, who="office")
    late = clock.submit(MONDAY, who="office", data={**SUGGESTION, "title": f"关于晚办的建议{SCRIPT}"})
    district = clock.submit(MONDAY, who="huangpu", data={**SUGGESTION, "channel": "letter"})
    for suggestion_id, who in ((on_time, "office"), (late, "office"), (district, "huangpu")):
        clock.complete(suggestion_id, StepKind.triage, who, triage(), MONDAY)
    clock.complete(on_time, StepKind.opinion, "transport", NOT_ADOPT, MONDAY + timedelta(days=3))
    clock.complete(late, StepKind.opinion, "transport", NOT_ADOPT, MONDAY + timedelta(days=25))
    return {"on_time": on_time, "late": late, "district": district}


def sign_in(http: TestClient, sessions: sessionmaker[Session], users: Any, who: str) -> None:
    with sessions() as session:
        accounts.set_password(session, user_id=users.actors[who].user_id, login=who, password=PASSWORD)
        session.commit()
    token = re.search(r'name="csrftoken" value="([^"]+)"', http.get("/login").text)
    assert token
    answer = http.post(
        "/login",
        data={"login": who, "password": PASSWORD, "csrftoken": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def links(page: str, prefix: str) -> list[str]:
    return [unescape(href) for href in re.findall(rf'href="({re.escape(prefix)}[^"]*)"', page)]


def test_the_board_drills_down_to_the_suggestions_and_exports_its_filter(
    http: TestClient, sessions: sessionmaker[Session], users: Any, history: dict[str, int]
) -> None:
    sign_in(http, sessions, users, "supervisor")
    page = http.get("/board", params={"period": "2026-11"})
    assert page.status_code == 200 and "督办看板" in page.text and "2026年11月" in page.text
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text  # in the overdue list, as text
    assert "selected>2026年11月</option>" in page.text  # the filter shown as chosen
    # The rate's late opinions: the number links to the two late suggestions (one answered late,
    # Huangpu's still open), each linking to its page.
    late = "/board/drill?period=2026-11&figure=handling_on_time&key=late"
    assert late in links(page.text, "/board/drill?")
    drill = http.get(late)
    assert drill.status_code == 200 and "按期办理率：不符合" in drill.text
    assert {f"/suggestions/{history['late']}", f"/suggestions/{history['district']}"} == set(
        links(drill.text, "/suggestions/")
    )
    assert SCRIPT not in drill.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in drill.text
    on_time = http.get(
        "/board/drill", params={"period": "2026-11", "figure": "handling_on_time", "key": "on_time"}
    )
    assert links(on_time.text, "/suggestions/") == [f"/suggestions/{history['on_time']}"]
    assert http.get("/board/drill", params={"period": "2026-11", "figure": "nonsense"}).status_code == 422
    # A key for "no value" (no campaign) is a key too: all three, none of them in a campaign.
    blank = "/board/drill?period=2026-11&figure=by_campaign&key="
    assert blank in links(page.text, "/board/drill?")
    blank_page = http.get(blank).text
    assert (
        len(set(links(blank_page, "/suggestions/"))) == 3 and "收件按主动征集活动：非主动征集" in blank_page
    )
    now = http.get("/board")  # no period: the current month, in Shanghai
    assert now.status_code == 200 and re.search(r"selected>\d{4}年\d{1,2}月</option>", now.text)

    # A scope: Huangpu's letter only, its own figures and its export exactly the API's for the same filter.
    scoped = {"period": "2026-11", "scope": "channel:letter"}
    page = http.get("/board", params=scoped)
    assert 'value="letter" selected' in page.text  # shown in the channel select
    assert "/board/export.csv?period=2026-11&scope=channel%3Aletter" in links(page.text, "/board/export")
    token = {"Authorization": f"Bearer {users.tokens['supervisor']}"}
    for fmt in ("csv", "xlsx"):
        mine = http.get(f"/board/export.{fmt}", params=scoped)
        api = http.get(f"/api/figures.{fmt}", params=scoped, headers=token)
        assert mine.status_code == 200 and mine.headers["content-type"] == api.headers["content-type"]
        assert 'filename="figures-2026-11.' in mine.headers["content-disposition"]
        if fmt == "csv":
            assert mine.content == api.content and mine.content.startswith(b"\xef\xbb\xbf")
            assert "channel:letter" in mine.content.decode("utf-8-sig")
    rows = http.get("/board/drill.csv", params={**scoped, "figure": "by_channel", "key": "letter"})
    assert (
        rows.status_code == 200 and rows.content.decode("utf-8-sig").count("\r\nJY") == 1
    )  # one row (a code may hold "JY" again)

    # The htmx partial: the figures only, polling its own filter's URL.
    partial = http.get("/board", params=scoped, headers={"HX-Request": "true"})
    assert "<html" not in partial.text and 'hx-get="/board?period=2026-11&amp;scope=channel%3Aletter"' in (
        partial.text
    )
    assert 'hx-trigger="every 60s"' in partial.text
    assert http.get("/board", params={"period": "2026-13"}).status_code == 422
    assert "scope" in http.get("/board", params={"period": "2026-11", "scope": "planet:mars"}).text


def test_the_overdue_list_and_the_late_units(
    http: TestClient, sessions: sessionmaker[Session], users: Any, history: dict[str, int]
) -> None:
    sign_in(http, sessions, users, "office")
    page = http.get("/board", params={"period": "2026-11"})
    assert "/board/overdue?unit=city-transport" in links(page.text, "/board/overdue")
    unit = http.get("/board/overdue", params={"unit": "city-transport"})
    assert unit.status_code == 200 and "逾期事项：上海市交通委员会" in unit.text
    assert set(links(unit.text, "/suggestions/")) == {f"/suggestions/{history['district']}"}
    assert http.get("/board/overdue", params={"unit": "city-edu"}).text.count("/suggestions/") == 0
    assert http.get("/board/overdue", params={"after": "not-a-cursor"}).status_code == 422


def test_who_may_see_the_board(
    http: TestClient, sessions: sessionmaker[Session], users: Any, history: dict[str, int]
) -> None:
    sign_in(http, sessions, users, "huangpu")  # a district office: its own suggestions
    page = http.get("/board", params={"period": "2026-11"})
    assert page.status_code == 200 and 'value="huangpu-office"' in page.text
    assert 'value="city-office"' not in page.text  # not offered another office
    assert set(links(page.text, "/suggestions/")) == {f"/suggestions/{history['district']}"}
    assert http.get("/board", params={"period": "2026-11", "scope": "office:city-office"}).status_code == 403
    assert http.get("/board/export.csv", params={"scope": "office:city-office"}).status_code == 403
    sign_in(http, sessions, users, "transport")  # a department: the 403 page
    for path in ("/board", "/board/export.csv", "/board/drill?figure=by_stage", "/board/overdue"):
        answer = http.get(path)
        assert answer.status_code == 403 and "无权访问" in answer.text, path
    assert 'href="/board"' not in http.get("/workbench").text


def test_the_board_narrows_by_office_channel_and_category_at_once(
    http: TestClient, sessions: sessionmaker[Session], users: Any, history: dict[str, int]
) -> None:
    """Every narrowing field applies at once, to the figures, their drill-downs, exports and the
    overdue lists, and stays in the URL of every link; the overdue page narrows to a due period too."""
    clock = Clock(sessions, users)
    letters = {**SUGGESTION, "channel": "letter"}
    school = clock.submit(MONDAY, who="office", data={**letters, "title": "关于校门口护学岗的建议"})
    other = clock.submit(MONDAY, who="office", data={**letters, "title": "关于公交的另一建议"})
    clock.complete(school, StepKind.triage, "office", triage(category="教育"), MONDAY)
    clock.complete(other, StepKind.triage, "office", triage(), MONDAY)  # 交通出行, both never answered
    sign_in(http, sessions, users, "supervisor")

    narrow = {"period": "2026-11", "office": "city-office", "channel": "letter", "category": "教育"}
    page = http.get("/board", params=narrow)
    assert page.status_code == 200
    assert re.search(r'id="board-scope">办理机构：[^<]*；渠道：来信；类别：教育<', page.text)
    for shown in ('value="city-office" selected', 'value="letter" selected', 'value="教育" selected'):
        assert shown in page.text
    query = "period=2026-11&office=city-office&channel=letter&category=%E6%95%99%E8%82%B2"
    assert f"/board/export.csv?{query}" in links(page.text, "/board/export")
    # The overdue shortlist and its "all" link: only the school item (Huangpu's letter is another office's).
    assert set(links(page.text, "/suggestions/")) == {f"/suggestions/{school}"}
    assert f"/board/overdue?{query.removeprefix('period=2026-11&')}" in links(page.text, "/board/overdue?")

    # The late units: counted among the narrowed suggestions, each number a link keeping the filter.
    def late_units(text: str) -> list[tuple[str, str]]:
        table = re.search(r'id="late-units".*?</table>', text, re.S)
        return (
            re.findall(r"<th scope=\"row\">([^<]+)</th>\s*<td><a[^>]*>(\d+)<", table.group(0))
            if table
            else []
        )

    assert late_units(page.text) == [("上海市交通委员会", "2")]  # the steps it owes on the school item alone
    everywhere = dict(late_units(http.get("/board", params={"period": "2026-11"}).text))
    assert int(everywhere["上海市交通委员会"]) > 2
    late = re.search(r'id="late-units".*?</table>', page.text, re.S)
    assert late
    assert f"/board/overdue?{query.removeprefix('period=2026-11&')}&unit=city-transport" in links(
        late.group(0), "/board/overdue?"
    )
    drill = http.get("/board/drill", params={**narrow, "figure": "by_stage"})
    assert set(links(drill.text, "/suggestions/")) == {f"/suggestions/{school}"}
    assert f"/board/drill.csv?{query}&figure=by_stage" in links(drill.text, "/board/drill.csv")
    exported = http.get("/board/drill.csv", params={**narrow, "figure": "by_stage"}).content.decode(
        "utf-8-sig"
    )
    assert "关于校门口护学岗的建议" in exported and "关于公交的另一建议" not in exported
    figures = http.get("/board/export.csv", params=narrow).content.decode("utf-8-sig")
    assert "office:city-office + channel:letter + category:教育" in figures
    # One field less: both letters of the city office.
    wider = http.get("/board/drill", params={**narrow, "category": "", "figure": "by_stage"})
    assert set(links(wider.text, "/suggestions/")) == {f"/suggestions/{school}", f"/suggestions/{other}"}

    # The overdue page: by category, by the period their deadline fell in, the filter kept for paging.
    overdue = http.get("/board/overdue", params={"category": "教育"})
    assert set(links(overdue.text, "/suggestions/")) == {f"/suggestions/{school}"}
    assert 'value="教育" selected' in overdue.text and "类别：教育" in overdue.text
    traffic = http.get("/board/overdue", params={"category": "交通出行", "channel": "letter"})
    assert set(links(traffic.text, "/suggestions/")) == {
        f"/suggestions/{other}",
        f"/suggestions/{history['district']}",
    }
    november = set(links(http.get("/board/overdue", params={"period": "2026-11"}).text, "/suggestions/"))
    assert {f"/suggestions/{n}" for n in (school, other, history["district"])} <= november
    assert links(http.get("/board/overdue", params={"period": "2025-01"}).text, "/suggestions/") == []
    assert "period" in http.get("/board/overdue", params={"period": "someday"}).text  # 422 naming the field
    assert http.get("/board/overdue", params={"period": "someday"}).status_code == 422
    assert http.get("/board", params={**narrow, "channel": "pigeon"}).status_code == 422

    sign_in(http, sessions, users, "huangpu")  # a district office: never another office's, combined or not
    assert http.get("/board", params={"office": "city-office", "channel": "letter"}).status_code == 403
    assert http.get("/board/overdue", params={"office": "city-office"}).status_code == 403
    mine = http.get("/board/overdue", params={"channel": "letter"})
    assert set(links(mine.text, "/suggestions/")) == {f"/suggestions/{history['district']}"}


def test_the_board_and_the_api_share_a_snapshot_and_say_when_it_was_computed(
    sessions: sessionmaker[Session],
    users: Any,
    history: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    cli_on: None,
) -> None:
    monkeypatch.setenv("JIANYI_FIGURES_MAX_AGE_SECONDS", "3600")  # no test outlasts it
    get_settings.cache_clear()
    with TestClient(create_app(), raise_server_exceptions=False) as http:
        sign_in(http, sessions, users, "supervisor")
        november = {"period": "2026-11"}
        api = http.get(
            "/api/figures", params=november, headers={"Authorization": f"Bearer {users.tokens['supervisor']}"}
        ).json()
        computed_at = datetime.fromisoformat(api["computed_at"])
        # A suggestion recorded since: the board shows the same snapshot, and says when it was computed.
        Clock(sessions, users).submit(MONDAY, who="office")
        for headers in ({}, {"HX-Request": "true"}):
            page = http.get("/board", params=november, headers=headers).text
            shown = re.search(r'统计于 <time id="board-updated" datetime="([^"]+)">([^<]+)</time>', page)
            assert shown and datetime.fromisoformat(shown.group(1)) == computed_at
            assert shown.group(2) == local(computed_at, "%Y-%m-%d %H:%M:%S")
            assert "至多 3600 秒前的统计" in page
            stages = re.search(r'href="/board/drill\?period=2026-11&amp;figure=by_stage">(\d+)</a>', page)
            assert stages and int(stages.group(1)) == 3  # the snapshot's: not the fourth
        # The drill-downs stay live: the new suggestion is among those received.
        drill = http.get("/board/drill", params={**november, "figure": "by_channel"}).text
        assert len(set(links(drill, "/suggestions/"))) == 4
