"""The administrator's pages in-process (TestClient), SQLite and PostgreSQL: officials added (errors in
Chinese beside their field), their tokens rotated and revoked (the API then refuses the old one), a
password set (they sign in with it), the rules checked as `jianyi rules check` does, the development
sinks' messages; every other role gets the 403 page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from test_pages import _sign_in, _token

from jianyi.api.app import create_app
from jianyi.models import AuditEntry, User
from jianyi.settings import get_settings

PAGES = ("/admin", "/admin/users", "/admin/tokens", "/admin/rules", "/admin/sinks")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JIANYI_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    return tmp_path / "home"


@pytest.fixture
def http(home: Path, cli_on: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def _api(http: TestClient, token: str) -> int:
    return http.get("/api/units", headers={"Authorization": f"Bearer {token}"}).status_code


def test_only_an_administrator_opens_the_admin_pages(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    _sign_in(http, sessions, users, "office", "wang")
    for path in PAGES:
        page = http.get(path)
        assert page.status_code == 403 and "无权访问" in page.text, path
    _sign_in(http, sessions, users, "admin", "root-admin")
    for path in PAGES:
        assert http.get(path).status_code == 200, path
    assert "city-transport" in http.get("/admin").text  # the unit network


def test_an_administrator_adds_an_official_and_manages_their_token(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    _sign_in(http, sessions, users, "admin", "root-admin")
    token = _token(http.get("/admin/users").text)
    assert http.post("/admin/users", data={"name": "新经办", "role": "department"}).status_code == 403
    wrong = http.post("/admin/users", data={"csrftoken": token, "name": "", "role": "office", "email": "x@"})
    assert wrong.status_code == 422
    assert re.search(r'id="e-f-name">请填写此项<', wrong.text)
    assert re.search(r'id="e-f-email">请填写有效的电子邮箱地址', wrong.text)
    no_unit = http.post("/admin/users", data={"csrftoken": token, "name": "新经办", "role": "office"})
    assert no_unit.status_code == 422 and re.search(r'id="e-f-unit">此角色须属于一个单位<', no_unit.text)
    not_office = {"csrftoken": token, "name": "新经办", "role": "office", "unit": "city-transport"}
    refused = http.post("/admin/users", data=not_office)
    assert refused.status_code == 422 and "办公室经办和督办须属于建议征集办公室" in refused.text
    with sessions() as session:
        assert session.query(User).filter_by(name="新经办").count() == 0

    added = http.post(
        "/admin/users",
        data={
            "csrftoken": token,
            "name": "新经办<b>",
            "role": "department",
            "unit": "city-edu",
            "head": "true",
        },
    )
    assert added.status_code == 200 and added.headers["cache-control"] == "no-store"
    assert "新经办&lt;b&gt;" in added.text
    found = re.search(r'id="token">([^<]+)<', added.text)
    assert found and _api(http, found.group(1)) == 200
    with sessions() as session:
        user = session.query(User).filter_by(name="新经办<b>").one()
        assert user.head and user.unit_id is not None
        assert session.query(AuditEntry).filter_by(action="user.created").count() == 1

    tokens = http.get("/admin/tokens")
    assert f'id="token-{user.id}"' in tokens.text and "有效" in tokens.text
    rotated = http.post(f"/admin/users/{user.id}/rotate", data={"csrftoken": token})
    fresh = re.search(r'id="token">([^<]+)<', rotated.text)
    assert rotated.status_code == 200 and fresh and "原令牌已失效" in rotated.text
    assert _api(http, found.group(1)) == 401 and _api(http, fresh.group(1)) == 200
    revoked = http.post(
        f"/admin/users/{user.id}/deactivate",
        data={"csrftoken": token, "back": "tokens"},
        follow_redirects=False,
    )
    assert revoked.status_code == 303 and revoked.headers["location"] == f"/admin/tokens?changed={user.id}"
    assert _api(http, fresh.group(1)) == 401
    assert re.search(rf'id="token-{user.id}">.*?已吊销', http.get("/admin/tokens").text, re.S)
    me = users.actors["admin"].user_id
    assert http.post(f"/admin/users/{me}/deactivate", data={"csrftoken": token}).status_code == 403


def test_an_administrator_sets_a_password_they_sign_in_with(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    _sign_in(http, sessions, users, "office", "wang")  # "wang" is taken
    _sign_in(http, sessions, users, "admin", "root-admin")
    user_id = users.actors["edu"].user_id
    token = _token(http.get(f"/admin/users/{user_id}/password").text)
    short = http.post(
        f"/admin/users/{user_id}/password", data={"csrftoken": token, "login": "qian", "password": "short"}
    )
    assert short.status_code == 422 and re.search(r'id="e-password">至少 10 个字<', short.text)
    taken = {"csrftoken": token, "login": "wang", "password": "a long enough password"}
    answer = http.post(f"/admin/users/{user_id}/password", data=taken)
    assert answer.status_code == 422 and re.search(r'id="e-login">此登录名已被他人使用<', answer.text)
    good = {"csrftoken": token, "login": "qian", "password": "a long enough password"}
    assert http.post(f"/admin/users/{user_id}/password", data=good, follow_redirects=False).status_code == 303
    http.cookies.clear()
    login = _token(http.get("/login").text)
    signed = http.post(
        "/login",
        data={"login": "qian", "password": "a long enough password", "csrftoken": login},
        follow_redirects=False,
    )
    assert signed.status_code == 303


def test_the_rules_page_shows_the_check(
    http: TestClient,
    sessions: sessionmaker[Session],
    users: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sign_in(http, sessions, users, "admin", "root-admin")
    page = http.get("/admin/rules")
    assert "检查通过" in page.text and "routing：" in page.text and "acknowledgement-letter" in page.text
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "deadlines.yaml").write_text("deadlines:\n  - id: x\n    nonsense: 1\n", encoding="utf-8")
    monkeypatch.setenv("JIANYI_RULES_DIR", str(broken))
    get_settings.cache_clear()
    page = http.get("/admin/rules")
    assert page.status_code == 200 and "检查未通过" in page.text and "deadlines.yaml" in page.text


def test_the_development_sinks_messages(
    http: TestClient, sessions: sessionmaker[Session], users: Any, home: Path
) -> None:
    _sign_in(http, sessions, users, "admin", "root-admin")
    assert 'id="not-dev"' in http.get("/admin/sinks").text  # no local sink: nothing shown
    (home / "mail").mkdir(parents=True)
    (home / "mail" / "20261206T010203.000000Z-000001.eml").write_bytes(
        "From: a@example.com\r\nTo: chen@example.com\r\nSubject: =?utf-8?b?5Y+X55CG5ZGK55+l?=\r\n"
        "Date: Sun, 06 Dec 2026 01:02:03 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "<script>alert(1)</script>您的建议已受理。\r\n".encode()
    )
    (home / "sms").mkdir()
    sms = {"id": "1", "to": "13900000000", "text": "跟踪编号 JY1", "idempotency_key": "k", "status": 200,
           "received_at": "2026-12-06T01:02:03+00:00"}  # fmt: skip
    (home / "sms" / "messages.jsonl").write_text(json.dumps(sms, ensure_ascii=False) + "\n", encoding="utf-8")
    page = http.get("/admin/sinks")
    assert "受理告知" in page.text and "&lt;script&gt;" in page.text and "您的建议已受理" in page.text
    assert "2026-12-06 09:02" in page.text and "跟踪编号 JY1" in page.text  # Shanghai time
