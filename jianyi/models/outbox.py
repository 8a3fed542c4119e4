from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, JSONType, utcnow
from jianyi.models.enums import OutboxChannel, OutboxState


class OutboxMessage(Base):
    """A message (an e-mail, or an SMS: `to_addr` is then a phone number), written in the same
    transaction as the change that causes it."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The cause, e.g. "ack:42" or "outcome:42:p7": the same cause never queues a second message.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[OutboxChannel] = mapped_column(
        Enum(OutboxChannel, native_enum=False, length=8), default=OutboxChannel.email
    )
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Files sent with the mail, [{"path", "filename", "content_type"}] (a report's PDF); read at sending.
    attachments: Mapped[list[dict[str, str]] | None] = mapped_column(JSONType)
    state: Mapped[OutboxState] = mapped_column(
        Enum(OutboxState, native_enum=False, length=16), default=OutboxState.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
