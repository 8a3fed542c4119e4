"""A clock for tests of deadlines and supervision: suggestions driven at chosen instants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.models import Step, StepTimer
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.models.schemas import SuggestionIn
from jianyi.services import auth, escalation, intake, steps
from jianyi.services.lifecycle.engine import advance


class Clock:
    """Drives suggestions with an injected 'now': steps open, are answered and swept on its clock."""

    def __init__(self, sessions: sessionmaker[Session], users: Any) -> None:
        self.sessions = sessions
        self.actors = dict(users.actors)
        with sessions() as session:
            for key, unit, head in (
                ("transport_handler", "city-transport", False),
                ("transport_head", "city-transport", True),
                ("city_supervisor", "city-office", False),
            ):
                user, _ = auth.create_user(
                    session,
                    name=key,
                    role=Role.office if unit == "city-office" else Role.department,
                    unit_code=unit,
                    email=f"{key}@example.gov.cn",
                    head=head,
                )
                self.actors[key] = auth.actor_for(user)
            session.commit()

    def submit(self, at: datetime, who: str = "huangpu", data: dict[str, Any] | None = None) -> int:
        with self.sessions() as session:
            result = intake.submit(
                session, actor=self.actors[who], data=SuggestionIn.model_validate(data or SUGGESTION), now=at
            )
            advance(session, suggestion_id=result.id, now=at)
            session.commit()
            return result.id

    def complete(
        self, suggestion_id: int, kind: StepKind, who: str, payload: dict[str, Any], at: datetime
    ) -> None:
        with self.sessions() as session:
            step = session.scalar(
                select(Step).where(
                    Step.suggestion_id == suggestion_id, Step.kind == kind, Step.state == StepState.open
                )
            )
            assert step is not None, kind
            steps.complete(session, actor=self.actors[who], step_id=step.id, payload=payload, now=at)
            advance(session, suggestion_id=suggestion_id, now=at)
            session.commit()

    def sweep(self, at: datetime) -> list[escalation.Fired]:
        with self.sessions() as session:
            fired = escalation.sweep(session, now=at)
            session.commit()
            return fired

    def step(self, suggestion_id: int, kind: StepKind) -> Step:
        with self.sessions() as session:
            step = session.scalar(
                select(Step)
                .where(Step.suggestion_id == suggestion_id, Step.kind == kind)
                .order_by(Step.id.desc())
            )
            assert step is not None
            return step

    def timers(self, step_id: int) -> list[StepTimer]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(StepTimer).where(StepTimer.step_id == step_id).order_by(StepTimer.fire_at)
                )
            )
