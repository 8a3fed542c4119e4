from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class CalendarYear(Base):
    """A published year of the working-day calendar: every one of its days has a CalendarDay row.

    Days of a year not listed here are computed Monday–Friday and the deadlines are provisional.
    """

    __tablename__ = "calendar_years"

    # Not autoincrement: the year is the key, and PostgreSQL must not make it a SERIAL.
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
