"""Pydantic schemas of the outbox as the office sees it (``GET /api/communications/failed``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from jianyi.models.enums import OutboxChannel


class FailedMessageView(BaseModel):
    """A message to a proposer (or an official) that the outbox dispatcher gave up on."""

    id: int
    suggestion_id: int | None
    tracking_code: str | None
    kind: str = Field(description="what the message is: its template, e.g. acknowledgement")
    channel: OutboxChannel
    to_addr: str = Field(description="the e-mail address or phone number it was sent to")
    subject: str
    attempts: int
    last_error: str | None = Field(description="why the last attempt failed")
    created_at: datetime
    failed_at: datetime = Field(description="when the dispatcher gave up")
