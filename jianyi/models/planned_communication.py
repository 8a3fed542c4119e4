from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import CommunicationKind, CommunicationState


class PlannedCommunication(Base):
    """One communication a rule of communications.yaml called for, and what became of it.

    (suggestion, rule, cause) is unique: an event replayed after a crash, or seen twice, plans
    nothing new. A manual one waits for the office to log it; the supervision sweep reminds the
    office once when it is overdue (`reminded_at` is that firing's ledger).
    """

    __tablename__ = "planned_communications"
    __table_args__ = (
        UniqueConstraint("suggestion_id", "rule_id", "cause", name="uq_planned_communication_cause"),
        # The overdue sweep reads awaiting rows by due time, never every row.
        Index("ix_planned_communications_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("proposers.id"))
    rule_id: Mapped[str] = mapped_column(String(80))
    cause: Mapped[str] = mapped_column(String(120))  # e.g. "event:reply_sent:step:42", "stage:referral:1"
    kind: Mapped[CommunicationKind] = mapped_column(Enum(CommunicationKind, native_enum=False, length=32))
    channel: Mapped[str] = mapped_column(String(16))  # email | sms | letter | phone | meeting
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[CommunicationState] = mapped_column(Enum(CommunicationState, native_enum=False, length=16))
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A letter's text, rendered for the office to print; the reason when skipped.
    body_text: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    communication_id: Mapped[int | None] = mapped_column(ForeignKey("communications.id"))
    done_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
