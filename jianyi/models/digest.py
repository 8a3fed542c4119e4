from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class Digest(Base):
    """One issue (第N期) of the digest of important suggestions (人民建议摘报), addressed to the city's
    leaders. Its items are frozen when it is compiled; re-rendering gives the same document."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)  # 第N期, counted from 1 across years
    compiled_at: Mapped[datetime] = mapped_column(default=utcnow)
    compiled_by: Mapped[str] = mapped_column(String(100))  # an official's name, or "schedule"
    html_path: Mapped[str | None] = mapped_column(String(500))
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    emailed_at: Mapped[datetime | None] = mapped_column()  # when its mails to the leaders were queued
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
