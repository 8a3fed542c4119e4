"""One error body for every error the API answers, and no 500 from an odd id or cursor."""

from __future__ import annotations

from typing import Any

import pytest
from api_probes import headers, triage_step
from engine import EngineDriver
from fastapi.testclient import TestClient
from support import triage

from jianyi.api.body_limit import MAX_BODY_BYTES
from jianyi.services import views

HUGE = [2**31, 2**63, 2**64, 10**30]


def assert_error(response: Any, status: int, code: str, *fields: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    assert [d["field"] for d in body["detail"]] == list(fields)
    assert all(set(d) == {"field", "message"} for d in body["detail"])


@pytest.mark.parametrize("step_id", HUGE)
def test_a_step_id_out_of_range_is_a_422_naming_it(http: TestClient, users: Any, step_id: int) -> None:
    office = headers(users, "office")
    assert_error(http.get(f"/api/steps/{step_id}", headers=office), 422, "invalid_input", "step_id")
    for action in ("complete", "lapse", "resume"):
        response = http.post(f"/api/steps/{step_id}/{action}", json={}, headers=office)
        assert_error(response, 422, "invalid_input", "step_id")
    response = http.post(f"/api/steps/{step_id}/pause", json={"reason": "等待"}, headers=office)
    assert_error(response, 422, "invalid_input", "step_id")


@pytest.mark.parametrize("record_id", HUGE)
def test_other_ids_out_of_range_are_422s_naming_them(http: TestClient, users: Any, record_id: int) -> None:
    office = headers(users, "office")
    for path, name in (
        (f"/api/suggestions/{record_id}", "suggestion_id"),
        (f"/api/communications/{record_id}", "planned_id"),
        (f"/api/board/suggestions/{record_id}", "suggestion_id"),
    ):
        assert_error(http.get(path, headers=office), 422, "invalid_input", name)
    log = {"kind": "in_progress", "method": "phone", "summary": "电话沟通"}
    response = http.post(f"/api/suggestions/{record_id}/communications", json=log, headers=office)
    assert_error(response, 422, "invalid_input", "suggestion_id")


def test_ids_at_the_bounds(http: TestClient, users: Any) -> None:
    office = headers(users, "office")
    assert_error(http.get("/api/suggestions/0", headers=office), 422, "invalid_input", "suggestion_id")
    assert_error(http.get(f"/api/suggestions/{2**31 - 1}", headers=office), 404, "not_found")
    assert_error(http.post(f"/api/steps/{2**31 - 1}/lapse", headers=office), 404, "not_found")


@pytest.mark.parametrize(
    "after", ["99999999999999999999999.1", "1.99999999999", "1.2147483648", "-1.1", "1.2.3", "a.b", "١.١", ""]
)
def test_a_forged_cursor_is_a_422_naming_after(http: TestClient, users: Any, after: str) -> None:
    response = http.get("/api/board/overdue", params={"after": after}, headers=headers(users, "office"))
    assert_error(response, 422, "invalid_input", "after")


def test_a_cursor_of_the_board_is_taken(http: TestClient, users: Any) -> None:
    office = headers(users, "office")
    for after in ("0.0", f"99999999999999999.{2**31 - 1}"):
        response = http.get("/api/board/overdue", params={"after": after}, headers=office)
        assert response.status_code == 200, response.text


def test_routing_and_parsing_errors_have_the_same_shape(
    http: TestClient, driver: EngineDriver, users: Any
) -> None:
    _suggestion_id, step_id = triage_step(driver)
    office = headers(users, "office")
    url = f"/api/steps/{step_id}/complete"
    assert_error(http.get("/api/nothing-here", headers=office), 404, "not_found")
    wrong = http.delete(f"/api/steps/{step_id}", headers=office)
    assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"]
    json_type = {**office, "Content-Type": "application/json"}
    assert_error(http.post(url, content=b'{"kind": ', headers=json_type), 422, "invalid_input", "(body)")
    bad_utf8 = http.post(url, content=b'{"kind": "\xff\xfe"}', headers=json_type)
    assert_error(bad_utf8, 422, "invalid_input", "(body)")
    assert_error(http.post(url, json=triage()), 401, "not_authenticated")
    assert_error(http.post(url, json=triage(), headers=headers(users, "transport")), 403, "forbidden")
    assert_error(http.post(url, json=triage(level="urgent"), headers=office), 422, "invalid_input", "level")
    assert http.post(url, json=triage(), headers=office).status_code == 200
    assert_error(http.post(url, json=triage(), headers=office), 409, "conflict")


def test_a_body_over_the_cap_is_a_413(http: TestClient, driver: EngineDriver, users: Any) -> None:
    _suggestion_id, step_id = triage_step(driver)
    office = headers(users, "office")
    url = f"/api/steps/{step_id}/complete"
    huge = triage(note="建" * (MAX_BODY_BYTES // 3 + 1))
    assert_error(http.post(url, json=huge, headers=office), 413, "payload_too_large")

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield b'{"note": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    chunked = http.post(url, content=chunks(), headers={**office, "Content-Type": "application/json"})
    assert_error(chunked, 413, "payload_too_large")
    intake = http.post("/api/suggestions", content=b"{}", headers={**office, "Content-Length": "99999999"})
    assert_error(intake, 413, "payload_too_large")


def test_a_bug_is_a_500_in_the_same_shape_without_a_traceback(
    http: TestClient, driver: EngineDriver, users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    suggestion_id = driver.submit()

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "suggestion_view", broken)
    response = http.get(f"/api/suggestions/{suggestion_id}", headers=headers(users, "office"))
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text and "Traceback" not in response.text


def test_many_bad_fields_are_named_in_a_bounded_answer(
    http: TestClient, driver: EngineDriver, users: Any
) -> None:
    _suggestion_id, step_id = triage_step(driver)
    payload = {f"unknown_{'x' * 300}_{n}": n for n in range(2000)}
    response = http.post(f"/api/steps/{step_id}/complete", json=payload, headers=headers(users, "office"))
    assert response.status_code == 422
    body = response.json()
    assert len(body["detail"]) == 50 and len(response.content) < 64 * 1024
    assert all(len(d["field"]) <= 200 for d in body["detail"])


def test_the_document_gives_every_error_the_one_shape(http: TestClient) -> None:
    document = http.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and set(schemas["ErrorBody"]["properties"]) == {
        "code",
        "message",
        "detail",
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            errors = {s: r for s, r in responses.items() if s.startswith(("4", "5"))}
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            if operation.get("security"):
                assert {"401", "403"} <= set(errors), (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in errors, (method, path)
            if operation.get("requestBody"):
                assert {"400", "413"} <= set(errors), (method, path)


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00+05:00", "1999-12-31T23:59:59+08:00", "2999-01-01T00:00:00+08:00"]
)
def test_a_contact_logged_at_an_impossible_time_is_a_422_naming_it(
    http: TestClient, users: Any, driver: EngineDriver, at: str
) -> None:
    """A year-1 time with an offset once overflowed the conversion to UTC: a 500."""
    suggestion_id, _step_id = triage_step(driver)
    body = {"kind": "pre_report", "method": "phone", "summary": "电话沟通", "at": at}
    response = http.post(
        f"/api/suggestions/{suggestion_id}/communications", json=body, headers=headers(users, "office")
    )
    assert_error(response, 422, "invalid_input", "at")
