"""Drives the lifecycle engine directly, as the flow's task does on each attempt (no Prefect)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION, OpenStep, Play, Scenario

from jianyi.models import Step, Unit
from jianyi.models.enums import StepState
from jianyi.models.schemas import SuggestionIn
from jianyi.services import intake, steps
from jianyi.services.lifecycle.engine import WaitPoint, advance


def _code(session: Session, unit_id: int | None) -> str | None:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return unit.code if unit else None


class EngineDriver:
    """Plays scripts against ``advance``: what the flow's task does on each attempt."""

    def __init__(self, sessions: sessionmaker[Session], users: Any) -> None:
        self.sessions = sessions
        self.actors = users.actors
        self.waits: list[WaitPoint | None] = []

    def submit(self, data: dict[str, Any] | None = None, who: str = "office") -> int:
        with self.sessions() as session:
            result = intake.submit(
                session, actor=self.actors[who], data=SuggestionIn.model_validate(data or SUGGESTION)
            )
            session.commit()
            return result.id

    def advance(self, suggestion_id: int) -> WaitPoint | None:
        with self.sessions() as session:
            wait = advance(session, suggestion_id=suggestion_id)
            session.commit()
        self.waits.append(wait)
        return wait

    def open_steps(self, suggestion_id: int) -> list[OpenStep]:
        self.advance(suggestion_id)
        with self.sessions() as session:
            rows = session.scalars(
                select(Step).where(Step.suggestion_id == suggestion_id, Step.state == StepState.open)
            ).all()
            return [
                OpenStep(r.id, r.kind, frozenset({_code(session, r.unit_id), _code(session, r.alt_unit_id)}))
                for r in rows
            ]

    def complete(self, who: str, suggestion_id: int, step_id: int, payload: dict[str, Any] | None) -> None:
        with self.sessions() as session:
            if payload is None:
                steps.lapse(session, actor=self.actors[who], step_id=step_id)
            else:
                steps.complete(session, actor=self.actors[who], step_id=step_id, payload=payload)
            session.commit()

    def play(self, scenario: Scenario) -> int:
        suggestion_id = self.submit(scenario.suggestion)
        play = Play(scenario, suggestion_id)
        for _ in range(200):
            if not play.step(self):
                break
        self.advance(suggestion_id)
        assert play.finished, f"{scenario.name} stuck before {scenario.actions[play.position]}"
        return suggestion_id
