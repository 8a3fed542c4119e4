"""Migration 0016: each answer's deciding value (Step.answer) copied from the input of the steps
answered before it; a lapsed step and a kind without one keep none. New answers set it themselves."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.migrate import make_config, upgrade
from jianyi.models import Step
from jianyi.models.base import utcnow
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.models.schemas import SuggestionIn
from jianyi.services import intake


def test_0016_copies_the_deciding_value_of_earlier_answers(
    db_url: str, engine: sa.Engine, sessions: sessionmaker[Session], users: Any
) -> None:
    with sessions() as session:
        result = intake.submit(
            session, actor=users.actors["office"], data=SuggestionIn.model_validate(SUGGESTION)
        )
        answered = {
            "rated": (StepKind.rating, {"rating": "basically_satisfied"}),
            "reviewed": (StepKind.review, {"action": "return", "note": "补充调研"}),
            "lapsed": (StepKind.rating, None),
            "opinion": (StepKind.opinion, {"decision": "adopt"}),
        }
        for key, (kind, given) in answered.items():
            session.add(
                Step(
                    suggestion_id=result.id, kind=kind, key=key, role=Role.office,
                    state=StepState.completed, input=given, submitted_at=utcnow(),
                )
            )  # fmt: skip
        session.commit()
    engine.dispose()
    command.downgrade(make_config(db_url), "0015")  # as the steps were before the column
    upgrade(db_url)
    with sessions() as session:
        found = dict(session.execute(sa.select(Step.key, Step.answer).where(Step.key.in_(answered))).all())
    assert found == {"rated": "basically_satisfied", "reviewed": "return", "lapsed": None, "opinion": None}
