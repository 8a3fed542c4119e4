"""Seeded data for the commendation tests: suggestions adopted and implemented, waiting at
``commendation_result``."""

from __future__ import annotations

from datetime import datetime

from clock import Clock
from sqlalchemy import select
from support import ADOPT, MEETING, PROGRESS_DONE, REPLY, SUGGESTION, triage

from jianyi.models import Step
from jianyi.models.enums import StepKind, StepState
from jianyi.models.schemas import SuggestionIn
from jianyi.services import intake, steps
from jianyi.services.lifecycle.engine import advance


def implemented(clock: Clock, n: int, at: datetime) -> int:
    """One suggestion adopted and implemented, in one unit of work: it waits at ``commendation_result``."""
    lead, who = ("city-transport", "transport") if n % 2 == 0 else ("city-edu", "edu")
    data = {
        **SUGGESTION,
        "title": f"优秀建议候选{n:03d}",
        "proposer": {"name": f"建议人{n:03d}", "email": f"p{n:03d}@example.com"},
    }
    with clock.sessions() as session:
        sid = intake.submit(
            session, actor=clock.actors["office"], data=SuggestionIn.model_validate(data), now=at
        ).id
        advance(session, suggestion_id=sid, now=at)
        for kind, actor, payload in (
            (StepKind.triage, "office", triage(lead)),
            (StepKind.opinion, who, ADOPT),
            (StepKind.review, "office", {"action": "accept"}),
            (StepKind.reply, "office", REPLY),
            (StepKind.rating, "proposer", {"rating": "satisfied"}),
            (StepKind.progress, who, PROGRESS_DONE),
            (StepKind.post_adoption_communication, "office", MEETING),
        ):
            step = session.scalar(
                select(Step).where(Step.suggestion_id == sid, Step.kind == kind, Step.state == StepState.open)
            )
            assert step is not None, kind
            steps.complete(session, actor=clock.actors[actor], step_id=step.id, payload=payload, now=at)
            advance(session, suggestion_id=sid, now=at)
        session.commit()
    return sid
