"""The pages in-process (FastAPI's TestClient) on this test's real database, SQLite or PostgreSQL:
local front-end files, error pages, the submission form's protections, accounts and generated forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.api.app import create_app
from jianyi.errors import NotAuthenticated
from jianyi.models import Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import Channel
from jianyi.models.step_inputs import OpinionInput, TriageInput
from jianyi.services import accounts, owed
from jianyi.web.forms import chinese, fields_of, payload_from


@pytest.fixture
def http(cli_on: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _token(page: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found, "the form carries no CSRF token"
    return found.group(1)


FORM = {
    "title": "关于增加社区食堂的建议",
    "problem": "老年人用餐不便，周边缺少价格合适的食堂。",
    "grounds": "",
    "proposal": "在街道设立社区长者食堂。",
    "name": "李四",
    "email": "lisi@example.com",
}


def test_docs_and_redoc_load_only_local_files(http: TestClient) -> None:
    for path, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        page = http.get(path)
        assert page.status_code == 200 and f'src="/static/vendor/{script}"' in page.text
        assert "cdn" not in page.text and "https://" not in page.text
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert http.get(f"/static/vendor/{script}").status_code == 200
    assert http.get("/static/vendor/package.json").status_code == 404  # only the files listed
    assert http.get("/static/web/site.css").status_code == 200


def test_a_page_error_is_a_chinese_page_and_the_api_stays_json(http: TestClient) -> None:
    page = http.get("/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "未找到" in page.text and '"code"' not in page.text
    api = http.get("/api/health/nothing")
    assert api.status_code == 404 and api.json()["code"] == "not_found"
    assert http.get("/workbench", follow_redirects=False).headers["location"] == "/login?next=%2Fworkbench"


def test_the_public_form_takes_a_suggestion_in_once(
    http: TestClient, sessions: sessionmaker[Session]
) -> None:
    home = http.get("/")
    assert home.status_code == 200 and "csrftoken" in home.cookies
    token = _token(home.text)
    assert http.post("/suggest", data=FORM).status_code == 403  # no token: refused, nothing stored
    robot = http.post("/suggest", data={**FORM, "csrftoken": token, "website": "http://spam"})
    assert robot.status_code == 400
    wrong = http.post("/suggest", data={**FORM, "csrftoken": token, "email": "not-an-address"})
    assert wrong.status_code == 422 and 'id="e-email"' in wrong.text and "李四" in wrong.text
    with sessions() as session:
        assert session.query(Suggestion).count() == 0
    receipt = http.post("/suggest", data={**FORM, "csrftoken": token})
    assert receipt.status_code == 200 and receipt.headers["cache-control"] == "no-store"
    code = re.search(r'id="tracking-code">([^<]+)<', receipt.text)
    check = re.search(r'id="check-code">([^<]+)<', receipt.text)
    assert code and check
    with sessions() as session:
        stored = session.query(Suggestion).one()
        assert stored.channel is Channel.web and stored.tracking_code == code.group(1)
        assert "【存在的问题】" in stored.content and "【依据和理由】" not in stored.content  # left blank
    tracking = http.get(f"/track/{code.group(1)}", params={"check": check.group(1)})
    assert (
        tracking.status_code == 200
        and "lisi@example.com" not in tracking.text
        and "李四" not in tracking.text
    )


def test_submissions_are_rate_limited_per_client(http: TestClient) -> None:
    token = _token(http.get("/").text)
    answers = [http.post("/suggest", data={**FORM, "csrftoken": token}).status_code for _ in range(7)]
    assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]


def test_a_wrong_password_is_counted_and_locks_the_account(
    sessions: sessionmaker[Session], users: Any
) -> None:
    user_id = users.actors["transport"].user_id
    with sessions() as session:
        accounts.set_password(session, user_id=user_id, login="zhao", password="correct horse battery")
        session.commit()
    with sessions() as session:
        for _ in range(accounts.MAX_FAILURES):
            with pytest.raises(NotAuthenticated):
                accounts.check_password(session, login="zhao", password="wrong password")
        with pytest.raises(accounts.Locked):  # even the right password, while locked
            accounts.check_password(session, login="zhao", password="correct horse battery")
        later = utcnow() + timedelta(minutes=accounts.LOCK_MINUTES + 1)
        user = accounts.check_password(session, login="zhao", password="correct horse battery", now=later)
        assert user.id == user_id and user.password_hash and "argon2" in user.password_hash


def test_a_web_session_expires_and_ends_at_logout(sessions: sessionmaker[Session], users: Any) -> None:
    user_id = users.actors["edu"].user_id
    with sessions() as session:
        user = accounts.set_password(session, user_id=user_id, login="qian", password="correct horse battery")
        token = accounts.start_session(session, user=user)
        assert accounts.signed_in(session, token=token) == users.actors["edu"]
        assert accounts.signed_in(session, token=token, now=utcnow() + timedelta(hours=9)) is None
        accounts.end_session(session, token=token)
        assert accounts.signed_in(session, token=token) is None


def test_a_steps_form_comes_from_its_model() -> None:
    fields = {f.name: f for f in fields_of(OpinionInput.model_json_schema())}
    assert fields["decision"].widget == "select" and ("adopt", "采纳") in fields["decision"].options
    assert fields["planned_completion"].widget == "date" and not fields["planned_completion"].required
    assert fields["reasons"].widget == "textarea" and fields["reasons"].required
    triage = {f.name: f for f in fields_of(TriageInput.model_json_schema())}
    assert triage["co_units"].widget == "list"
    payload = payload_from(
        {"kind": "suggestion", "lead_unit": "a", "co_units": "b，c", "note": " "}, list(triage.values())
    )
    assert payload == {"kind": "suggestion", "lead_unit": "a", "co_units": ["b", "c"]}
    with pytest.raises(Exception) as caught:
        OpinionInput.model_validate({"decision": "adopt", "reasons": "x", "consultation": "y"})
    errors = chinese(caught.value.errors())  # type: ignore[attr-defined]
    reason = "填写有误：an adoption says what will be done and by when"
    assert errors == {"measures": reason, "planned_completion": reason}  # beside each field it names


def _sign_in(http: TestClient, sessions: sessionmaker[Session], users: Any, who: str, login: str) -> None:
    with sessions() as session:
        accounts.set_password(
            session, user_id=users.actors[who].user_id, login=login, password="correct horse battery"
        )
        session.commit()
    token = _token(http.get("/login").text)
    signed = http.post(
        "/login",
        data={"login": login, "password": "correct horse battery", "csrftoken": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/workbench"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=28800" in cookie


def test_the_workbench_filters_are_in_the_url(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    office = {"Authorization": f"Bearer {users.tokens['office']}"}
    created = http.post("/api/suggestions", json=SUGGESTION, headers=office).json()
    code = created["tracking_code"]
    _sign_in(http, sessions, users, "office", "wang")

    def listed(**query: str) -> bool:
        page = http.get("/workbench", params=query)
        assert page.status_code == 200, page.text
        return code in page.text

    assert listed() and listed(kind="triage") and listed(stage="triage") and listed(q=code.lower())
    assert listed(q="公交71路") and listed(kind="", stage="", within="") and listed(within="10")
    assert not listed(kind="opinion") and not listed(stage="research") and not listed(q="不存在的标题")
    assert not listed(overdue="true")  # due in working days to come
    partial = http.get("/workbench", params={"kind": "triage"}, headers={"HX-Request": "true"})
    assert code in partial.text and "<html" not in partial.text  # htmx swaps the list only
    # A signed-in browser's form without its token is refused; with it, the session ends.
    assert http.post("/logout").status_code == 403
    assert http.post("/logout", data={"csrftoken": _token(http.get("/workbench").text)}).status_code == 200
    assert http.get("/workbench", follow_redirects=False).status_code == 303  # to the login form


def test_the_workbench_and_the_api_list_a_page_at_a_time(
    http: TestClient, sessions: sessionmaker[Session], users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = {"Authorization": f"Bearer {users.tokens['office']}"}
    codes = [
        http.post("/api/suggestions", json=SUGGESTION, headers=office).json()["tracking_code"]
        for _ in range(3)
    ]
    monkeypatch.setattr(owed, "PAGE", 2)
    _sign_in(http, sessions, users, "office", "wang")
    first = http.get("/workbench").text
    assert "共 3 项待办" in first and "第 1 / 2 页" in first
    following = re.search(r'href="(/workbench\?page=2)" rel="next"', first)
    assert following and [c in first for c in codes] == [True, True, False]
    second = http.get(following.group(1)).text
    assert "第 2 / 2 页" in second and codes[2] in second and 'rel="prev"' in second
    # The API: a keyset page and a Link header to the next one, the last page without.
    listed = http.get("/api/steps", params={"limit": 2}, headers=office)
    link = re.fullmatch(r'<(/api/steps\?[^>]+)>; rel="next"', listed.headers["link"])
    assert link and len(listed.json()) == 2
    rest = http.get(link.group(1), headers=office)
    assert [s["tracking_code"] for s in listed.json() + rest.json()] == codes and "link" not in rest.headers
    assert http.get("/api/steps", params={"after": "bad"}, headers=office).status_code == 422


def test_a_locked_account_is_told_so_on_the_login_page(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    _sign_in(http, sessions, users, "edu", "qian")
    token = _token(http.get("/login").text)
    answers = [
        http.post("/login", data={"login": "qian", "password": "wrong password", "csrftoken": token})
        for _ in range(accounts.MAX_FAILURES + 1)
    ]
    assert [a.status_code for a in answers] == [401] * accounts.MAX_FAILURES + [429]
    assert "登录名或密码错误" in answers[0].text and "账户已暂时锁定" in answers[-1].text


def test_due_dates_count_in_working_days(sessions: sessionmaker[Session]) -> None:
    from datetime import datetime

    from jianyi.rules.calendar import SHANGHAI
    from jianyi.services import deadlines
    from jianyi.web.workbench import working_days

    with sessions() as session:
        calendar = deadlines.current_calendar(session)
    friday = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)

    def due(day: int) -> datetime:
        return datetime(2026, 12, day, 23, 59, tzinfo=SHANGHAI)

    # Friday's morning: due the same day 0, Monday 1 (the weekend does not count), Tuesday 2;
    # due Thursday: overdue by 1; due Saturday: no working day left before it; last Friday: overdue by 5.
    assert [working_days(calendar, friday, due(d)) for d in (4, 7, 8, 3, 5)] == [0, 1, 2, -1, 0]
    assert working_days(calendar, friday, datetime(2026, 11, 27, 12, tzinfo=SHANGHAI)) == -5


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example"]
)
def test_the_login_form_never_sends_the_browser_off_the_site(http: TestClient, target: str) -> None:
    page = http.get("/login", params={"next": target})
    assert 'name="next" value="/workbench"' in page.text


def test_a_leader_sees_the_important_items(
    http: TestClient, sessions: sessionmaker[Session], users: Any, driver: Any
) -> None:
    from support import triage

    from jianyi.models.enums import Role, StepKind
    from jianyi.services import auth

    important = driver.submit({**SUGGESTION, "title": "关于重要事项的建议"})
    general = driver.submit({**SUGGESTION, "title": "关于一般事项的建议"})
    for suggestion_id, level in ((important, "important"), (general, "general")):
        [step] = [s for s in driver.open_steps(suggestion_id) if s.kind is StepKind.triage]
        driver.complete("office", suggestion_id, step.id, triage(level=level))
        driver.advance(suggestion_id)  # the flow applies it (in-process here)
    with sessions() as session:
        leader, _ = auth.create_user(session, name="李市长", role=Role.leader, unit_code=None)
        session.commit()
        users.actors["leader"] = auth.actor_for(leader)
    _sign_in(http, sessions, users, "leader", "li")
    page = http.get("/leader")
    assert page.status_code == 200 and "关于重要事项的建议" in page.text and "事前沟通中" in page.text
    assert "关于一般事项的建议" not in page.text
    _sign_in(http, sessions, users, "transport", "zhao")  # a department: not its page
    assert http.get("/leader").status_code == 403


@pytest.fixture
def driver(sessions: sessionmaker[Session], users: Any) -> Any:
    from engine import EngineDriver

    return EngineDriver(sessions, users)
