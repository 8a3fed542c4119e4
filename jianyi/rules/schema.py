"""The rule set: what one rules directory declares, validated by Pydantic.

Each YAML file is a `RuleFile` (any of the sections); the loader merges the files of a directory
into one `RuleSet` and checks what spans files (unique ids, a deadline for every step kind, the
routing order). The models live in schema_deadlines, schema_ladders and schema_comms; import them
from here.
"""

from __future__ import annotations

from pydantic import Field

from jianyi.rules.schema_base import RuleModel
from jianyi.rules.schema_comms import (
    CommunicationEvent,
    CommunicationRule,
    Medium,
    RouteMatch,
    RouteRule,
    Timing,
    Trigger,
)
from jianyi.rules.schema_cycles import CycleRules, DigestRules
from jianyi.rules.schema_deadlines import (
    CalendarRules,
    Clock,
    ClockEvent,
    DeadlineMatch,
    DeadlineRule,
    ExtensionRule,
    Profile,
    ProfileActivation,
)
from jianyi.rules.schema_ladders import (
    ACTION_TYPES,
    Action,
    BulletinAction,
    EscalateAction,
    Ladder,
    NotifyHeadAction,
    RemindAction,
    Rung,
    SupervisionForm,
    SupervisionOrderAction,
)

__all__ = [
    "ACTION_TYPES",
    "LIST_SECTIONS",
    "Action",
    "BulletinAction",
    "CalendarRules",
    "Clock",
    "ClockEvent",
    "CommunicationEvent",
    "CommunicationRule",
    "CycleRules",
    "DeadlineMatch",
    "DeadlineRule",
    "DigestRules",
    "EscalateAction",
    "ExtensionRule",
    "Ladder",
    "Medium",
    "NotifyHeadAction",
    "Profile",
    "ProfileActivation",
    "RemindAction",
    "RouteMatch",
    "RouteRule",
    "RuleFile",
    "RuleSet",
    "Rung",
    "SupervisionForm",
    "SupervisionOrderAction",
    "Timing",
    "Trigger",
]

# Section → what one of its items is called in messages ("ladder 'opinion-ladder'").
LIST_SECTIONS: dict[str, str] = {
    "deadlines": "deadline",
    "profiles": "profile",
    "extensions": "extension",
    "ladders": "ladder",
    "communications": "communication",
    "routing": "route",
}


class RuleFile(RuleModel):
    """One YAML file of a rules directory: any of the sections, each optional."""

    calendar: CalendarRules | None = None
    deadlines: list[DeadlineRule] = Field(default_factory=list)
    profiles: list[Profile] = Field(default_factory=list)
    extensions: list[ExtensionRule] = Field(default_factory=list)
    ladders: list[Ladder] = Field(default_factory=list)
    communications: list[CommunicationRule] = Field(default_factory=list)
    routing: list[RouteRule] = Field(default_factory=list)
    cycles: CycleRules | None = None  # the office's cycles (the digest's schedule): in one file


class RuleSet(RuleModel):
    """Every rule in force: the files of one directory merged in file-name order.

    Order matters where first-match applies (routing) and to break ties between equally specific
    deadline rules; build one with `jianyi.rules.loader.load_rules`, which also runs the checks
    that span files.
    """

    calendar: CalendarRules = Field(default_factory=CalendarRules)
    deadlines: list[DeadlineRule] = Field(default_factory=list)
    profiles: list[Profile] = Field(default_factory=list)
    extensions: list[ExtensionRule] = Field(default_factory=list)
    ladders: list[Ladder] = Field(default_factory=list)
    communications: list[CommunicationRule] = Field(default_factory=list)
    routing: list[RouteRule] = Field(default_factory=list)
    cycles: CycleRules = Field(default_factory=CycleRules)

    def counts(self) -> dict[str, int]:
        """How many rules each section holds (the summary of `jianyi rules check`)."""
        return {
            "deadlines": len(self.deadlines),
            "profiles": len(self.profiles),
            "extensions": len(self.extensions),
            "ladders": len(self.ladders),
            "communications": len(self.communications),
            "routing": len(self.routing),
        }
