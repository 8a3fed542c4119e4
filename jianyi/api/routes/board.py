"""The supervision board, read-only: the offices (a district office its own suggestions), their
supervisors and administrators; anyone else 403."""

from __future__ import annotations

from fastapi import APIRouter, Query

from jianyi.api.deps import MAX_ID, CurrentActor, RecordId, SessionDep
from jianyi.errors import InvalidInput
from jianyi.models.base import utcnow
from jianyi.models.board_schemas import BoardStep, LateUnit, OverduePage, StageBoard
from jianyi.models.step_inputs import CODE
from jianyi.services import board

router = APIRouter(prefix="/api/board", tags=["board"])

# A cursor is "<deadline in µs since 1970>.<step id>" (services/board.encode_cursor). Both parts are
# bounded: at most 17 digits of µs keeps the deadline within Python's datetimes, and the step id
# within the id range, so a forged cursor is a 422 naming `after`, never an overflow.
CURSOR = r"^[0-9]{1,17}\.[0-9]{1,10}$"


def _check_cursor(after: str) -> None:
    if int(after.partition(".")[2]) > MAX_ID:
        raise InvalidInput(
            "after: not a cursor of this board",
            detail=[{"field": "after", "message": "step id out of range"}],
        )


@router.get("/stages", response_model=StageBoard)
def stages(session: SessionDep, actor: CurrentActor) -> StageBoard:
    """Open suggestions by stage and by handling office."""
    return board.stages(session, actor=actor)


@router.get("/late-units", response_model=list[LateUnit])
def late_units(session: SessionDep, actor: CurrentActor) -> list[LateUnit]:
    """Units that owe steps past their deadline: how many and since when, the most first."""
    return board.late_units(session, actor=actor, now=utcnow())


@router.get("/overdue", response_model=OverduePage)
def overdue(
    session: SessionDep,
    actor: CurrentActor,
    unit: str | None = Query(default=None, max_length=CODE, description="code of the owing unit"),
    district: str | None = Query(
        default=None, max_length=CODE, description="code of the handling office, e.g. huangpu-office"
    ),
    after: str | None = Query(
        default=None, max_length=40, pattern=CURSOR, description="the `next` of the previous page"
    ),
    limit: int = Query(default=board.PAGE, ge=1, le=500),
) -> OverduePage:
    """Open steps past their deadline, most overdue first, a page at a time."""
    if after is not None:
        _check_cursor(after)
    return board.overdue(
        session, actor=actor, now=utcnow(), unit=unit, district=district, after=after, limit=limit
    )


@router.get("/suggestions/{suggestion_id}", response_model=list[BoardStep])
def suggestion_steps(suggestion_id: RecordId, session: SessionDep, actor: CurrentActor) -> list[BoardStep]:
    """One suggestion's open steps with their deadlines."""
    return board.suggestion_steps(session, actor=actor, suggestion_id=suggestion_id, now=utcnow())
