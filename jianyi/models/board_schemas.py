"""Pydantic schemas of the supervision board (``jianyi.services.board``, ``GET /api/board/…``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from jianyi.models.enums import Role, Stage, StepKind, StepState, UnitKind


class StageCount(BaseModel):
    stage: Stage
    label: str
    count: int


class OfficeStages(BaseModel):
    """One handling office's open suggestions, by stage (stages with none are left out)."""

    office: str
    name: str
    total: int
    stages: dict[Stage, int]


class StageBoard(BaseModel):
    """Open suggestions (every stage but closed) by stage and by handling office."""

    total: int
    by_stage: list[StageCount]
    by_office: list[OfficeStages]


class LateUnit(BaseModel):
    """A unit that owes steps past their deadline: how many, and since when."""

    unit: str
    name: str
    kind: UnitKind
    overdue: int
    oldest_due_at: datetime
    days_overdue: int = Field(
        description="working days since the oldest deadline passed (the rules' calendar)"
    )


class OverdueStep(BaseModel):
    step_id: int
    kind: StepKind
    label: str
    unit: str | None
    suggestion_id: int
    tracking_code: str
    title: str
    office: str
    due_at: datetime
    days_overdue: int = Field(description="working days since the deadline passed (the rules' calendar)")


class OverduePage(BaseModel):
    """Most overdue first. ``next`` is the ``after`` of the following page (none: this is the last)."""

    items: list[OverdueStep]
    next: str | None


class BoardStep(BaseModel):
    """An open step of one suggestion, with its deadline."""

    step_id: int
    kind: StepKind
    label: str
    state: StepState
    role: Role
    unit: str | None
    due_at: datetime | None
    overdue: bool
    paused: bool
