"""What a proposer reaches with a tracking code and its check code: their suggestion's public view
(its stage, outcome and public timeline: no personal data, no internal notes) and the rating they owe."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from jianyi.errors import NotFound
from jianyi.models import Step, Suggestion
from jianyi.models.enums import OUTCOME_LABELS, STAGE_LABELS, Role, StepState
from jianyi.models.schemas import PublicTracking
from jianyi.services import check_codes
from jianyi.services.views import timeline

_TRACKING_CODE = re.compile(r"[0-9A-Za-z\-]{1,32}")


def find_tracked(session: Session, *, tracking_code: str, check_code: str) -> Suggestion:
    """The same answer for an unknown code, a wrong check code and a malformed one, the check
    compared in constant time: codes cannot be probed."""
    suggestion = (
        session.scalar(select(Suggestion).where(Suggestion.tracking_code == tracking_code))
        if _TRACKING_CODE.fullmatch(tracking_code)  # anything else (a NUL byte…) is not asked for
        else None
    )
    if not check_codes.matches(suggestion.check_code if suggestion else None, check_code):
        raise NotFound("no suggestion with that tracking code and check code")
    assert suggestion is not None
    return suggestion


def public_tracking(session: Session, *, tracking_code: str, check_code: str) -> PublicTracking:
    return tracking_of(session, find_tracked(session, tracking_code=tracking_code, check_code=check_code))


def _owed_by_proposer(suggestion: Suggestion) -> tuple[ColumnElement[bool], ...]:
    """The open step the proposer owes on it: the rating."""
    return (Step.suggestion_id == suggestion.id, Step.role == Role.proposer, Step.state == StepState.open)


def tracking_of(session: Session, suggestion: Suggestion) -> PublicTracking:
    """What the proposer sees of their suggestion (proven by its codes)."""
    rating_open = session.scalar(select(Step.id).where(*_owed_by_proposer(suggestion)))
    return PublicTracking(
        tracking_code=suggestion.tracking_code,
        title=suggestion.title,
        received_at=suggestion.received_at,
        stage=suggestion.stage,
        stage_label=STAGE_LABELS[suggestion.stage],
        outcome=suggestion.outcome,
        outcome_label=OUTCOME_LABELS[suggestion.outcome] if suggestion.outcome else None,
        rating_open=rating_open is not None,
        timeline=timeline(session, suggestion, public=True),
    )


def open_rating_step(session: Session, *, suggestion: Suggestion) -> Step:
    step = session.scalar(select(Step).where(*_owed_by_proposer(suggestion)))
    if step is None:
        raise NotFound("there is nothing to rate for this suggestion now")
    return step
