from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class AuditEntry(Base):
    """Append-only log of every change and every refused attempt (database triggers forbid UPDATE/DELETE)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(100))  # "user:3", "flow", "proposer", "executor"
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "step.submitted", "step.refused"
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
