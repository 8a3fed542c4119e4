"""``advance``: the mechanics of one attempt of a suggestion's flow run, as one transaction.

What each step leads to is in ``stages.py``; here only: lock the case, apply its submitted steps
through their specs, let the stage settle, and find the wait point.

The application database is the source of truth. Each attempt locks the suggestion, applies every
step its units have submitted since the last attempt (each exactly once: a step moves from
``submitted`` to ``completed`` in the same transaction as its effects), settles the stage, and
returns the wait point the flow run suspends at. Earlier stages are never re-run, so the 20th
resume costs what the 1st does.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import NotFound
from jianyi.models import Step, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import STAGE_LABELS, Stage, StepKind, StepState
from jianyi.services import audit
from jianyi.services.actors import FLOW
from jianyi.services.lifecycle import stages
from jianyi.services.lifecycle.case import Case
from jianyi.services.lifecycle.specs import CaseInvariantError


class AwaitedStep(BaseModel):
    step_id: int
    kind: StepKind
    unit_id: int | None
    optional: bool


class WaitPoint(BaseModel):
    """Where a flow run suspends: a fresh key per attempt, and the steps any of which may wake it."""

    suggestion_id: int
    key: str
    stage: Stage
    steps: list[AwaitedStep]

    @property
    def kinds(self) -> list[StepKind]:
        return sorted({s.kind for s in self.steps})

    @property
    def label(self) -> str:
        return f"{STAGE_LABELS[self.stage]} {self.stage.value}: " + ", ".join(k.value for k in self.kinds)


__all__ = ["AwaitedStep", "CaseInvariantError", "WaitPoint", "advance", "begin", "describe_attempt"]


def begin(session: Session, *, suggestion: Suggestion, now: datetime) -> None:
    """Intake's part of the lifecycle, in the intake's transaction: the triage step opens, and its
    clock starts at receipt, whenever the flow run's first attempt comes (Prefect may be down)."""
    stages.begin(Case(session=session, suggestion=suggestion, now=now))


def advance(session: Session, *, suggestion_id: int, now: datetime | None = None) -> WaitPoint | None:
    """Apply what was submitted, settle, and say where to wait next (None once the case is closed)."""
    # FOR NO KEY UPDATE: one attempt at a time per suggestion, without blocking the API's inserts that
    # reference the row (their foreign-key checks take KEY SHARE locks, which FOR UPDATE would block).
    suggestion = session.scalar(
        select(Suggestion).where(Suggestion.id == suggestion_id).with_for_update(key_share=True)
    )
    if suggestion is None:
        raise NotFound(f"suggestion {suggestion_id} does not exist")
    case = Case(session=session, suggestion=suggestion, now=now or utcnow())
    if suggestion.outcome is not None:
        return None
    if not case.has_steps():  # stored before intake opened the triage step (``begin``)
        stages.begin(case)

    for step in case.steps(states=[StepState.submitted]):
        if suggestion.outcome is not None:
            _moot(case, step)
            continue
        _apply(case, step)
        stages.settle(case)

    if suggestion.outcome is not None:
        return None
    waiting = case.steps(states=[StepState.open])
    if not waiting:
        raise CaseInvariantError(
            f"suggestion {suggestion_id} is open in stage {suggestion.stage} with no open step"
        )
    suggestion.wait_seq += 1
    return WaitPoint(
        suggestion_id=suggestion_id,
        key=f"w{suggestion.wait_seq}",
        stage=suggestion.stage,
        steps=[
            AwaitedStep(step_id=s.id, kind=s.kind, unit_id=s.unit_id, optional=s.optional) for s in waiting
        ],
    )


def _apply(case: Case, step: Step) -> None:
    lapsed = step.input is None  # a window that closed unanswered (e.g. no rating within 10 WD)
    step.state = StepState.lapsed if lapsed else StepState.completed
    step.applied_at = case.now
    audit.record(
        case.session,
        actor=FLOW,
        action="step.lapsed" if lapsed else "step.applied",
        suggestion_id=case.id,
        step_id=step.id,
        detail={"kind": step.kind.value},
    )
    stages.SPECS[step.kind].apply(case, step)


def _moot(case: Case, step: Step) -> None:
    """Submitted, but an earlier step in the same attempt closed the case: kept on record, not applied."""
    step.state = StepState.cancelled
    step.applied_at = case.now
    audit.record(
        case.session,
        actor=FLOW,
        action="step.moot",
        suggestion_id=case.id,
        step_id=step.id,
        detail={"kind": step.kind.value, "outcome": case.suggestion.outcome},
    )


def describe_attempt(session: Session, *, suggestion_id: int) -> str:
    """A name for an attempt, read before it runs: the stage and the steps about to be applied."""
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        return f"suggestion {suggestion_id}"
    kinds = sorted(
        {
            k.value
            for k in session.scalars(
                select(Step.kind).where(
                    Step.suggestion_id == suggestion_id, Step.state == StepState.submitted
                )
            )
        }
    )
    applying = f" ← {', '.join(kinds)}" if kinds else ""
    return f"{STAGE_LABELS[suggestion.stage]} {suggestion.stage.value}{applying}"
