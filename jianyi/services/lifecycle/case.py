"""The primitives the stage map (``stages.py``) is written in: open a step, enter a stage, assign a
unit, withdraw it, close the case.

A ``Case`` wraps one locked suggestion inside one attempt's transaction; nothing here commits. Each
primitive does all its name promises, and only that: opening a step plans its deadline and ladder;
entering a stage tells the communications rules; closing tells the proposer through them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Assignment, StageEntry, Step, Suggestion
from jianyi.models.enums import (
    AssignmentRole,
    AssignmentState,
    Outcome,
    Role,
    Stage,
    StepKind,
    StepState,
)
from jianyi.rules.schema_comms import CommunicationEvent
from jianyi.services import audit, communications, deadlines
from jianyi.services.actors import FLOW, Actor

OPEN_STATES = (StepState.open, StepState.submitted)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def open_step(
    session: Session,
    *,
    suggestion: Suggestion,
    kind: StepKind,
    key: str,
    role: Role,
    unit_id: int | None,
    now: datetime,
    actor: Actor = FLOW,
    iteration: int = 1,
    alt_unit_id: int | None = None,
    assignment_id: int | None = None,
    optional: bool = False,
    working_days: int | None = None,
) -> Step:
    """The one way a step is opened: its row, its deadline and reminder ladder from the rules
    (``working_days`` overrides the rules' term), and a ``step.opened`` audit row. A key already
    opened on this suggestion (an attempt replayed after a crash) returns that step unchanged."""
    existing = session.scalar(select(Step).where(Step.suggestion_id == suggestion.id, Step.key == key))
    if existing is not None:
        return existing
    step = Step(
        suggestion_id=suggestion.id,
        kind=kind,
        key=key,
        iteration=iteration,
        role=role,
        unit_id=unit_id,
        alt_unit_id=alt_unit_id,
        assignment_id=assignment_id,
        optional=optional,
        created_at=now,
    )
    session.add(step)
    session.flush()
    deadlines.plan(session, step=step, suggestion=suggestion, working_days=working_days)
    audit.record(
        session,
        actor=actor,
        action="step.opened",
        suggestion_id=suggestion.id,
        step_id=step.id,
        detail={"kind": kind.value, "key": key, "unit_id": unit_id, "due_at": _iso(step.due_at)},
    )
    return step


@dataclass
class Case:
    session: Session
    suggestion: Suggestion
    now: datetime

    @property
    def id(self) -> int:
        return self.suggestion.id

    # --- steps -----------------------------------------------------------------------------------

    def open_step(
        self,
        kind: StepKind,
        *,
        key: str,
        role: Role,
        unit_id: int | None,
        iteration: int = 1,
        alt_unit_id: int | None = None,
        assignment_id: int | None = None,
        optional: bool = False,
    ) -> Step:
        return open_step(
            self.session,
            suggestion=self.suggestion,
            kind=kind,
            key=key,
            role=role,
            unit_id=unit_id,
            now=self.now,
            iteration=iteration,
            alt_unit_id=alt_unit_id,
            assignment_id=assignment_id,
            optional=optional,
        )

    def steps(self, *kinds: StepKind, states: Iterable[StepState] | None = None) -> list[Step]:
        query = select(Step).where(Step.suggestion_id == self.id)
        if kinds:
            query = query.where(Step.kind.in_(kinds))
        if states is not None:
            query = query.where(Step.state.in_(tuple(states)))
        return list(self.session.scalars(query.order_by(Step.id)))

    def has_steps(self) -> bool:
        # Asked on every attempt: one indexed row, not the case's whole history (the 30th progress
        # report must cost what the first does).
        return self.session.scalar(select(Step.id).where(Step.suggestion_id == self.id).limit(1)) is not None

    def open_steps(self, *kinds: StepKind) -> list[Step]:
        return self.steps(*kinds, states=OPEN_STATES)

    def cancel(self, steps: Iterable[Step], *, reason: str) -> None:
        steps = list(steps)
        deadlines.moot_timers(self.session, step_ids=[s.id for s in steps if s.state is StepState.open])
        for step in steps:
            if step.state is StepState.open:
                step.state = StepState.cancelled
                step.applied_at = self.now
                audit.record(
                    self.session,
                    actor=FLOW,
                    action="step.cancelled",
                    suggestion_id=self.id,
                    step_id=step.id,
                    detail={"reason": reason},
                )

    def latest(self, kind: StepKind, *, assignment_id: int | None = None) -> Step | None:
        query = select(Step).where(Step.suggestion_id == self.id, Step.kind == kind)
        if assignment_id is not None:
            query = query.where(Step.assignment_id == assignment_id)
        return self.session.scalar(query.order_by(Step.iteration.desc(), Step.id.desc()).limit(1))

    # --- stages ----------------------------------------------------------------------------------

    def enter_stage(self, stage: Stage) -> None:
        current = self.session.scalar(
            select(StageEntry)
            .where(StageEntry.suggestion_id == self.id, StageEntry.left_at.is_(None))
            .order_by(StageEntry.id.desc())
            .limit(1)
        )
        if current is not None and current.stage is stage:
            return
        if current is not None:
            current.left_at = self.now
        self.session.add(StageEntry(suggestion_id=self.id, stage=stage, entered_at=self.now))
        previous = self.suggestion.stage
        self.suggestion.stage = stage
        audit.record(
            self.session,
            actor=FLOW,
            action="stage.entered",
            suggestion_id=self.id,
            detail={"stage": stage.value, "from": previous.value if current is not None else None},
        )
        self.session.flush()  # the stage entry counts: its n-th entry is the communications' cause
        communications.on_stage(self.session, self.suggestion, stage, now=self.now)

    def communicate(self, event: CommunicationEvent, *, cause: str, **values: str | None) -> None:
        """Tell the communications rules what happened (they decide who hears of it, and how)."""
        communications.on_event(
            self.session, self.suggestion, event, now=self.now, cause=cause, values=values
        )

    # --- assignments (转办) -------------------------------------------------------------------

    def assignments(self, role: AssignmentRole | None = None) -> list[Assignment]:
        query = select(Assignment).where(
            Assignment.suggestion_id == self.id, Assignment.state == AssignmentState.active
        )
        if role is not None:
            query = query.where(Assignment.role == role)
        return list(self.session.scalars(query.order_by(Assignment.id)))

    def lead_assignment(self) -> Assignment | None:
        leads = self.assignments(AssignmentRole.lead)
        return leads[0] if leads else None

    def assign(self, unit_id: int, role: AssignmentRole) -> Assignment:
        """Refer the suggestion to a unit (the unit's handlers share it, no person is named)."""
        assignment = Assignment(suggestion_id=self.id, unit_id=unit_id, role=role, created_at=self.now)
        self.session.add(assignment)
        if self.suggestion.first_referred_at is None:
            self.suggestion.first_referred_at = self.now
        self.session.flush()
        audit.record(
            self.session,
            actor=FLOW,
            action="assignment.created",
            suggestion_id=self.id,
            detail={"assignment_id": assignment.id, "unit_id": unit_id, "role": role.value},
        )
        return assignment

    def withdraw(self, assignment: Assignment, *, reason: str) -> None:
        assignment.state = AssignmentState.withdrawn
        assignment.closed_at = self.now
        self.cancel(
            [s for s in self.open_steps() if s.assignment_id == assignment.id and s.state is StepState.open],
            reason=reason,
        )
        audit.record(
            self.session,
            actor=FLOW,
            action="assignment.withdrawn",
            suggestion_id=self.id,
            detail={"assignment_id": assignment.id, "unit_id": assignment.unit_id, "reason": reason},
        )

    # --- the end ---------------------------------------------------------------------------------

    def close(self, outcome: Outcome, *, reason: str | None = None) -> None:
        """Final: record the outcome, cancel what is still open; entering the closed stage tells the
        proposer (and the merged proposers) as the communications rules say."""
        suggestion = self.suggestion
        suggestion.outcome = outcome
        suggestion.outcome_reason = reason
        suggestion.closed_at = self.now
        self.cancel(self.steps(states=[StepState.open]), reason=f"closed: {outcome.value}")
        for assignment in self.assignments():
            assignment.state = AssignmentState.done
            assignment.closed_at = self.now
        audit.record(
            self.session,
            actor=FLOW,
            action="suggestion.closed",
            suggestion_id=self.id,
            detail={"outcome": outcome.value, "reason": reason},
        )
        self.enter_stage(Stage.closed)
        self.communicate(CommunicationEvent.closed, cause="closed")
