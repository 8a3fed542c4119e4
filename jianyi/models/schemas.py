"""Pydantic schemas of what comes in (intake) and what goes out (views) through the API and the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from jianyi.models.contact import Line, Phone, Prose
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

# A loose check of an official's e-mail (jianyi users add); a proposer's is checked by email-validator.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
# Channels whose proposer may leave no contact: the office answers the letter, or the visitor in person.
_NO_CONTACT_CHANNELS = frozenset({Channel.letter, Channel.visit})


class ProposerIn(BaseModel):
    """Who made the suggestion and how to reach them: every outcome is told to a proposer who is not
    anonymous, by e-mail, SMS, a call or a letter (rules/defaults/communications.yaml)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: ProposerKind = ProposerKind.person
    name: Line | None = Field(default=None, max_length=200)
    phone: Phone | None = Field(
        default=None, max_length=40, description="a mainland mobile or landline number"
    )
    email: EmailStr | None = Field(default=None, max_length=254)
    address: Line | None = Field(
        default=None, max_length=300, description="postal address, for a letter (信函) to the proposer"
    )
    anonymous: bool = False
    confidential: bool = False

    @field_validator("name", "phone", "email", "address", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        # A form's empty field means "not given", not an invalid address.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _identified_unless_anonymous(self) -> ProposerIn:
        if not self.anonymous and not self.name:
            raise ValueError("name: give the proposer's name, or mark the suggestion anonymous")
        return self

    @property
    def reachable(self) -> bool:
        return bool(self.email or self.phone or self.address)


class SuggestionIn(BaseModel):
    """A suggestion as a channel hands it over (Art. 10: the problem, its grounds, the measures)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Line = Field(min_length=2, max_length=300)
    content: Prose = Field(min_length=10, max_length=50_000)
    channel: Channel
    channel_ref: Line | None = Field(
        default=None,
        max_length=128,
        description="the channel's own reference; the same one twice is one suggestion",
    )
    proposer: ProposerIn
    region: Line | None = Field(
        default=None, max_length=64, description="code of the district or sub-district concerned"
    )
    campaign: Line | None = Field(default=None, max_length=64)
    campaign_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="the campaign (主动征集) this answers: it must be open"
    )

    @model_validator(mode="after")
    def _proposer_reachable(self) -> SuggestionIn:
        # Every outcome is told to the proposer: a channel that cannot answer them needs a contact.
        proposer = self.proposer
        if not (proposer.anonymous or proposer.reachable or self.channel in _NO_CONTACT_CHANNELS):
            raise ValueError(
                "proposer: give an e-mail address, a phone number or a postal address, so the proposer "
                "can be told the outcome, or mark the suggestion anonymous"
            )
        return self


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
    instruction: dict[str, Any] | None = Field(
        default=None,
        description="a unit's step: the leader's instruction (批示) on the item, if any: leader, instructed_on, text",
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
