from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import CommunicationKind, ContactMethod


class Communication(Base):
    """Every contact with the proposer: e-mails sent through the outbox and calls or meetings logged by hand."""

    __tablename__ = "communications"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("proposers.id"))
    kind: Mapped[CommunicationKind] = mapped_column(Enum(CommunicationKind, native_enum=False, length=32))
    method: Mapped[ContactMethod] = mapped_column(Enum(ContactMethod, native_enum=False, length=16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[str] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
