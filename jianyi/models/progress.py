from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import ImplementationForm


class ImplementationProgress(Base):
    """One report of implementation (落实转化) by the lead unit; the last one says implemented."""

    __tablename__ = "implementation_progress"
    # Covering for the figures' latest report and first "implemented" of each suggestion.
    __table_args__ = (
        Index("ix_progress_suggestion_reported", "suggestion_id", "reported_at", "implemented"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), unique=True)
    percent: Mapped[int] = mapped_column()
    milestone: Mapped[str] = mapped_column(Text)
    form: Mapped[ImplementationForm] = mapped_column(Enum(ImplementationForm, native_enum=False, length=32))
    evidence: Mapped[str | None] = mapped_column(String(500))
    implemented: Mapped[bool] = mapped_column()
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
