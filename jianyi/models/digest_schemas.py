"""What the API and the CLI show of a digest of important suggestions (人民建议摘报)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class DigestItemOut(BaseModel):
    """An item of an issue: what the leaders read (no personal data), its step, the instruction given."""

    position: int
    suggestion_id: int
    step_id: int
    step_state: str
    entry: dict[str, Any]
    instruction: dict[str, Any] | None


class DigestOut(BaseModel):
    id: int
    number: int
    title: str  # 人民建议摘报（第N期）
    compiled_at: datetime
    compiled_by: str
    emailed_at: datetime | None
    flow_run_id: str | None
    pdf: str  # the download paths
    html: str
    items: list[DigestItemOut] = Field(default_factory=list)


class InstructionIn(BaseModel):
    """A leader's instruction on an item; a leader may leave out ``leader`` and ``instructed_on`` (their
    own name, today). ``has_instruction: false`` records "no instruction"."""

    has_instruction: bool
    text: str | None = Field(default=None, max_length=4000)
    leader: str | None = Field(default=None, max_length=100)
    instructed_on: date | None = None
