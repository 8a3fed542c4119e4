from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, JSONType, utcnow


class Campaign(Base):
    """An active collection (主动征集) on a topic: public topic, explanation, channels and window
    (Art. 8); suggestions answer it by reference; at its close the office gives collective feedback
    (集中反馈, Art. 12), published without personal data and sent once to each participant."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # what suggestions and deadline profiles name
    topic: Mapped[str] = mapped_column(String(300))
    explanation: Mapped[str] = mapped_column(Text)
    host_units: Mapped[list[str]] = mapped_column(JSONType)  # unit codes
    channels: Mapped[list[str]] = mapped_column(JSONType)  # Channel values suggestions may come by
    opens_at: Mapped[datetime] = mapped_column()
    closes_at: Mapped[datetime] = mapped_column(index=True)
    deadline_profile: Mapped[str | None] = mapped_column(String(64))  # a rules profile listing this code
    # open → awaiting_feedback (the window closed) → feedback_given → published
    state: Mapped[str] = mapped_column(String(32), default="open", index=True)
    participation: Mapped[dict[str, Any] | None] = mapped_column()  # frozen at the close
    feedback: Mapped[dict[str, Any] | None] = mapped_column()  # the office's collective feedback
    closed_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
