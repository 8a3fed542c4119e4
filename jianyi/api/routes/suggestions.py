from __future__ import annotations

from fastapi import APIRouter, Response, status
from starlette.concurrency import run_in_threadpool

from jianyi.api.deps import BearerToken, CurrentActor, RecordId, SessionDep
from jianyi.db import read_scope, session_scope, writer_turn
from jianyi.models.schemas import IntakeResult, SuggestionIn, SuggestionView
from jianyi.services import intake, personal_data, views

router = APIRouter(prefix="/api/suggestions", tags=["suggestions"])


@router.post(
    "",
    response_model=IntakeResult,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": IntakeResult, "description": "the same channel reference was received before"}},
)
async def submit_suggestion(data: SuggestionIn, token: BearerToken, response: Response) -> IntakeResult:
    """Intake (受理): stored, acknowledged the same day, its flow run started by the executor."""
    # The route the peak hits: no session dependency, and all of intake in one worker-thread hop.
    result = await run_in_threadpool(_accept, data, token)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result


def _accept(data: SuggestionIn, token: str | None) -> IntakeResult:
    # Read-only first, then a short write transaction (each scope commits or rolls back its own);
    # on SQLite the process's intakes take turns (db.writer_turn).
    with writer_turn():
        return intake.accept(read=read_scope, write=session_scope, token=token, data=data)


@router.get("/{suggestion_id}", response_model=SuggestionView)
def get_suggestion(suggestion_id: RecordId, session: SessionDep, actor: CurrentActor) -> SuggestionView:
    """Stage, outcome, open steps, timeline and the Prefect flow run id."""
    view = views.suggestion_view(session, actor=actor, suggestion_id=suggestion_id)
    # Staff shown the proposer's data: audited, in a short write of its own once an hour (the
    # request's session only reads).
    if (
        view.proposer is not None
        and actor.user_id is not None
        and not personal_data.view_recorded(session, actor=actor, suggestion_id=suggestion_id)
    ):
        with session_scope() as write:
            personal_data.record_view(write, actor=actor, suggestion_id=suggestion_id)
    return view
