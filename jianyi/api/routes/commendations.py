"""The annual commendation (表彰奖励): the expert pool, the year's cycle (nominations, panel, scores,
approval, publication), and its public list (``/api/public/commendations/{year}``, no personal data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from jianyi.api.deps import CurrentActor, SessionDep
from jianyi.api.errors import documented
from jianyi.models.base import utcnow
from jianyi.services.cycles import commendation

router = APIRouter(prefix="/api/commendations", tags=["commendations"])
public = APIRouter(prefix="/api/public/commendations", tags=["commendations"])


class ExpertIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    unit: str | None = Field(default=None, max_length=64, description="the unit they work in (conflicts)")
    user_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="their account, to score in their own name"
    )


class PanelIn(BaseModel):
    seed: str | None = Field(default=None, max_length=64, description="to reproduce a draw; default: random")


class ScoreIn(BaseModel):
    expert_id: int = Field(ge=1, le=2**31 - 1)
    suggestion_id: int = Field(ge=1, le=2**31 - 1)
    score: int = Field(ge=0, le=100)


class NominationIn(BaseModel):
    suggestion_id: int = Field(ge=1, le=2**31 - 1, description="an adopted or partly adopted item")


YearPath = Annotated[int, Path(ge=2000, le=2100)]


@router.post("/experts", status_code=201)
def add_expert(body: ExpertIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    expert = commendation.add_expert(
        session, actor=actor, name=body.name, unit=body.unit, user_id=body.user_id
    )
    return {"id": expert.id, "name": expert.name}


@router.post("/{year}", status_code=201, responses=documented(409))
def open_cycle(year: YearPath, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """Open the year's cycle; the items implemented in its window are nominated."""
    cycle = commendation.open_cycle(session, actor=actor, year=year, now=utcnow())
    return commendation.view(session, cycle)


@router.get("/{year}")
def get_cycle(year: YearPath, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    commendation.require_office(session, actor)
    return commendation.view(session, commendation.get_cycle(session, year=year))


@router.post("/{year}/nominations", status_code=201, responses=documented(409))
def nominate(year: YearPath, body: NominationIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """The office's manual nomination of an adopted or partly adopted item, implemented (it waits at
    its ``commendation_result`` step); 409 while it is not implemented yet, or nominated already."""
    item = commendation.nominate_item(
        session, actor=actor, year=year, suggestion_id=body.suggestion_id, now=utcnow()
    )
    return {"suggestion_id": item.suggestion_id, "source": item.source, "year": year}


@router.post("/{year}/panel", responses=documented(409))
def draw_panel(year: YearPath, body: PanelIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    return commendation.view(
        session, commendation.draw_panel(session, actor=actor, year=year, seed=body.seed)
    )


@router.post("/{year}/scores", responses=documented(409))
def score(year: YearPath, body: ScoreIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """A reviewer's score of an item (recorded by the office); a conflicted reviewer is refused."""
    item = commendation.score(
        session,
        actor=actor,
        year=year,
        expert_id=body.expert_id,
        suggestion_id=body.suggestion_id,
        value=body.score,
    )
    return {"suggestion_id": item.suggestion_id, "scores": item.scores}


class OwnScoreIn(BaseModel):
    suggestion_id: int = Field(ge=1, le=2**31 - 1)
    score: int = Field(ge=0, le=100)


@router.post("/{year}/my-scores", responses=documented(409))
def score_own(year: YearPath, body: OwnScoreIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """A reviewer's score in their own name (their account is linked to their expert record): only
    items of the year's panel they sit on, never one of their own unit (a declared conflict)."""
    item = commendation.score_own(
        session, actor=actor, year=year, suggestion_id=body.suggestion_id, value=body.score
    )
    return {"suggestion_id": item.suggestion_id, "scores": item.scores}


@router.post("/{year}/approve", responses=documented(409))
def approve(year: YearPath, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """The head of the city office approves the ranking."""
    return commendation.view(session, commendation.approve(session, actor=actor, year=year, now=utcnow()))


@router.post("/{year}/publish", responses=documented(409))
def publish(year: YearPath, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """Complete every nominated item's step with its result; the cases' runs tell the proposers."""
    commendation.require_office(session, actor)
    done = commendation.publish(session, year=year, now=utcnow())
    return {**commendation.view(session, commendation.get_cycle(session, year=year)), "steps_completed": done}


@public.get("/{year}")
def public_list(year: YearPath, session: SessionDep) -> list[dict[str, Any]]:
    """The year's commended suggestions: rank, tier, title, category, handling unit. No personal data."""
    return commendation.public_list(session, commendation.get_cycle(session, year=year))
