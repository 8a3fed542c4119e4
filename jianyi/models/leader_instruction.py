from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class LeaderInstruction(Base):
    """A city leader's written instruction (批示) on a digested important suggestion, or its absence."""

    __tablename__ = "leader_instructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), unique=True)
    leader: Mapped[str | None] = mapped_column(String(100))
    instructed_on: Mapped[date | None] = mapped_column()
    text: Mapped[str | None] = mapped_column(Text)
    has_instruction: Mapped[bool] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
