"""Escalation and supervision ladders (督办): rungs in time order, each with its actions."""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from jianyi.models.enums import StepKind
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


class SupervisionForm(StrEnum):
    """The forms a supervision order (督办单) takes."""

    phone = "phone"  # 电话督办
    online = "online"  # 网上督办
    written = "written"  # 书面督办 (督办函)
    on_site = "on_site"  # 现场督办


class RemindAction(RuleModel):
    """Remind the handlers of the unit that owes the step."""

    type: Literal["remind"]
    template: Text = "step_reminder"


class NotifyHeadAction(RuleModel):
    """Tell the head of the unit that the step is (nearly) late."""

    type: Literal["notify_head"]
    template: Text = "head_notice"


class SupervisionOrderAction(RuleModel):
    """Issue a supervision order: itself a human step the unit must answer within `working_days`."""

    type: Literal["supervision_order"]
    form: SupervisionForm
    working_days: PositiveWorkingDays


class EscalateAction(RuleModel):
    """Hand the item up to the office above (district office → city office)."""

    type: Literal["escalate"]
    to: Literal["parent_office"] = "parent_office"


class BulletinAction(RuleModel):
    """Mark the item for the bulletin (月通报) that names overdue units."""

    type: Literal["bulletin"]
    period: Literal["weekly", "monthly", "quarterly"] = "monthly"


Action = Annotated[
    RemindAction | NotifyHeadAction | SupervisionOrderAction | EscalateAction | BulletinAction,
    Field(discriminator="type"),
]
ACTION_TYPES = ("remind", "notify_head", "supervision_order", "escalate", "bulletin")


class Rung(RuleModel):
    """One rung: at a fraction of the goal (0.5 = half the working days gone) or N working days past due."""

    at_fraction: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    after_due_working_days: WorkingDays | None = None
    condition: Condition | None = None
    actions: list[Action] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_point(self) -> Rung:
        if (self.at_fraction is None) == (self.after_due_working_days is None):
            raise refuse(
                "rung_point",
                "expected exactly one of at_fraction (e.g. 0.5) or after_due_working_days (e.g. 2)",
            )
        return self

    @property
    def point(self) -> tuple[float, int]:
        """Where the rung sits in time, comparable across both kinds: at_fraction 1.0 == 0 WD after due."""
        if self.at_fraction is not None:
            return (self.at_fraction, 0)
        return (1.0, self.after_due_working_days or 0)

    def describe(self) -> str:
        if self.at_fraction is not None:
            return f"at {self.at_fraction:.0%} of the goal"
        return f"{self.after_due_working_days} WD after due"


class Ladder(RuleModel):
    """The reminders, notices, supervision orders and escalations an open step climbs through."""

    id: RuleId
    label: Text | None = None
    applies_to: StepKinds
    condition: Condition | None = None
    rungs: list[Rung] = Field(min_length=1)

    @field_validator("applies_to")
    @classmethod
    def _unique_kinds(cls, value: list[StepKind]) -> list[StepKind]:
        unique([kind.value for kind in value], "step kind")
        return value

    @field_validator("rungs")
    @classmethod
    def _in_time_order(cls, rungs: list[Rung]) -> list[Rung]:
        # A rung listed out of order would fire before the one above it: almost surely a slip.
        for number, (before, after) in enumerate(pairwise(rungs), start=2):
            if after.point <= before.point:
                raise refuse(
                    "rung_order",
                    f"rung {number} ({after.describe()}) does not come after rung {number - 1} "
                    f"({before.describe()}): list rungs in time order, each at a later point",
                )
        return rungs
