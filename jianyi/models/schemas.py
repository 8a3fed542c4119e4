"""Pydantic schemas of what comes in (intake) and what goes out (views) through the API and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jianyi.models.enums import (
    Channel,
    CommunicationKind,
    CommunicationState,
    ContactMethod,
    Decision,
    Level,
    Outcome,
    ProposerKind,
    Role,
    Stage,
    StepKind,
    StepState,
    SuggestionKind,
)

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ProposerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ProposerKind = ProposerKind.person
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9+\-() ]{5,40}$")
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    anonymous: bool = False
    confidential: bool = False

    @model_validator(mode="after")
    def _identified_unless_anonymous(self) -> ProposerIn:
        if not self.anonymous and not self.name:
            raise ValueError("name: give the proposer's name, or mark the suggestion anonymous")
        return self


class SuggestionIn(BaseModel):
    """A suggestion as a channel hands it over (Art. 10: the problem, its grounds, the measures)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=2, max_length=300)
    content: str = Field(min_length=10, max_length=50_000)
    channel: Channel
    channel_ref: str | None = Field(
        default=None,
        max_length=128,
        description="the channel's own reference; the same one twice is one suggestion",
    )
    proposer: ProposerIn
    region: str | None = Field(default=None, description="code of the district or sub-district concerned")
    campaign: str | None = Field(default=None, max_length=64)


class StepView(BaseModel):
    id: int
    suggestion_id: int
    tracking_code: str
    title: str
    kind: StepKind
    label: str
    key: str
    iteration: int
    role: Role
    unit: str | None
    alt_unit: str | None
    state: StepState
    optional: bool
    due_at: datetime | None
    created_at: datetime
    submitted_at: datetime | None
    completed_by: str | None
    due_provisional: bool = False
    input: dict[str, Any] | None = None
    input_schema: dict[str, Any] | None = None
    proposal: dict[str, Any] | None = Field(
        default=None, description="what the rules propose for this step (triage: the routing table's units)"
    )


class TimelineEntry(BaseModel):
    at: datetime
    what: str
    detail: str | None = None


class PlannedCommunicationView(BaseModel):
    """A communication with the proposer that a rule called for, and what became of it."""

    id: int
    suggestion_id: int
    tracking_code: str
    rule: str
    kind: CommunicationKind
    kind_label: str
    channel: str
    manual: bool  # held by a person and logged by the office
    state: CommunicationState
    due_at: datetime | None
    overdue: bool
    reminded_at: datetime | None
    done_at: datetime | None
    delivery: str | None  # the outbox state of one the system sends: pending, sending, sent, failed
    note: str | None
    text: str | None = None  # a letter's text to print (only to the handling office, one at a time)


class CommunicationLogged(BaseModel):
    id: int
    suggestion_id: int
    kind: CommunicationKind
    method: ContactMethod
    at: datetime
    summary: str
    settled: list[int]  # the planned communications this log settled


class SuggestionView(BaseModel):
    """What officials see. Proposer details appear only for those who need them."""

    id: int
    tracking_code: str
    title: str
    content: str
    channel: Channel
    channel_ref: str | None
    received_at: datetime
    office: str
    region: str | None
    campaign: str | None
    kind: SuggestionKind | None
    category: str | None
    level: Level | None
    lead_unit: str | None
    co_units: list[str]
    stage: Stage
    stage_label: str
    decision: Decision | None
    outcome: Outcome | None
    outcome_label: str | None
    outcome_reason: str | None
    closed_at: datetime | None
    duplicate_of: str | None
    rating: str | None
    flow_run_id: str | None
    proposer: dict[str, Any] | None
    open_steps: list[StepView]
    communications: list[PlannedCommunicationView]
    timeline: list[TimelineEntry]


class IntakeResult(BaseModel):
    id: int
    tracking_code: str
    check_code: str | None = Field(
        default=None, description="shown once, at creation; the proposer needs it to track the suggestion"
    )
    created: bool
    stage: Stage


class PublicTracking(BaseModel):
    """For the proposer and the public: no personal data, no internal notes."""

    tracking_code: str
    title: str
    received_at: datetime
    stage: Stage
    stage_label: str
    outcome: Outcome | None
    outcome_label: str | None
    rating_open: bool
    timeline: list[TimelineEntry]
