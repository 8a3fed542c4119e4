"""Time rules: the office calendar, step deadlines with their clocks, profiles, extensions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StrictBool, field_validator, model_validator

from jianyi.models.enums import Channel, Level, Role, StepKind
from jianyi.rules.capabilities import (
    EXTENDABLE_STEPS,
    EXTENSION_APPROVER,
    EXTENSIONS_PER_STEP,
    LAPSABLE_STEPS,
)
from jianyi.rules.conditions import Condition
from jianyi.rules.schema_base import (
    PositiveWorkingDays,
    RuleId,
    RuleModel,
    StepKinds,
    Text,
    WorkingDays,
    refuse,
    unique,
)

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class CalendarRules(RuleModel):
    """When the office's day ends: a step that arrives after the cut-off counts from the next working day."""

    time_zone: str = "Asia/Shanghai"
    cutoff: time = time(17, 0)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise refuse(
                "time_zone", f"expected an IANA time zone such as Asia/Shanghai, got {value!r}"
            ) from exc
        return value

    @field_validator("cutoff", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 17:30 as the number 1050 (base 60): refuse it rather than
        # let pydantic take it as 1050 seconds past midnight.
        if isinstance(value, time):
            return value
        if not isinstance(value, str) or not _HHMM.match(value):
            raise refuse("cutoff", f"expected a time in quotes such as '17:00', got {value!r}")
        return value


class ClockEvent(StrEnum):
    """What happens to a step that can start, pause, resume or stop its deadline clock."""

    step_opened = "step_opened"  # the step is created and owed
    # the unit asked the proposer for material and waits (等待补充材料)
    awaiting_proposer = "awaiting_proposer"
    proposer_responded = "proposer_responded"  # the proposer answered: the clock runs again
    step_submitted = "step_submitted"
    step_cancelled = "step_cancelled"
    suggestion_closed = "suggestion_closed"


# What the engine does with a clock (services/clocks.py): it starts when the step opens, pauses only
# for the proposer (`jianyi steps pause`), resumes when they answer, and stops on submit, cancel and
# close. A rule may leave the pause out; anything else it could say would be ignored, so it is refused.
_STOPS = (ClockEvent.step_submitted, ClockEvent.step_cancelled, ClockEvent.suggestion_closed)


class Clock(RuleModel):
    """An SLA clock: starts on one event, pauses and resumes on others, stops on any of `stop`.

    While paused the due date moves on by the paused working days, so waiting for the proposer is
    not counted against the unit. A unit may pause a step at most `max_pauses` times, and only
    before its deadline.
    """

    start: ClockEvent = ClockEvent.step_opened
    pause: list[ClockEvent] = Field(default_factory=lambda: [ClockEvent.awaiting_proposer])
    resume: list[ClockEvent] = Field(default_factory=lambda: [ClockEvent.proposer_responded])
    stop: list[ClockEvent] = Field(
        default_factory=lambda: [
            ClockEvent.step_submitted,
            ClockEvent.step_cancelled,
            ClockEvent.suggestion_closed,
        ],
        min_length=1,
    )
    max_pauses: int = Field(default=1, strict=True, ge=1, le=10)  # pauses per step

    @model_validator(mode="after")
    def _consistent(self) -> Clock:
        if self.start is not ClockEvent.step_opened:
            raise refuse(
                "clock", "the engine starts every clock when its step opens: step_opened", key="start"
            )
        if self.pause not in ([], [ClockEvent.awaiting_proposer]):
            raise refuse(
                "clock",
                "a clock pauses only while the unit waits for the proposer: [awaiting_proposer] or []",
                key="pause",
            )
        if self.resume not in ([], [ClockEvent.proposer_responded]):
            raise refuse(
                "clock",
                "a paused clock resumes when the proposer answers: [proposer_responded]",
                key="resume",
            )
        if set(self.stop) != set(_STOPS):
            raise refuse(
                "clock",
                "the engine stops every clock on submit, cancel and close: "
                "[step_submitted, step_cancelled, suggestion_closed]",
                key="stop",
            )
        if bool(self.pause) != bool(self.resume):
            raise refuse(
                "clock",
                "pause and resume go together: a clock that pauses must say what resumes it",
                key="resume" if self.pause else "pause",
            )
        roles: dict[str, list[ClockEvent]] = {
            "start": [self.start],
            "pause": self.pause,
            "resume": self.resume,
            "stop": self.stop,
        }
        seen: dict[ClockEvent, str] = {}
        for role, events in roles.items():
            for event in events:
                if event in seen:
                    raise refuse("clock", f"event {event.value!r} is both {seen[event]} and {role}", key=role)
                seen[event] = role
        return self


class DeadlineMatch(RuleModel):
    """When a deadline rule applies; every given field must hold. More fields = more specific."""

    level: Level | None = None
    channel: Channel | None = None
    campaign: Text | None = None
    condition: Condition | None = None

    @property
    def specificity(self) -> int:
        return sum(value is not None for value in (self.level, self.channel, self.campaign, self.condition))

    def matches(
        self, *, level: str | None, channel: str | None, campaign: str | None, context: Mapping[str, Any]
    ) -> bool:
        """Level and channel compare as their values (StrEnum members are strings)."""
        if self.level is not None and self.level != level:
            return False
        if self.channel is not None and self.channel != channel:
            return False
        if self.campaign is not None and self.campaign != campaign:
            return False
        return self.condition is None or self.condition.evaluate(context)


class DeadlineRule(RuleModel):
    """How many working days a step kind gets; `working_days: null` says on purpose it has none."""

    id: RuleId
    step: StepKind | Literal["default"]  # "default": for every kind that has no rule of its own
    label: Text | None = None
    match: DeadlineMatch = Field(default_factory=DeadlineMatch)
    # Required: null must be written, so a forgotten value is not taken for "no deadline".
    working_days: WorkingDays | None
    complex_working_days: WorkingDays | None = None
    complex_when: Condition | None = None
    # lapse: the window closes and the step lapses (rating, objection); supervise: it stays open
    # and the escalation ladders act on it.
    on_expiry: Literal["supervise", "lapse"] = "supervise"
    clock: Clock = Field(default_factory=Clock)

    @field_validator("step", mode="before")
    @classmethod
    def _step_kind(cls, value: Any) -> Any:
        if value != "default" and value not in {kind.value for kind in StepKind}:
            kinds = ", ".join(kind.value for kind in StepKind)
            raise refuse("step_kind", f"expected one of {kinds} or default, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeadlineRule:
        if (self.complex_working_days is None) != (self.complex_when is None):
            raise refuse(
                "complex",
                "complex_working_days and complex_when go together: how many days, and when a case is complex",
                key="complex_when" if self.complex_when is None else "complex_working_days",
            )
        if self.complex_working_days is not None:
            if self.working_days is None:
                raise refuse("complex", "complex_working_days needs working_days", key="working_days")
            if self.complex_working_days < self.working_days:
                raise refuse(
                    "complex",
                    f"complex_working_days ({self.complex_working_days}) is less than working_days "
                    f"({self.working_days}): a complex case gets at least as long",
                    key="complex_working_days",
                )
        if self.on_expiry == "lapse" and (self.step == "default" or self.step not in LAPSABLE_STEPS):
            kinds = ", ".join(sorted(kind.value for kind in LAPSABLE_STEPS))
            raise refuse(
                "on_expiry",
                f"{self.step} steps must be answered, they cannot lapse (only {kinds} can): "
                "write on_expiry: supervise",
                key="on_expiry",
            )
        if self.step == "default" and self.match != DeadlineMatch():
            raise refuse(
                "default",
                "the default rule cannot have a match: it is the fallback for every step kind",
                key="match",
            )
        return self

    def working_days_for(self, context: Mapping[str, Any] | None = None) -> int | None:
        """The days this rule gives, the complex ones when `complex_when` holds for the context."""
        if self.complex_when is not None and self.complex_when.evaluate(context):
            return self.complex_working_days
        return self.working_days


class ProfileActivation(RuleModel):
    office: StrictBool = False  # the whole office works to this profile
    campaigns: list[Text] = Field(default_factory=list)  # only suggestions of these campaigns

    @field_validator("campaigns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value, "campaign")
        return value


class Profile(RuleModel):
    """Named deadline overrides (e.g. emergency: reply in 3 WD, 5 if complex), switched on here."""

    id: RuleId
    label: Text | None = None
    active: ProfileActivation = Field(default_factory=ProfileActivation)
    deadlines: list[DeadlineRule] = Field(min_length=1)

    def is_active(self, campaign: str | None) -> bool:
        return self.active.office or (campaign is not None and campaign in self.active.campaigns)


class ExtensionRule(RuleModel):
    """Who may grant a unit more time for a step, how much, and how often."""

    id: RuleId
    applies_to: StepKinds
    approver: Role = Role.office
    max_working_days: PositiveWorkingDays
    max_count: int = Field(default=1, strict=True, ge=1, le=10)  # extensions per step

    @field_validator("applies_to")
    @classmethod
    def _unique(cls, value: list[StepKind]) -> list[StepKind]:
        unique([kind.value for kind in value], "step kind")
        for kind in value:
            if kind not in EXTENDABLE_STEPS:
                raise refuse(
                    "extension",
                    f"no step asks for more time for a {kind.value} step: only "
                    + ", ".join(sorted(k.value for k in EXTENDABLE_STEPS))
                    + " can be extended (the lead unit's extension_request)",
                )
        return value

    @field_validator("approver")
    @classmethod
    def _approver(cls, value: Role) -> Role:
        if value is not EXTENSION_APPROVER:
            raise refuse(
                "extension",
                f"the handling office decides an extension (extension_decision): "
                f"approver: {EXTENSION_APPROVER.value}",
            )
        return value

    @field_validator("max_count")
    @classmethod
    def _once(cls, value: int) -> int:
        if value != EXTENSIONS_PER_STEP:
            raise refuse(
                "extension",
                f"a unit asks for an extension once per referral: max_count: {EXTENSIONS_PER_STEP}",
            )
        return value
