from __future__ import annotations

from fastapi import APIRouter

from jianyi.api.deps import CurrentActor, SessionDep
from jianyi.services.network import UnitNode, unit_tree

router = APIRouter(prefix="/api/units", tags=["units"])


@router.get("", response_model=list[UnitNode])
def list_units(session: SessionDep, _actor: CurrentActor) -> list[UnitNode]:
    """The unit network as a tree (1 city office + 16 district offices + departments + sub-districts)."""
    return unit_tree(session)
