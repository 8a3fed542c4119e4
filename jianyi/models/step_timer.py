from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow


def fired_pattern(action: str) -> str:
    """LIKE pattern of a rung's record ({"actions": [{"type": …}]}) holding an action of this type:
    the JSON matched as text, written alike by SQLite and PostgreSQL ('"key": value')."""
    return f'%"type": "{action}"%'


def fired_with(action: str) -> str:
    """SQL: a fired rung that did ``action``. The figures' queries state the same condition with the
    pattern inline (not a parameter), so that both databases use the partial indexes below."""
    return f"state = 'fired' AND CAST(actions AS VARCHAR) LIKE '{fired_pattern(action)}'"


class TimerState(StrEnum):
    pending = "pending"  # will fire at fire_at if its step is still open
    fired = "fired"
    moot = "moot"  # its step was answered or cancelled first


class StepTimer(Base):
    """One rung of an escalation ladder for one step: when it fires, and whether it has.

    The ledger of the rules' scheduler. Rung instants are computed on the working-day calendar when
    the step opens, so the sweep is an indexed range query; (step, ladder, rung) is unique and a rung
    is claimed by a conditional update, so no scheduler, crash or restart fires one twice.
    """

    __tablename__ = "step_timers"
    __table_args__ = (
        UniqueConstraint("step_id", "ladder", "rung", name="uq_step_timers_step_ladder_rung"),
        Index(
            "ix_step_timers_due",
            "fire_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        # The figures: rungs fired in a period (escalations, bulletin marks); on PostgreSQL with what
        # they read (a JSON column can only be included, not keyed, so SQLite reads its table).
        Index(
            "ix_step_timers_fired",
            "fired_at",
            "step_id",
            sqlite_where=text("state = 'fired'"),
            postgresql_where=text("state = 'fired'"),
            postgresql_include=["actions"],
        ),
        # The few rungs fired that escalated or marked for the bulletin (figures' escalated and
        # bulletin), whatever the number of reminders around them.
        *(
            Index(
                f"ix_step_timers_fired_{action}",
                "fired_at",
                "step_id",
                sqlite_where=text(fired_with(action)),
                postgresql_where=text(fired_with(action)),
            )
            for action in ("escalate", "bulletin")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), index=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    ladder: Mapped[str] = mapped_column(String(64))
    rung: Mapped[int] = mapped_column()
    fire_at: Mapped[datetime] = mapped_column()
    provisional: Mapped[bool] = mapped_column(default=False)  # computed in a year not yet published
    state: Mapped[TimerState] = mapped_column(
        Enum(TimerState, native_enum=False, length=16), default=TimerState.pending
    )
    fired_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what it did when it fired
