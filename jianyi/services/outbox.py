"""The transactional outbox: a mail is queued in the same transaction as the change that causes it.

Nothing is sent here. If the transaction rolls back, the mail was never queued; if it commits,
the dispatcher (jianyi.executor.dispatcher) delivers it at least once, however often it crashes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.orm import Session

from jianyi.db import dialect_insert
from jianyi.models import OutboxMessage, Suggestion
from jianyi.models.base import table_of, utcnow
from jianyi.models.enums import OutboxChannel, OutboxState, Role
from jianyi.models.outbox_schemas import FailedMessageView
from jianyi.rules.messages import RenderedMail
from jianyi.services.actors import Actor

# A subject is built from a suggestion's title (up to the title's own limit) and more: cut to its
# column, or PostgreSQL refuses the row, and with it the whole transaction that queues it (a sweep).
_SUBJECT_CHARS: int = OutboxMessage.__table__.c.subject.type.length  # type: ignore[attr-defined]


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _by_key(session: Session, dedupe_key: str) -> int | None:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))


@lru_cache(maxsize=2)
def _insert_one(insert: Callable[[Any], Any]) -> Insert:
    # Built once per dialect: every intake queues its acknowledgement with it, and building the
    # statement costs more than executing it.
    table = table_of(OutboxMessage)
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.dedupe_key]).returning(table.c.id)


def queue_mail(
    session: Session,
    *,
    dedupe_key: str,
    suggestion_id: int | None,
    kind: str,
    to_addr: str,
    mail: RenderedMail,
    channel: OutboxChannel = OutboxChannel.email,
) -> int | None:
    """Queue one mail (or, with `channel` sms, one text message: `to_addr` is the phone number and
    `mail.text` the message); the same `dedupe_key` (the cause, e.g. "ack:42") queues it only once.

    Returns the id of the new message, or of the one already queued under that key; None when
    there is no address to send to (an anonymous proposer, or one who left only a phone number).
    Executes in the caller's transaction: the caller commits.
    """
    values = mail_row(
        dedupe_key=dedupe_key,
        suggestion_id=suggestion_id,
        kind=kind,
        to_addr=to_addr,
        mail=mail,
        channel=channel,
    )
    if not values["to_addr"]:
        return None
    # One statement: the unique index on dedupe_key decides, also against a concurrent transaction
    # (PostgreSQL) and a message queued earlier in this one.
    message_id = session.scalar(_insert_one(dialect_insert(session)), values)
    if message_id is None:  # already queued under this key: that one stands
        message_id = _by_key(session, dedupe_key)
        assert message_id is not None
    return message_id


def mail_row(
    *,
    dedupe_key: str,
    suggestion_id: int | None,
    kind: str,
    to_addr: str,
    mail: RenderedMail,
    channel: OutboxChannel = OutboxChannel.email,
) -> dict[str, object]:
    """The outbox row of one message, for ``queue_mails`` (or ``queue_mail``, which inserts one)."""
    now = utcnow()
    return {
        "dedupe_key": dedupe_key,
        "suggestion_id": suggestion_id,
        "kind": kind,
        "channel": channel,
        "to_addr": to_addr.strip(),
        "subject": _fit(mail.subject, _SUBJECT_CHARS),
        "body_text": mail.text,
        "body_html": mail.html,
        "state": OutboxState.pending,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def queue_mails(session: Session, rows: list[dict[str, object]]) -> None:
    """Queue many messages in one statement; a message whose key is queued already (earlier, or twice
    in ``rows``) is skipped. The supervision sweep queues its hundreds of notices this way: one
    round trip to PostgreSQL instead of one per notice."""
    if rows:
        statement = dialect_insert(session)(OutboxMessage).on_conflict_do_nothing(
            index_elements=[OutboxMessage.dedupe_key]
        )
        session.execute(statement, rows)


def failed(session: Session, *, actor: Actor, limit: int = 500) -> list[FailedMessageView]:
    """The messages the dispatcher gave up on, newest first: those about the suggestions the
    caller's office handles (every one, for an admin; none for anyone else). The office then reaches
    the proposer another way, or corrects the address."""
    query = select(OutboxMessage, Suggestion.tracking_code).outerjoin(
        Suggestion, Suggestion.id == OutboxMessage.suggestion_id
    )
    if actor.role is not Role.admin:
        if actor.role not in (Role.office, Role.supervisor) or actor.unit_id is None:
            return []
        query = query.where(Suggestion.office_unit_id == actor.unit_id)
    rows = session.execute(
        query.where(OutboxMessage.state == OutboxState.failed)
        .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    ).all()
    return [
        FailedMessageView(
            id=message.id,
            suggestion_id=message.suggestion_id,
            tracking_code=tracking_code,
            kind=message.kind,
            channel=message.channel,
            to_addr=message.to_addr,
            subject=message.subject,
            attempts=message.attempts,
            last_error=message.last_error,
            created_at=message.created_at,
            failed_at=message.next_attempt_at,  # the dispatcher sets it to the time it gave up
        )
        for message, tracking_code in rows
    ]
