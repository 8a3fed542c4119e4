"""The transactional outbox: a mail is queued in the same transaction as the change that causes it.

Nothing is sent here. If the transaction rolls back, the mail was never queued; if it commits,
the dispatcher (jianyi.executor.dispatcher) delivers it at least once, however often it crashes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jianyi.models import OutboxMessage
from jianyi.models.enums import OutboxChannel, OutboxState
from jianyi.services.mail import RenderedMail


def _by_key(session: Session, dedupe_key: str) -> OutboxMessage | None:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).one_or_none()


def queue_mail(
    session: Session,
    *,
    dedupe_key: str,
    suggestion_id: int | None,
    kind: str,
    to_addr: str,
    mail: RenderedMail,
    channel: OutboxChannel = OutboxChannel.email,
) -> OutboxMessage | None:
    """Queue one mail (or, with `channel` sms, one text message: `to_addr` is the phone number and
    `mail.text` the message); the same `dedupe_key` (the cause, e.g. "ack:42") queues it only once.

    Returns the new message, or the one already queued under that key; None when there is no
    address to send to (an anonymous proposer, or one who left only a phone number).
    Flushes only: the caller commits.
    """
    to_addr = to_addr.strip()
    if not to_addr:
        return None
    # Autoflush makes this select see a message added earlier in the same, uncommitted transaction.
    existing = _by_key(session, dedupe_key)
    if existing is not None:
        return existing
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        suggestion_id=suggestion_id,
        kind=kind,
        channel=channel,
        to_addr=to_addr,
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
        state=OutboxState.pending,
        attempts=0,
    )
    # A concurrent transaction may insert the same key between our select and our insert
    # (PostgreSQL; SQLite writers are serialised). The savepoint keeps the caller's transaction
    # usable when the unique index says so, and the winner's message is returned instead.
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        winner = _by_key(session, dedupe_key)
        if winner is None:
            raise
        return winner
    return message
