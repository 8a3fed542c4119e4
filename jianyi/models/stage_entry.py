from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import Stage


class StageEntry(Base):
    """The stage history: when a suggestion entered and left each stage."""

    __tablename__ = "stage_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    stage: Mapped[Stage] = mapped_column(Enum(Stage, native_enum=False, length=32))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column()
