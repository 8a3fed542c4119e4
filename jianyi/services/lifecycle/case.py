"""The primitives every transition of the lifecycle is made of: open a step, enter a stage, refer, close.

A ``Case`` wraps one locked suggestion inside one transaction. Nothing here commits; the flow's
``advance`` task owns the transaction, so an attempt's changes land together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
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
from jianyi.services.actors import FLOW

OPEN_STATES = (StepState.open, StepState.submitted)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


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
        """Create a step unless one with this key exists (an attempt replayed after a crash)."""
        existing = self.session.scalar(select(Step).where(Step.suggestion_id == self.id, Step.key == key))
        if existing is not None:
            return existing
        step = Step(
            suggestion_id=self.id,
            kind=kind,
            key=key,
            iteration=iteration,
            role=role,
            unit_id=unit_id,
            alt_unit_id=alt_unit_id,
            assignment_id=assignment_id,
            optional=optional,
            created_at=self.now,
        )
        self.session.add(step)
        self.session.flush()
        deadlines.plan(self.session, step=step, suggestion=self.suggestion)
        audit.record(
            self.session,
            actor=FLOW,
            action="step.opened",
            suggestion_id=self.id,
            step_id=step.id,
            detail={"kind": kind.value, "key": key, "unit_id": unit_id, "due_at": _iso(step.due_at)},
        )
        return step

    def open_office_step(
        self,
        kind: StepKind,
        *,
        key: str,
        iteration: int = 1,
        alt_unit_id: int | None = None,
        assignment_id: int | None = None,
    ) -> Step:
        return self.open_step(
            kind,
            key=key,
            role=Role.office,
            unit_id=self.suggestion.office_unit_id,
            iteration=iteration,
            alt_unit_id=alt_unit_id,
            assignment_id=assignment_id,
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

    # --- referral (转办) --------------------------------------------------------------------------

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

    def refer(self, *, lead_unit_id: int | None, co_unit_ids: Iterable[int]) -> None:
        """Assign the lead unit (if given) and every co-handling unit not already assigned."""
        self.enter_stage(Stage.referral)
        active_units = {a.unit_id for a in self.assignments()}
        if lead_unit_id is not None:
            self.suggestion.lead_unit_id = lead_unit_id
            lead = self._assign(lead_unit_id, AssignmentRole.lead)
            self._open_lead_steps(lead)
        for unit_id in co_unit_ids:
            if unit_id in active_units or unit_id == lead_unit_id:
                continue
            co = self._assign(unit_id, AssignmentRole.co)
            self.open_step(
                StepKind.co_opinion,
                key=f"co_opinion:a{co.id}",
                role=Role.department,
                unit_id=unit_id,
                assignment_id=co.id,
            )
            self._open_objection(co)
        referrals = self.session.scalar(
            select(func.count())
            .select_from(StageEntry)
            .where(StageEntry.suggestion_id == self.id, StageEntry.stage == Stage.referral)
        )
        self.communicate(CommunicationEvent.referred, cause=f"referral:{referrals}")
        self.enter_stage(Stage.research)

    def _assign(self, unit_id: int, role: AssignmentRole) -> Assignment:
        assignment = Assignment(suggestion_id=self.id, unit_id=unit_id, role=role, created_at=self.now)
        self.session.add(assignment)
        self.session.flush()
        audit.record(
            self.session,
            actor=FLOW,
            action="assignment.created",
            suggestion_id=self.id,
            detail={"assignment_id": assignment.id, "unit_id": unit_id, "role": role.value},
        )
        return assignment

    def _open_objection(self, assignment: Assignment) -> None:
        self.open_step(
            StepKind.objection,
            key=f"objection:a{assignment.id}",
            role=Role.department,
            unit_id=assignment.unit_id,
            assignment_id=assignment.id,
            optional=True,
        )

    def _open_lead_steps(self, lead: Assignment) -> None:
        self.open_lead_opinion(lead, iteration=1)
        self._open_objection(lead)
        self.open_step(
            StepKind.extension_request,
            key=f"extension_request:a{lead.id}",
            role=Role.department,
            unit_id=lead.unit_id,
            assignment_id=lead.id,
            optional=True,
        )
        if self.suggestion.instructed:
            self.open_step(
                StepKind.proposer_hearing,
                key=f"proposer_hearing:a{lead.id}",
                role=Role.department,
                unit_id=lead.unit_id,
                assignment_id=lead.id,
            )

    def open_lead_opinion(self, lead: Assignment, *, iteration: int) -> Step:
        return self.open_step(
            StepKind.opinion,
            key=f"opinion:a{lead.id}:{iteration}",
            iteration=iteration,
            role=Role.department,
            unit_id=lead.unit_id,
            assignment_id=lead.id,
        )

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
