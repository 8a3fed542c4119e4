"""Every text and list a client sends has a length limit, and what a refusal or a step stores stays
small: a 10-million-character `reasons` was once stored in steps, the audit log and opinions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_probes import actions, headers, stored_step, triage_step
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import triage

from jianyi.models import AuditEntry
from jianyi.models.step_inputs import NOTE, TEXT
from jianyi.services import audit

# Strings the schema bounds otherwise: a choice, or a date or time.
_BOUNDED_FORMATS = {"date", "date-time", "time", "duration"}
# Query parameters left open on purpose (the request line bounds them): the public tracking routes
# answer a check code of any form with the same 404 as a wrong one, so its form reveals nothing.
_OPEN_QUERY = {("/api/track/{tracking_code}", "check"), ("/api/track/{tracking_code}/rating", "check")}


def _unbounded(schema: Any, components: dict[str, Any], where: str, seen: set[str]) -> list[str]:
    """Where in ``schema`` a string has no maxLength or an array no maxItems."""
    if not isinstance(schema, dict):
        return []
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _unbounded(components[name], components, name, seen)
    found: list[str] = []
    kind = schema.get("type")
    bounded = "enum" in schema or "const" in schema or schema.get("format") in _BOUNDED_FORMATS
    if kind == "string" and not bounded and "maxLength" not in schema:
        found.append(where)
    if kind == "array" and "maxItems" not in schema:
        found.append(where)
    if (
        kind == "object"
        and schema.get("additionalProperties") not in (None, False)
        and "maxProperties" not in schema
    ):
        found.append(f"{where} (any property)")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for n, sub in enumerate(schema.get(key, [])):
            found += _unbounded(sub, components, f"{where}[{n}]", seen)
    if "items" in schema:
        found += _unbounded(schema["items"], components, f"{where}[]", seen)
    for name, sub in schema.get("properties", {}).items():
        found += _unbounded(sub, components, f"{where}.{name}", seen)
    return found


def test_every_text_and_list_a_client_sends_has_a_limit(http: TestClient) -> None:
    """Request bodies (every step input through the complete endpoint's oneOf) and query parameters.
    Path parameters are bounded by the server's request line."""
    document = http.get("/openapi.json").json()
    components = document["components"]["schemas"]
    found: list[str] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            for param in operation.get("parameters", []):
                if param["in"] == "query" and (path, param["name"]) not in _OPEN_QUERY:
                    found += _unbounded(param["schema"], components, f"{where} ?{param['name']}", set())
            body = operation.get("requestBody", {}).get("content", {})
            for content in body.values():
                found += _unbounded(content["schema"], components, f"{where} body", set())
    assert found == [], found


def test_a_text_over_its_limit_is_a_422_and_stores_nothing(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    suggestion_id, step_id = triage_step(driver)
    before = stored_step(sessions, step_id)
    url = f"/api/steps/{step_id}/complete"
    office = headers(users, "office")

    response = http.post(url, json=triage(note="注" * (NOTE + 1)), headers=office)

    assert response.status_code == 422 and [d["field"] for d in response.json()["detail"]] == ["note"]
    assert stored_step(sessions, step_id) == before
    assert actions(sessions, step_id=step_id)[-1] == ("step.refused", "InvalidInput")
    with sessions() as session:
        refused = session.scalars(select(AuditEntry).where(AuditEntry.step_id == step_id)).all()[-1]
        assert len(json.dumps(refused.detail)) < 4 * NOTE

    taken = http.post(url, json=triage(note="注" * NOTE), headers=office)
    assert taken.status_code == 200, taken.text
    assert stored_step(sessions, step_id)["input"]["note"] == "注" * NOTE
    del suggestion_id


def test_ten_million_characters_never_reach_the_database(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    _suggestion_id, step_id = triage_step(driver)
    before = stored_step(sessions, step_id)
    response = http.post(
        f"/api/steps/{step_id}/pause", json={"reason": "x" * 10_000_000}, headers=headers(users, "office")
    )
    assert response.status_code == 413
    assert stored_step(sessions, step_id) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("pause", {"reason": "x" * (NOTE + 1)}),
        ("resume", {"note": "x" * (NOTE + 1)}),
    ],
)
def test_the_clock_notes_are_bounded(
    http: TestClient, driver: EngineDriver, users: Any, path: str, body: dict[str, str]
) -> None:
    _suggestion_id, step_id = triage_step(driver)
    response = http.post(f"/api/steps/{step_id}/{path}", json=body, headers=headers(users, "office"))
    assert response.status_code == 422 and [d["field"] for d in response.json()["detail"]] == list(body)


def test_the_audit_keeps_bounded_copies() -> None:
    detail = {
        "input": {"reasons": "x" * (TEXT * 50), "units": list(range(10_000))},
        "deep": [[[[[[[[[["bottom"]]]]]]]]]],
    }
    kept = audit.bounded(detail)
    assert len(kept["input"]["reasons"]) < TEXT + 40 and kept["input"]["reasons"].startswith("x" * TEXT)
    assert len(kept["input"]["units"]) == audit.MAX_ITEMS
    assert len(json.dumps(kept, ensure_ascii=False)) < 2 * TEXT
    small = {"kind": "triage", "input": {"note": "短", "co_units": ["a", "b"]}}
    assert audit.bounded(small) == small
