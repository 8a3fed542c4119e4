"""The public tracking routes (issue 14, items 6 and 8): check codes are long, compared in constant
time, answered the same whatever is wrong with them, and guessing them is throttled; a title cannot
carry a script into the page; every answer carries the security headers."""

from __future__ import annotations

import copy
import re
from typing import Any

from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.api.throttle import CLIENT_FAILURES, CODE_FAILURES
from jianyi.models import Suggestion
from jianyi.services.check_codes import ALPHABET, LENGTH

SCRIPT = "<img src=x onerror=alert(document.cookie)>"


def _intake(http: TestClient, users: Any, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SUGGESTION)
    data.update(changes)
    created = http.post(
        "/api/suggestions", json=data, headers={"Authorization": f"Bearer {users.tokens['office']}"}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_new_check_codes_are_long_and_typed_as_read(http: TestClient, users: Any) -> None:
    created = _intake(http, users)
    check, code = created["check_code"], created["tracking_code"]
    assert len(check) == LENGTH and set(check) <= set(ALPHABET)
    spaced = "-".join(check[i : i + 4] for i in range(0, LENGTH, 4)).lower()
    for given in (check, spaced):
        assert http.get(f"/api/track/{code}", params={"check": given}).status_code == 200


def test_a_check_code_given_out_before_keeps_working(
    http: TestClient, users: Any, sessions: sessionmaker[Session]
) -> None:
    created = _intake(http, users)
    with sessions() as session:
        session.execute(update(Suggestion).where(Suggestion.id == created["id"]).values(check_code="042917"))
        session.commit()
    code = created["tracking_code"]
    assert http.get(f"/api/track/{code}", params={"check": "042917"}).status_code == 200
    assert http.get(f"/api/track/{code}", params={"check": "042918"}).status_code == 404


def test_every_failure_is_the_same_404(http: TestClient, users: Any) -> None:
    code = _intake(http, users)["tracking_code"]
    answers = [
        http.get(f"/api/track/{code}", params={"check": "WRONGWRONG12"}),  # wrong
        http.get(f"/api/track/{code}", params={"check": "查询码"}),  # non-ASCII: was a 500
        http.get(f"/api/track/{code}", params={"check": "1"}),  # too short: was a 422
        http.get(f"/api/track/{code}", params={"check": "9" * 500}),  # too long: was a 422
        http.get(f"/api/track/{code}"),  # missing: was a 422
        http.get("/api/track/JY0000UNKNOWN", params={"check": "查询码"}),  # unknown code
        http.get("/api/track/%00%E6%9F%A5", params={"check": "123456"}),  # not a code at all
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert len({a.text for a in answers}) == 1
    page = http.get("/track/JY0000UNKNOWN", params={"check": "查询码"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]


def test_guessing_a_check_code_is_throttled_per_code(http: TestClient, users: Any) -> None:
    created = _intake(http, users)
    code, check = created["tracking_code"], created["check_code"]
    statuses = [http.get(f"/api/track/{code}", params={"check": f"{n:06d}"}).status_code for n in range(40)]
    assert statuses[:CODE_FAILURES] == [404] * CODE_FAILURES
    assert set(statuses[CODE_FAILURES:]) == {429}
    throttled = http.get(f"/api/track/{code}", params={"check": check})
    assert throttled.status_code == 429  # even the right code, while the code is being guessed
    assert "too_many_requests" in throttled.text
    rating = http.post(f"/api/track/{code}/rating", params={"check": check}, json={"rating": "satisfied"})
    assert rating.status_code == 429


def test_guessing_across_codes_is_throttled_per_client(http: TestClient, users: Any) -> None:
    statuses = [
        http.get(f"/api/track/JY2612{n:06d}", params={"check": "000000"}).status_code for n in range(40)
    ]
    assert statuses[:CLIENT_FAILURES] == [404] * CLIENT_FAILURES
    assert set(statuses[CLIENT_FAILURES:]) == {429}


def test_a_proposer_looking_often_is_never_throttled(http: TestClient, users: Any) -> None:
    created = _intake(http, users)
    for _ in range(3 * CLIENT_FAILURES):
        got = http.get(f"/api/track/{created['tracking_code']}", params={"check": created["check_code"]})
        assert got.status_code == 200


def test_a_title_cannot_carry_a_script_into_the_tracking_page(http: TestClient, users: Any) -> None:
    created = _intake(http, users, title=f"关于公交的建议{SCRIPT}")
    page = http.get(f"/track/{created['tracking_code']}", params={"check": created["check_code"]})
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert "&lt;img src=x onerror=alert(document.cookie)&gt;" in page.text
    # The only scripts are jianyi's own files (htmx): none inline, and the CSP allows no other.
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/vendor/htmx.min.js" defer>']
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"


def test_every_answer_carries_the_security_headers(
    http: TestClient, users: Any, driver: EngineDriver
) -> None:
    answers = [
        http.get("/api/health"),
        http.get("/api/units"),  # 401
        http.get("/api/units", headers={"Authorization": f"Bearer {users.tokens['office']}"}),
        http.get("/api/nothing-here"),
        http.get("/api/track/JY0000UNKNOWN", params={"check": "x"}),
        http.get("/docs"),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    # The OpenAPI page starts Swagger UI with an inline script: allowed there only.
    assert "script-src" in answers[-1].headers["content-security-policy"]
    assert (
        re.search(r"script-src [^;]*'unsafe-inline'", answers[2].headers["content-security-policy"]) is None
    )
