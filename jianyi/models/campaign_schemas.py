"""What a campaign (主动征集) takes and shows: the office's form, its public page, the feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from jianyi.models.enums import Channel
from jianyi.models.step_inputs import TextInput, UnitCode


class CampaignIn(TextInput):
    code: str = Field(
        max_length=64, pattern=r"^[a-z0-9][a-z0-9-]{1,63}$", description="a stable code, e.g. 2027-transit"
    )
    topic: str = Field(min_length=2, max_length=300)
    explanation: str = Field(min_length=2, max_length=20_000)
    host_units: list[UnitCode] = Field(min_length=1, max_length=20, description="unit codes")
    channels: list[Channel] = Field(min_length=1, max_length=9)
    opens_at: datetime
    closes_at: datetime
    deadline_profile: str | None = Field(
        default=None,
        max_length=64,
        description="a rules profile (e.g. emergency) listing this campaign's code",
    )

    @model_validator(mode="after")
    def _window(self) -> CampaignIn:
        if self.opens_at.tzinfo is None or self.closes_at.tzinfo is None:
            raise ValueError("opens_at, closes_at: give a time zone (e.g. +08:00)")
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at: the window closes after it opens")
        return self


class FeedbackIn(TextInput):
    """The office's collective feedback (集中反馈): what was heard, what happens next. Participation
    and what was adopted by whom are added from the record."""

    summary: str = Field(min_length=2, max_length=20_000)
    next_steps: str = Field(min_length=2, max_length=20_000)


class CampaignPublic(BaseModel):
    """The campaign's public page: no personal data (Art. 8: topic, explanation, channels, deadline)."""

    id: int
    code: str
    topic: str
    explanation: str
    host_units: list[str]  # names
    channels: list[str]
    opens_at: datetime
    closes_at: datetime
    state: str
    feedback: dict[str, Any] | None = None  # once published: participation, adopted, summary, next steps


class CampaignOut(CampaignPublic):
    deadline_profile: str | None
    participation: dict[str, Any] | None
    closed_at: datetime | None
    published_at: datetime | None
    created_by: str
    flow_run_id: str | None
    participants: int
