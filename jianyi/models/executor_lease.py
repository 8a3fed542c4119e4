from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


class ExecutorLease(Base):
    """A live executor's heartbeat; flow runs claimed by one that fell silent are recovered by another."""

    __tablename__ = "executor_leases"

    executor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunClaim(Base):
    """Which executor is running which flow run right now (deleted when the attempt ends)."""

    __tablename__ = "run_claims"

    flow_run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    executor_id: Mapped[str] = mapped_column(String(64), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
