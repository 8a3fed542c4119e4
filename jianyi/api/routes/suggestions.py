from __future__ import annotations

from fastapi import APIRouter, Response, status

from jianyi.api.deps import CurrentActor, SessionDep
from jianyi.models.schemas import IntakeResult, SuggestionIn, SuggestionView
from jianyi.services import intake, views

router = APIRouter(prefix="/api/suggestions", tags=["suggestions"])


@router.post(
    "",
    response_model=IntakeResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": IntakeResult, "description": "the same channel reference was received before"}},
)
def submit_suggestion(
    data: SuggestionIn, session: SessionDep, actor: CurrentActor, response: Response
) -> IntakeResult:
    """Intake (受理): stored, acknowledged the same day, its flow run started by the executor."""
    result = intake.submit(session, actor=actor, data=data)
    session.commit()
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result


@router.get("/{suggestion_id}", response_model=SuggestionView)
def get_suggestion(suggestion_id: int, session: SessionDep, actor: CurrentActor) -> SuggestionView:
    """Stage, outcome, open steps, timeline and the Prefect flow run id."""
    return views.suggestion_view(session, actor=actor, suggestion_id=suggestion_id)
