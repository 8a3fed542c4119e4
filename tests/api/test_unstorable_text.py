"""Text no database can store (a lone surrogate, a NUL) is a 422 on every route, never a 500; control
characters in officials' free text are named by their field."""

from __future__ import annotations

from typing import Any

import pytest
from api_probes import headers, stored_step, triage_step
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from jianyi.api.body_limit import unstorable_text

# Written as JSON escapes, as a client sends them: json= would refuse to encode a lone surrogate.
LONE_SURROGATE = b'"\\ud800"'
NUL = b'"a\\u0000b"'


@pytest.mark.parametrize("text", [LONE_SURROGATE, NUL])
def test_unstorable_text_in_a_step_input_is_a_422(
    http: TestClient,
    driver: EngineDriver,
    sessions: sessionmaker[Session],
    users: Any,
    text: bytes,
) -> None:
    _suggestion_id, step_id = triage_step(driver)
    before = stored_step(sessions, step_id)
    body = b'{"kind": "suggestion", "lead_unit": "city-transport", "note": ' + text + b"}"
    response = http.post(
        f"/api/steps/{step_id}/complete",
        content=body,
        headers={**headers(users, "office"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["detail"]] == ["(body)"]
    assert stored_step(sessions, step_id) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/suggestions",
            b'{"title": "t", "content": "c", "channel": "web", "region": ' + LONE_SURROGATE + b"}",
        ),
        (
            "/api/suggestions/1/communications",
            b'{"kind": "in_progress", "method": "phone", "summary": ' + NUL + b"}",
        ),
        ("/api/steps/1/pause", b'{"reason": ' + LONE_SURROGATE + b"}"),
        ("/api/steps/1/complete", b'{"' + b"\\udfff" + b'": 1}'),  # in a key too
    ],
)
def test_every_json_route_refuses_it_before_reading(
    http: TestClient, users: Any, path: str, body: bytes
) -> None:
    response = http.post(
        path, content=body, headers={**headers(users, "office"), "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == "(body)"


def test_a_control_character_in_a_note_is_named(http: TestClient, driver: EngineDriver, users: Any) -> None:
    _suggestion_id, step_id = triage_step(driver)
    payload = {"kind": "suggestion", "lead_unit": "city-transport", "note": "红色\x1b[31m"}
    response = http.post(f"/api/steps/{step_id}/complete", json=payload, headers=headers(users, "office"))
    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": "note", "message": "contains a control character U+001B"}]
    multiline = {**payload, "note": "第一行\n第二行\t完"}
    assert (
        http.post(
            f"/api/steps/{step_id}/complete", json=multiline, headers=headers(users, "office")
        ).status_code
        == 200
    )


def test_what_the_guard_finds() -> None:
    assert unstorable_text(b'{"a": ["ok", {"b": "\\ud83d\\ude00"}]}') is None  # a pair is an emoji
    assert unstorable_text(b'{"a": [{"b": "\\ud83d"}]}') == "contains a lone surrogate U+D83D"
    assert unstorable_text(b'["\\u0000"]') == "contains U+0000 (NUL)"
    assert unstorable_text(b"[" * 100_000 + b"]" * 100_000) is None  # left to the route: not JSON it can read
    assert unstorable_text(b"not json") is None
