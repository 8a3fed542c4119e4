"""The office sees the messages to its proposers that could not be delivered, and why."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_probes import headers
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.models import OutboxMessage
from jianyi.models.enums import OutboxState
from jianyi.runtime.smtp_sink import SmtpSink


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(tmp_path / "mailbox")
    sink.start()
    yield sink
    sink.stop()


def test_an_undeliverable_acknowledgement_is_listed_for_the_handling_office(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any, sink: SmtpSink
) -> None:
    bad_id, good_id = driver.submit(), driver.submit()
    with sessions() as session, session.begin():
        # What intake once let through: a control character in the address.
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.suggestion_id == bad_id)
            .values(to_addr="a\u0001b@example.com")
        )
    office = headers(users, "office")
    assert http.get("/api/communications/failed", headers=office).json() == []

    dispatcher = OutboxDispatcher(sessionmaker=sessions, host="127.0.0.1", port=sink.port, timeout=5)
    assert asyncio.run(dispatcher.run_once()) >= 1  # the other suggestion's mail goes out

    with sessions() as session:
        states = dict(session.execute(select(OutboxMessage.suggestion_id, OutboxMessage.state)).all())
    assert (states[bad_id], states[good_id]) == (OutboxState.failed, OutboxState.sent)

    response = http.get("/api/communications/failed", headers=office)
    assert response.status_code == 200, response.text
    [failed] = response.json()
    assert failed["suggestion_id"] == bad_id and failed["kind"] == "acknowledgement"
    assert failed["to_addr"] == "a\u0001b@example.com" and failed["attempts"] == 1
    assert "prohibited control character" in failed["last_error"]
    assert failed["tracking_code"] and failed["failed_at"]
    # Another office, a department: not theirs to see.
    assert http.get("/api/communications/failed", headers=headers(users, "huangpu")).json() == []
    assert http.get("/api/communications/failed", headers=headers(users, "transport")).json() == []
    assert len(http.get("/api/communications/failed", headers=headers(users, "admin")).json()) == 1
    # The suggestion's own view says so too.
    view = http.get(f"/api/suggestions/{bad_id}", headers=office).json()
    assert "failed" in [c["delivery"] for c in view["communications"]]
