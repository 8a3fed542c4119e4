"""The typed input of every human step (LIFECYCLE.md). Each is what one role of one unit gives.

These models are the contract of a wait: the API validates a completion against them (422 naming
the field), ``GET /api/steps/{id}`` serves their JSON schema, and the flow run suspends with them.
``services/lifecycle/stages.SPECS`` names the model of each step kind.
Unknown fields are refused so that a misspelt field is named instead of silently dropped.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jianyi.models.enums import (
    ContactMethod,
    Decision,
    ImplementationForm,
    Level,
    SuggestionKind,
)

# Length limits of free text, in characters (docs/api.md): a name, title or short label; a note; a
# text (reasons, an opinion, measures, a reply, a summary); a unit's or a suggestion's code; and the
# units one list may name. Every string and list of every input has one, so what a step stores, and
# the audit copies, stays bounded.
NAME = 200
NOTE = 2000
TEXT = 20_000
CODE = 64
UNITS = 30

UnitCode = Annotated[str, Field(min_length=1, max_length=CODE)]


# Control characters no one types (an escape sequence, a NUL) would reach officials' screens, letters
# and e-mails, and NUL or a lone surrogate cannot be stored; line breaks and tabs are text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class TextInput(BaseModel):
    """An input of officials' free text: unknown fields refused, and no control characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        for text in value if isinstance(value, list) else [value]:
            found = _CONTROL.search(text) if isinstance(text, str) else None
            if found:
                raise ValueError(f"contains a control character U+{ord(found.group()):04X}")
        return value


class StepInput(TextInput):
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class TriageInput(StepInput):
    """梳理研判: the office handler classifies the item and names who handles it."""

    kind: SuggestionKind
    category: str | None = Field(default=None, max_length=64, description="e.g. 交通出行, 教育, 养老")
    level: Level = Level.general
    lead_unit: str | None = Field(
        default=None, max_length=CODE, description="code of the lead unit (主办单位)"
    )
    co_units: list[UnitCode] = Field(
        default_factory=list, max_length=UNITS, description="codes of the co-handling units (协办单位)"
    )
    duplicate_of: str | None = Field(
        default=None, max_length=CODE, description="tracking code of the original suggestion"
    )
    reason_code: str | None = Field(
        default=None, max_length=CODE, description="coded reason for out of scope, e.g. 'not_public_affairs'"
    )
    note: str | None = Field(default=None, max_length=NOTE)

    @model_validator(mode="after")
    def _fields_the_kind_needs(self) -> TriageInput:
        if self.kind is SuggestionKind.suggestion and not self.lead_unit:
            raise ValueError("lead_unit: a suggestion needs a lead unit")
        if self.kind is SuggestionKind.duplicate and not self.duplicate_of:
            raise ValueError("duplicate_of: a duplicate names its original")
        if self.kind is SuggestionKind.out_of_scope and not self.reason_code:
            raise ValueError("reason_code: out of scope needs a coded reason")
        if self.lead_unit and self.lead_unit in self.co_units:
            raise ValueError("co_units: the lead unit cannot also be a co-handling unit")
        return self


class PreReportCommunicationInput(StepInput):
    """事前沟通: refine an important item with the proposer before it goes into the digest."""

    held_at: datetime
    method: ContactMethod
    participants: str = Field(min_length=1, max_length=NOTE)
    refined: str = Field(
        min_length=1, max_length=TEXT, description="what was refined: 问题真、症结准、对策实"
    )
    # What the digest (人民建议摘报) prints of the item, as the office words it (no personal data).
    problem: str | None = Field(default=None, max_length=TEXT, description="the problem, for the digest")
    proposal: str | None = Field(default=None, max_length=TEXT, description="the proposal, for the digest")
    office_view: str | None = Field(
        default=None, max_length=TEXT, description="the office's view, for the digest"
    )


class LeaderInstructionInput(StepInput):
    """领导批示 on a digested item (人民建议摘报), by the leader or recorded by the office; "no instruction"
    (``has_instruction: false``) is an answer too."""

    has_instruction: bool
    leader: str | None = Field(default=None, max_length=NAME)
    instructed_on: date | None = None
    text: str | None = Field(default=None, max_length=TEXT)

    @model_validator(mode="after")
    def _instruction_needs_its_fields(self) -> LeaderInstructionInput:
        if self.has_instruction and not (self.leader and self.instructed_on and self.text):
            raise ValueError("leader, instructed_on, text: an instruction needs all three")
        return self


class ObjectionInput(StepInput):
    """A unit holds that the item is not its responsibility (within 5 WD, with reasons)."""

    reasons: str = Field(min_length=1, max_length=TEXT)
    suggested_unit: str | None = Field(
        default=None, max_length=CODE, description="code of the unit it thinks is responsible"
    )


class RerouteInput(StepInput):
    """The office decides on an objection: keep the routing, or re-route to other units."""

    accept_objection: bool
    lead_unit: str | None = Field(default=None, max_length=CODE)
    co_units: list[UnitCode] | None = Field(default=None, max_length=UNITS)
    note: str | None = Field(default=None, max_length=NOTE)

    @model_validator(mode="after")
    def _new_route(self) -> RerouteInput:
        if self.accept_objection and not self.lead_unit and self.co_units is None:
            raise ValueError("lead_unit: accepting an objection needs the new routing")
        return self


class ProposerHearingInput(StepInput):
    """事中沟通: after a leader's instruction the lead unit hears the proposer in person."""

    held_at: datetime
    method: ContactMethod
    summary: str = Field(min_length=1, max_length=TEXT)


class CoOpinionInput(StepInput):
    """A co-handling unit's opinion."""

    opinion: str = Field(min_length=1, max_length=TEXT)
    measures: str | None = Field(default=None, max_length=TEXT)


class OpinionInput(StepInput):
    """The lead unit's answer after research (调研论证)."""

    decision: Decision
    reasons: str = Field(min_length=1, max_length=TEXT)
    measures: str | None = Field(default=None, max_length=TEXT)
    planned_completion: date | None = None
    consultation: str = Field(min_length=1, max_length=NOTE, description="how the proposer was consulted")

    @model_validator(mode="after")
    def _adoption_has_a_plan(self) -> OpinionInput:
        if self.decision in (Decision.adopt, Decision.partly_adopt) and not (
            self.measures and self.planned_completion
        ):
            raise ValueError("measures, planned_completion: an adoption says what will be done and by when")
        return self


class ExtensionRequestInput(StepInput):
    working_days: int = Field(ge=1, le=60)
    reasons: str = Field(min_length=1, max_length=TEXT)


class ExtensionDecisionInput(StepInput):
    approved: bool
    working_days: int | None = Field(default=None, ge=1, le=60)
    note: str | None = Field(default=None, max_length=NOTE)


class JointMeeting(TextInput):
    held_on: date
    units: list[UnitCode] = Field(
        min_length=2, max_length=UNITS, description="codes of the units that took part"
    )
    conclusions: str = Field(min_length=1, max_length=TEXT)


class ReviewInput(StepInput):
    """协调督办: the office accepts the opinion, returns it for rework, or records a joint meeting."""

    action: Literal["accept", "return", "joint_meeting"]
    reasons: str | None = Field(default=None, max_length=TEXT)
    joint_meeting: JointMeeting | None = None

    @model_validator(mode="after")
    def _action_needs(self) -> ReviewInput:
        if self.action == "return" and not self.reasons:
            raise ValueError("reasons: returning an opinion needs reasons")
        if self.action == "joint_meeting" and self.joint_meeting is None:
            raise ValueError("joint_meeting: record the meeting and its conclusions")
        return self


class ReplyInput(StepInput):
    """沟通反馈: the reply to the proposer (e-mailed from a template, or a logged call, letter or SMS)."""

    method: ContactMethod
    text: str = Field(min_length=1, max_length=TEXT)
    replied_at: datetime | None = None


class RatingInput(StepInput):
    """The proposer's rating of the reply."""

    rating: Literal["satisfied", "basically_satisfied", "not_satisfied"]
    comment: str | None = Field(default=None, max_length=NOTE)


class DissatisfactionReviewInput(StepInput):
    action: Literal["rehandle", "close"]
    reasons: str = Field(min_length=1, max_length=TEXT)


class ProgressInput(StepInput):
    """落实转化: repeatable; the last one says implemented."""

    percent: int = Field(ge=0, le=100)
    milestone: str = Field(min_length=1, max_length=NOTE)
    form: ImplementationForm
    evidence: str | None = Field(default=None, max_length=500, description="document number or link")
    implemented: bool = False

    @model_validator(mode="after")
    def _implemented_is_complete(self) -> ProgressInput:
        if self.implemented and self.percent != 100:
            raise ValueError("percent: an implemented suggestion is at 100")
        return self


class PostAdoptionCommunicationInput(StepInput):
    """事后沟通: the proposer hears what came of the idea; the office logs it."""

    held_at: datetime
    method: ContactMethod
    summary: str = Field(min_length=1, max_length=TEXT)


class CommendationResultInput(StepInput):
    """The annual selection's result for this suggestion."""

    year: int = Field(ge=2000, le=2100)
    selected: bool
    tier: str | None = Field(default=None, max_length=32, description="e.g. 一等奖")


class SupervisionOrderInput(StepInput):
    """The unit's answer to a supervision order (督办单): why it is late and what it does now."""

    response: str = Field(min_length=1, max_length=TEXT)
    measures: str | None = Field(default=None, max_length=TEXT)
    expected_completion: date | None = None
