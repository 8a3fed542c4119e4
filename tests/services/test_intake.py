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
