"""Intake decided by reading, then stored: what a receipt decided does not outlive a race."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.errors import NotAuthenticated
from jianyi.models import OutboxMessage, Proposer, Suggestion
from jianyi.models.schemas import IntakeResult, SuggestionIn
from jianyi.services import intake


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_two_receipts_of_one_channel_reference_store_one_suggestion(
    sessions: sessionmaker[Session], users: Any
) -> None:
    # Two API processes receive the same hotline reference at once: each reads that it is new,
    # before either has stored it. The second to store answers with the first, and leaves nothing.
    data = SuggestionIn.model_validate({**SUGGESTION, "channel_ref": "hotline-77"})
    office = users.actors["office"]
    with sessions() as reading:
        receipts = [intake.receive(reading, actor=office, data=data) for _ in range(2)]
    results = []
    for receipt in receipts:
        assert isinstance(receipt, intake.Receipt)
        with sessions() as session:
            results.append(intake.store(session, receipt))
            session.commit()
    first, second = results
    assert first.created and first.check_code is not None
    assert (second.created, second.id, second.check_code) == (False, first.id, None)
    with sessions() as session:
        assert _count(session, Suggestion, Suggestion.channel_ref == "hotline-77") == 1
        assert _count(session, Proposer) == 1  # the loser's proposer went with its savepoint
        assert _count(session, OutboxMessage, OutboxMessage.suggestion_id == first.id) == 1


def test_a_receipt_of_a_stored_reference_answers_with_the_stored_one(
    sessions: sessionmaker[Session], users: Any
) -> None:
    data = SuggestionIn.model_validate({**SUGGESTION, "channel_ref": "hotline-78"})
    office = users.actors["office"]
    with sessions() as session:
        stored = intake.submit(session, actor=office, data=data)
        session.commit()
    with sessions() as reading:
        again = intake.receive(reading, actor=office, data=data)
    assert again == stored.model_copy(update={"created": False, "check_code": None})


def test_accept_reads_first_and_writes_only_what_is_new(sessions: sessionmaker[Session], users: Any) -> None:
    # The entry point's scopes own the transactions: here, the write scope commits, the read one never.
    opened: list[str] = []

    @contextmanager
    def scope(kind: str) -> Iterator[Session]:
        opened.append(kind)
        with sessions() as session:
            yield session
            if kind == "write":
                session.commit()

    data = SuggestionIn.model_validate({**SUGGESTION, "channel_ref": "hotline-79"})

    def accept(token: str) -> IntakeResult:
        return intake.accept(read=lambda: scope("read"), write=lambda: scope("write"), token=token, data=data)

    with pytest.raises(NotAuthenticated):
        accept("no-such-token")
    assert opened == ["read"]
    first = accept(users.tokens["office"])
    again = accept(users.tokens["office"])
    assert opened == ["read", "read", "write", "read"]
    assert first.created and (again.created, again.id) == (False, first.id)
    with sessions() as session:
        assert _count(session, Suggestion, Suggestion.channel_ref == "hotline-79") == 1


# ---- what a careless or hostile client may send as the proposer (issue 14) -----------------------

BAD_PROPOSERS = [
    ({"email": "a\u0001b@example.com"}, "proposer.email"),  # the pattern once admitted control characters
    ({"email": "a@b"}, "proposer.email"),
    ({"phone": "12345"}, "proposer.phone"),  # the hotline's number, not the caller's
    ({"phone": "138\u00070013800"}, "proposer.phone"),
    ({"name": "张\u001b[2J三", "phone": "13800138000"}, "proposer.name"),  # a terminal escape
    ({"address": "黄浦区\u202e号1路", "phone": "13800138000"}, "proposer.address"),  # a bidi override
    ({}, "proposer"),  # named, by mailbox, and no way to tell them the outcome
]


@pytest.fixture
def http(cli_on: None) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from jianyi.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("contact", "field"), BAD_PROPOSERS, ids=[f for _, f in BAD_PROPOSERS])
def test_a_proposer_that_cannot_be_reached_as_given_is_a_422_naming_the_field(
    http: Any, sessions: sessionmaker[Session], users: Any, contact: dict[str, str], field: str
) -> None:
    payload = {**SUGGESTION, "proposer": {"name": "张三", **contact}}
    response = http.post(
        "/api/suggestions", json=payload, headers={"Authorization": f"Bearer {users.tokens['office']}"}
    )
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["detail"]] == [field]
    with sessions() as session:
        assert _count(session, Suggestion) == 0 and _count(session, Proposer) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "关于\u0007公交"),
        ("content", "问题：早高峰\u001b[2J间隔过长，建议加密。"),
        ("channel_ref", "ref\n2"),
    ],
)
def test_a_suggestions_text_with_a_control_character_is_a_422(
    http: Any, users: Any, field: str, value: str
) -> None:
    response = http.post(
        "/api/suggestions",
        json={**SUGGESTION, field: value},
        headers={"Authorization": f"Bearer {users.tokens['office']}"},
    )
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["detail"]] == [field]


def test_contacts_are_kept_in_the_form_they_are_used_and_a_letter_needs_none(
    http: Any, sessions: sessionmaker[Session], users: Any
) -> None:
    headers = {"Authorization": f"Bearer {users.tokens['office']}"}
    proposer = {"name": " 张三 ", "phone": "+86 138-0013-8000", "email": "Zhang@Example.COM", "address": ""}
    content = "问题：早高峰71路间隔过长。\n建议：\t高峰时段加密班次。"  # line breaks and tabs are prose
    typed = http.post(
        "/api/suggestions", json={**SUGGESTION, "content": content, "proposer": proposer}, headers=headers
    )
    letter = http.post(
        "/api/suggestions",
        json={**SUGGESTION, "channel": "letter", "proposer": {"name": "李四"}},
        headers=headers,
    )
    assert (typed.status_code, letter.status_code) == (201, 201), typed.text + letter.text
    with sessions() as session:
        stored = session.get_one(Suggestion, typed.json()["id"])
        person = session.get_one(Proposer, stored.proposer_id)
        assert (person.name, person.phone, person.email, person.address) == (
            "张三",
            "13800138000",  # the SMS gateway's form
            "Zhang@example.com",  # the domain lowercased by email-validator
            None,  # an empty form field is no address
        )
        assert stored.content == content
