from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import Role, StepKind, StepState

_ANSWERED = "state IN ('submitted', 'completed')"  # services.owed.ANSWERED
_RUNNING = "state = 'open' AND paused_at IS NULL"  # open steps whose deadline clock runs


# What the on-time figures read of a step beside its kind and the instant they range over; the
# answer and the id for the figures counted by answer (reviews, ratings).
_FIGURES_READ = ("due_at", "missed_due_at", "paused_at", "unit_id", "suggestion_id", "optional")
_ANSWERS_READ = ("answer", "id")

# The field of a step's input that decides it, kept as ``Step.answer`` when it is answered.
ANSWER_FIELDS: dict[StepKind, str] = {
    StepKind.review: "action",  # accept, return, joint_meeting
    StepKind.rating: "rating",  # satisfied, basically_satisfied, not_satisfied
    StepKind.dissatisfaction_review: "action",  # rehandle, close
}


def answer_of(kind: StepKind | None, input: dict[str, Any] | None) -> str | None:
    """The deciding value of an answer (None: a kind without one, or no answer: lapsed)."""
    field = ANSWER_FIELDS.get(kind) if kind is not None else None
    value = (input or {}).get(field) if field else None
    return None if value is None else str(value)[:32]


class Step(Base):
    """A human step: a typed input that one role of one unit owes, and the suggestion's flow waits for."""

    __tablename__ = "steps"
    __table_args__ = (
        UniqueConstraint("suggestion_id", "key", name="uq_steps_suggestion_key"),
        # The executor's waker polls for submitted steps: keep that lookup tiny however many steps exist.
        Index(
            "ix_steps_submitted",
            "suggestion_id",
            sqlite_where=text("state = 'submitted'"),
            postgresql_where=text("state = 'submitted'"),
        ),
        # What a unit owes (the workbench, GET /api/steps) by deadline, and what it answered latest
        # first: read in order from the index a page at a time, the second unit's from its own.
        Index("ix_steps_unit_state_due", "unit_id", "state", "due_at", "id"),
        Index(
            "ix_steps_alt_unit_state_due",
            "alt_unit_id",
            "state",
            "due_at",
            "id",
            sqlite_where=text("alt_unit_id IS NOT NULL"),
            postgresql_where=text("alt_unit_id IS NOT NULL"),
        ),
        Index(
            "ix_steps_unit_answered",
            "unit_id",
            "submitted_at",
            "id",
            sqlite_where=text(_ANSWERED),
            postgresql_where=text(_ANSWERED),
        ),
        Index(
            "ix_steps_alt_unit_answered",
            "alt_unit_id",
            "submitted_at",
            "id",
            sqlite_where=text(f"{_ANSWERED} AND alt_unit_id IS NOT NULL"),
            postgresql_where=text(f"{_ANSWERED} AND alt_unit_id IS NOT NULL"),
        ),
        Index("ix_steps_state_due", "state", "due_at"),
        # The supervision board (jianyi.services.board): open steps whose clock runs, in deadline
        # order (id breaks ties: the overdue list's keyset), with what its queries read, so that
        # they never touch the table. state and paused_at are constant here, yet listed: SQLite
        # (no statistics) takes the index for covering only so, and prefers it to ix_steps_state_due.
        Index(
            "ix_steps_running_due",
            "state",
            "due_at",
            "id",
            "unit_id",
            "suggestion_id",
            "paused_at",
            sqlite_where=text(_RUNNING),
            postgresql_where=text(_RUNNING),
        ),
        Index(
            "ix_steps_running_unit_due",
            "unit_id",
            "due_at",
            "id",
            sqlite_where=text(_RUNNING),
            postgresql_where=text(_RUNNING),
        ),
        # The figures (jianyi.services.figures): steps of a kind answered, due or opened in a period,
        # with every column the on-time figures read, so that a year's hundreds of thousands of
        # steps are counted from the index alone, never one table read each.
        Index("ix_steps_kind_submitted", "kind", "submitted_at", *_FIGURES_READ, *_ANSWERS_READ),
        Index("ix_steps_kind_state_due", "kind", "state", "due_at", *_FIGURES_READ[1:]),
        Index("ix_steps_kind_created", "kind", "created_at", "suggestion_id"),
        # A suggestion's steps (locks, its page); with kind and answer time, its first reply is
        # read from the index (the solved-within figures).
        Index("ix_steps_suggestion_kind", "suggestion_id", "kind", "submitted_at"),
        # Steps paused after their deadline: few, read by every on-time figure.
        Index(
            "ix_steps_missed_due",
            "missed_due_at",
            sqlite_where=text("missed_due_at IS NOT NULL"),
            postgresql_where=text("missed_due_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"))
    kind: Mapped[StepKind] = mapped_column(Enum(StepKind, native_enum=False, length=40))
    key: Mapped[str] = mapped_column(String(80))  # e.g. "opinion:u12:2": unique per suggestion, idempotency
    iteration: Mapped[int] = mapped_column(default=1)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # A second unit that may also complete it (the reply: "by the office or the lead unit").
    alt_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    optional: Mapped[bool] = mapped_column(default=False)  # may be left open; cancelled when moot
    state: Mapped[StepState] = mapped_column(
        Enum(StepState, native_enum=False, length=20), default=StepState.open
    )
    # The deadline, set from the rules when the step opens (null: the rules give this step none).
    due_at: Mapped[datetime | None] = mapped_column()
    due_working_days: Mapped[int | None] = mapped_column()
    due_rule: Mapped[str | None] = mapped_column(String(64))  # id of the deadline rule that set it
    # Computed Monday–Friday in a year whose holidays are not yet published; recomputed when they are.
    due_provisional: Mapped[bool] = mapped_column(default=False)
    # The clock stops while the unit waits for the proposer (awaiting_proposer) and runs again after.
    paused_at: Mapped[datetime | None] = mapped_column()
    paused_working_days: Mapped[int] = mapped_column(default=0)  # added to the goal on each resume
    # The deadline already passed when the clock was paused: the step stays late whatever the resume
    # does to due_at (the figures: a step paused after its deadline counts as late).
    missed_due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    applied_at: Mapped[datetime | None] = mapped_column()
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_by_label: Mapped[str | None] = mapped_column(String(100))
    input: Mapped[dict[str, Any] | None] = mapped_column()
    answer: Mapped[str | None] = mapped_column(String(32))  # answer_of(kind, input): what the figures count
