from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class Expert(Base):
    """A reviewer of the pool the annual commendation's panel is drawn from; ``unit_id`` is where they
    work (an expert of an item's handling unit does not review it: a declared conflict)."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # Their account, when they score in their own name (the office records the scores otherwise).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
