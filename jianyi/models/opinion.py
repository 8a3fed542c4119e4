from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import Decision


class Opinion(Base):
    """A unit's answer after research (调研论证): the lead unit's opinion or a co-handling unit's."""

    __tablename__ = "opinions"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), unique=True)
    is_lead: Mapped[bool] = mapped_column()
    decision: Mapped[Decision | None] = mapped_column(Enum(Decision, native_enum=False, length=32))
    reasons: Mapped[str] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)
    planned_completion: Mapped[date | None] = mapped_column()
    consultation: Mapped[str | None] = mapped_column(Text)  # how the proposer was consulted
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the figures: given in a period
