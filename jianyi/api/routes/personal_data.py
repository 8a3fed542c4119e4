"""A proposer's personal data: the office records an erasure request, and lists who saw the data
(jianyi.services.personal_data)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from jianyi.api.deps import CurrentActor, RecordId, SessionDep
from jianyi.api.errors import documented
from jianyi.models.contact import Line
from jianyi.services import personal_data

router = APIRouter(prefix="/api/suggestions", tags=["personal data"])


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    basis: Line = Field(min_length=1, max_length=500, description="the request and the law that allows it")


@router.post("/{suggestion_id}/erasure", responses=documented(409))
def request_erasure(
    suggestion_id: RecordId, data: ErasureRequest, session: SessionDep, actor: CurrentActor
) -> dict[str, Any]:
    """The proposer asked for their data to go before the retention period ends: the handling office
    records it and the data is erased now (the case must be closed; 409 otherwise)."""
    erased = personal_data.request_erasure(
        session, actor=actor, suggestion_id=suggestion_id, basis=data.basis
    )
    return asdict(erased)


@router.get("/{suggestion_id}/personal-data-views")
def personal_data_views(
    suggestion_id: RecordId, session: SessionDep, actor: CurrentActor
) -> list[dict[str, Any]]:
    """Who was shown the proposer's data, when; and the erasure, if any (the handling office)."""
    return personal_data.views_of(session, actor=actor, suggestion_id=suggestion_id)
