from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import Decision


class Opinion(Base):
    """A unit's answer after research (调研论证): the lead unit's opinion or a co-handling unit's."""

    __tablename__ = "opinions"
    # The figures: the lead opinions given in a period with what the adoption rate reads, and each
    # suggestion's later lead opinions (the latest decides), both counted from the index alone.
    __table_args__ = (
        Index(
            "ix_opinions_created", "created_at", "is_lead", "decision", "suggestion_id", "unit_id", "step_id"
        ),
        Index("ix_opinions_suggestion_lead", "suggestion_id", "is_lead", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), unique=True)
    is_lead: Mapped[bool] = mapped_column()
    decision: Mapped[Decision | None] = mapped_column(Enum(Decision, native_enum=False, length=32))
    reasons: Mapped[str] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)
    planned_completion: Mapped[date | None] = mapped_column()
    consultation: Mapped[str | None] = mapped_column(Text)  # how the proposer was consulted
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
