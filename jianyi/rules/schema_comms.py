"""Communications with the proposer, and the routing table that proposes who handles an item."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, StrictBool, field_validator, model_validator

from jianyi.models.enums import CommunicationKind, Stage
from jianyi.rules.conditions import Condition
from jianyi.rules.schema_base import RuleId, RuleModel, Text, UnitCode, WorkingDays, refuse, unique


class CommunicationEvent(StrEnum):
    """Events of a suggestion's life that a communication can follow."""

    suggestion_received = "suggestion_received"  # intake: acknowledged the same day
    triaged = "triaged"
    referred = "referred"
    leader_instructed = "leader_instructed"  # 批示: the lead unit hears the proposer (事中沟通)
    opinion_accepted = "opinion_accepted"  # the review accepted the opinion: reply due
    reply_sent = "reply_sent"
    rating_received = "rating_received"
    rating_lapsed = "rating_lapsed"  # no rating within its window counts as none
    implemented = "implemented"  # the last progress report says implemented: 事后沟通
    commended = "commended"
    closed = "closed"


Medium = Literal["email", "phone", "meeting", "letter", "sms"]
# The system cannot hold a call or a meeting, nor post a letter: a person does and logs it (manual).
_PERSONAL: frozenset[str] = frozenset({"phone", "meeting", "letter"})


class Trigger(RuleModel):
    """An event, or entering a stage; exactly one."""

    event: CommunicationEvent | None = None
    stage: Stage | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if (self.event is None) == (self.stage is None):
            raise refuse(
                "trigger", "expected exactly one of event (e.g. reply_sent) or stage (e.g. referral)"
            )
        return self


class Timing(RuleModel):
    """`immediate`, or `{within_working_days: N}` (0: the same working day, subject to the cut-off)."""

    immediate: StrictBool = False
    within_working_days: WorkingDays | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value == "immediate":
            return {"immediate": True}
        if isinstance(value, str):
            raise refuse("timing", f"expected immediate or {{within_working_days: N}}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Timing:
        if self.immediate == (self.within_working_days is not None):
            raise refuse("timing", "expected immediate or {within_working_days: N}, not both and not neither")
        return self


class CommunicationRule(RuleModel):
    """What the proposer is told (or asked), when, how; `manual`: the office logs it by hand, and is
    reminded when it has not within the timing."""

    id: RuleId
    kind: CommunicationKind
    trigger: Trigger
    condition: Condition | None = None
    channel: Medium
    template: Text | None = None
    timing: Timing
    manual: StrictBool = False

    @model_validator(mode="after")
    def _consistent(self) -> CommunicationRule:
        if self.channel in _PERSONAL and not self.manual:
            raise refuse(
                "manual",
                f"a {self.channel} is held (or posted) by a person, not sent by the system: it must be manual: true",
                key="manual",
            )
        if not self.manual and self.template is None:
            raise refuse("template", "a communication the system sends needs a template", key="template")
        if self.manual and self.timing.within_working_days is None:
            raise refuse(
                "timing",
                "a manual communication needs {within_working_days: N}: the office is reminded when it is late",
                key="timing",
            )
        return self


class RouteMatch(RuleModel):
    """Every given field must hold: the category is equal, any keyword occurs in the text, the
    district is one of those listed, the item answers one of the campaigns listed (a campaign's own
    routing). An empty match matches everything (a catch-all, last row only)."""

    category: Text | None = None
    keywords: list[Text] = Field(default_factory=list)  # any of them
    districts: list[UnitCode] = Field(default_factory=list)  # district office codes, e.g. pudong-office
    campaigns: list[Text] = Field(default_factory=list)  # campaign codes (主动征集), e.g. 2027-transit

    @field_validator("keywords", "districts", "campaigns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value, "entry")
        return value

    @property
    def is_catch_all(self) -> bool:
        return self.category is None and not self.keywords and not self.districts and not self.campaigns

    def matches(
        self, *, category: str | None, text: str, district: str | None, campaign: str | None = None
    ) -> bool:
        if self.category is not None and (category or "").strip() != self.category:
            return False
        if self.campaigns and campaign not in self.campaigns:
            return False
        if self.districts and district not in self.districts:
            return False
        folded = text.casefold()
        return not self.keywords or any(keyword.casefold() in folded for keyword in self.keywords)


class RouteRule(RuleModel):
    """One row of the routing table: first match wins; proposes the lead and co-handling units."""

    id: RuleId
    match: RouteMatch = Field(default_factory=RouteMatch)
    lead: UnitCode
    co: list[UnitCode] = Field(default_factory=list)

    @field_validator("co")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value, "co unit")
        return value

    @model_validator(mode="after")
    def _lead_not_co(self) -> RouteRule:
        if self.lead in self.co:
            raise refuse(
                "co", f"{self.lead!r} is the lead unit: it cannot also be a co-handling unit", key="co"
            )
        return self
