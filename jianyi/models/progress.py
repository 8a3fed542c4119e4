from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import ImplementationForm


class ImplementationProgress(Base):
    """One report of implementation (落实转化) by the lead unit; the last one says implemented."""

    __tablename__ = "implementation_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), unique=True)
    percent: Mapped[int] = mapped_column()
    milestone: Mapped[str] = mapped_column(Text)
    form: Mapped[ImplementationForm] = mapped_column(Enum(ImplementationForm, native_enum=False, length=32))
    evidence: Mapped[str | None] = mapped_column(String(500))
    implemented: Mapped[bool] = mapped_column()
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
