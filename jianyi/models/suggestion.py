from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import Channel, Decision, Level, Outcome, Stage, SuggestionKind


def _enum(cls: type) -> Enum:
    return Enum(cls, native_enum=False, length=32)


# What the figures count the suggestions received by (services/figures/case_figures.py).
RECEIVED_KEYS = ("stage", "channel", "category", "campaign", "outcome", "office_unit_id", "region_unit_id")


class Suggestion(Base):
    """One citizen suggestion: the case whose state is the source of truth for its flow run."""

    __tablename__ = "suggestions"
    # A channel that re-sends the same item must not create it twice.
    __table_args__ = (
        UniqueConstraint("channel", "channel_ref", name="uq_suggestions_channel_ref"),
        # The supervision board counts open suggestions by stage and office from this index alone.
        Index("ix_suggestions_stage_office", "stage", "office_unit_id"),
        # The figures: the suggestions received in a period, counted by every key of the received
        # tables from the index alone; and the few marked for the bulletin.
        Index("ix_suggestions_received", "received_at", *RECEIVED_KEYS),
        Index("ix_suggestions_level", "level"),  # the important ones (adoption rate)
        Index("ix_suggestions_referral", "first_referred_at", "first_replied_at", "lead_unit_id"),
        Index(
            "ix_suggestions_bulletin",
            "bulletin_marked_at",
            sqlite_where=text("bulletin_marked_at IS NOT NULL"),
            postgresql_where=text("bulletin_marked_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(32), unique=True)
    check_code: Mapped[str] = mapped_column(String(12))  # read to proposers on the phone, put in their links
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    channel_ref: Mapped[str | None] = mapped_column(String(128))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("proposers.id"), index=True)
    region_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    intake_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    intake_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The office (city or district) that triages, supervises and replies: 1 city + 16 district offices.
    office_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    campaign: Mapped[str | None] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Triage (梳理研判)
    kind: Mapped[SuggestionKind | None] = mapped_column(_enum(SuggestionKind))
    category: Mapped[str | None] = mapped_column(String(64), index=True)
    level: Mapped[Level | None] = mapped_column(_enum(Level))
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), index=True)
    triage_note: Mapped[str | None] = mapped_column(Text)

    # Progress of the case
    stage: Mapped[Stage] = mapped_column(_enum(Stage), default=Stage.triage, index=True)
    decision: Mapped[Decision | None] = mapped_column(_enum(Decision))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome), index=True)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column()
    rework_count: Mapped[int] = mapped_column(default=0)  # opinions returned by the review
    rehandle_count: Mapped[int] = mapped_column(default=0)  # re-handlings after "not satisfied"
    instructed: Mapped[bool] = mapped_column(default=False)  # a leader wrote an instruction (批示)
    rating: Mapped[str | None] = mapped_column(
        String(32)
    )  # satisfied, basically_satisfied, not_satisfied, none
    rating_comment: Mapped[str | None] = mapped_column(Text)
    # The first referral to a unit, and the first reply to the proposer (when it was submitted): what
    # "solved within N working days of referral" measures (kept by lifecycle.case.assign, stages.reply).
    first_referred_at: Mapped[datetime | None] = mapped_column()
    first_replied_at: Mapped[datetime | None] = mapped_column()

    # Supervision: handed up to the office above, marked for the bulletin (月通报).
    escalated_to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    escalated_at: Mapped[datetime | None] = mapped_column()
    bulletin_period: Mapped[str | None] = mapped_column(String(16))
    bulletin_marked_at: Mapped[datetime | None] = mapped_column()

    # Orchestration: the flow run and the wait point it is suspended at.
    flow_run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    wait_seq: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
