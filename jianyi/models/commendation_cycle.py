from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, JSONType, utcnow


class CommendationCycle(Base):
    """One year's commendation (表彰奖励): nominating → reviewing (panel drawn) → approved → published."""

    __tablename__ = "commendation_cycles"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    rules: Mapped[dict[str, Any]] = mapped_column()  # the quota, tiers and panel size it was opened with
    state: Mapped[str] = mapped_column(String(16), default="nominating")
    seed: Mapped[str | None] = mapped_column(String(64))  # the panel's draw, reproducible from it
    panel: Mapped[list[int] | None] = mapped_column(JSONType)  # expert ids
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
