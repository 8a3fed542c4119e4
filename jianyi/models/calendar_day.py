from __future__ import annotations

from datetime import date

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base


class CalendarDay(Base):
    """One day of the working-day calendar: deadlines count working days on the Chinese calendar.

    Every day of a published year (see CalendarYear) has a row, weekends included, so a make-up
    working day on a Saturday (调休上班) and a holiday on a Wednesday read the same way.
    """

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    workday: Mapped[bool] = mapped_column()
    # 国庆节, 春节, 国庆节调休上班 ...; None for an ordinary weekday or weekend.
    name: Mapped[str | None] = mapped_column(String(60))
    # Where the day came from: "chinese_calendar" or "notice:<file name>".
    source: Mapped[str] = mapped_column(String(200))
