"""queue_mail: one message per cause, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.db import make_engine
from jianyi.models import Base, OutboxMessage
from jianyi.models.enums import OutboxState
from jianyi.rules.messages import RenderedMail
from jianyi.services.outbox import queue_mail

MAIL = RenderedMail(subject="已收到您的建议", text="文本", html="<p>文本</p>")


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    Base.metadata.create_all(engine)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def _queue(session: Session, key: str, to_addr: str = "li@example.org") -> OutboxMessage | None:
    message_id = queue_mail(
        session, dedupe_key=key, suggestion_id=None, kind="acknowledgement", to_addr=to_addr, mail=MAIL
    )
    return None if message_id is None else session.get(OutboxMessage, message_id)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def test_queues_a_pending_message_without_committing(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        message = _queue(session, "ack:1")
        assert message is not None and message.id is not None  # flushed
        assert (message.state, message.attempts, message.subject) == (
            OutboxState.pending,
            0,
            "已收到您的建议",
        )
        session.rollback()  # the caller owns the transaction: no commit, no mail
    with sessions() as session:
        assert _count(session) == 0


def test_the_same_key_queues_once_in_one_transaction_and_across(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        first = _queue(session, "ack:2")
        again = _queue(session, "ack:2")
        assert again is first
    with sessions() as session, session.begin():
        later = _queue(session, "ack:2", to_addr="other@example.org")
        assert later is not None and first is not None and later.id == first.id
        assert later.to_addr == "li@example.org"  # the first one stands
        assert _count(session) == 1


def test_no_address_queues_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        assert _queue(session, "ack:3", to_addr="  ") is None
        assert _count(session) == 0


def test_a_key_another_transaction_holds_returns_its_message_and_keeps_the_transaction(
    sessions: sessionmaker[Session],
) -> None:
    # The unique index decides in the insert itself (ON CONFLICT DO NOTHING): a key committed by
    # another transaction, or inserted by one that commits while ours waits on it (PostgreSQL),
    # queues nothing new, and our transaction goes on with the messages around it.
    with sessions() as session, session.begin():
        winner = _queue(session, "ack:4")
    with sessions() as session, session.begin():
        before = _queue(session, "ack:5")
        loser = _queue(session, "ack:4")
        after = _queue(session, "ack:6")
        assert loser is not None and winner is not None and loser.id == winner.id
        assert before is not None and after is not None
    with sessions() as session:
        keys = session.scalars(select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id)).all()
    assert keys == ["ack:4", "ack:5", "ack:6"]
