from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import AssignmentRole, AssignmentState


class Assignment(Base):
    """A referral (转办) of a suggestion to a unit, as lead or co-handling unit. Names a unit, not a person."""

    __tablename__ = "assignments"
    # The figures: referrals made, and re-routings (withdrawn), in a period.
    __table_args__ = (
        Index("ix_assignments_created_at", "created_at", "suggestion_id", "unit_id"),  # covering: the figures
        Index("ix_assignments_state_closed", "state", "closed_at"),
        # A suggestion's referrals by time: whether it was referred before a period (first referrals).
        Index("ix_assignments_suggestion_created", "suggestion_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[AssignmentRole] = mapped_column(Enum(AssignmentRole, native_enum=False, length=16))
    state: Mapped[AssignmentState] = mapped_column(
        Enum(AssignmentState, native_enum=False, length=16), default=AssignmentState.active
    )
    due_at: Mapped[datetime | None] = mapped_column()
    extension_days: Mapped[int] = mapped_column(default=0)  # approved extension, in working days
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
