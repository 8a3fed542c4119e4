from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class Nomination(Base):
    """An item nominated to a year's commendation; it waits at its ``commendation_result`` step, which
    the cycle's publication completes. ``scores``: expert id → score."""

    __tablename__ = "nominations"
    __table_args__ = (UniqueConstraint("cycle_id", "suggestion_id", name="uq_nominations_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("commendation_cycles.id"), index=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    source: Mapped[str] = mapped_column(String(16))  # automatic
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rank: Mapped[int | None] = mapped_column()
    tier: Mapped[str | None] = mapped_column(String(32))  # None: not selected
    nominated_at: Mapped[datetime] = mapped_column(default=utcnow)
