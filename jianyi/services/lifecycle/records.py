"""What a step's answer leaves on record beside the case: opinions, leaders' instructions,
implementation progress and the contacts held with the proposer. The stage map (``stages.py``)
calls these; the figures and the pages read them."""

from __future__ import annotations

from jianyi.models import ImplementationProgress, LeaderInstruction, Opinion, Step
from jianyi.models.enums import CommunicationKind, ContactMethod
from jianyi.models.step_inputs import CoOpinionInput, LeaderInstructionInput, OpinionInput, ProgressInput
from jianyi.services import communications
from jianyi.services.lifecycle.case import Case


def leader_instruction(case: Case, step: Step, data: LeaderInstructionInput) -> None:
    case.session.add(
        LeaderInstruction(
            suggestion_id=case.id,
            step_id=step.id,
            leader=data.leader,
            instructed_on=data.instructed_on,
            text=data.text,
            has_instruction=data.has_instruction,
            recorded_at=case.now,
        )
    )


def opinion(case: Case, step: Step, data: OpinionInput | CoOpinionInput) -> None:
    """The lead unit's opinion (with its decision), or a co-handling unit's."""
    assert step.unit_id is not None
    row = Opinion(
        suggestion_id=case.id,
        unit_id=step.unit_id,
        step_id=step.id,
        measures=data.measures,
        created_at=case.now,
    )
    if isinstance(data, OpinionInput):
        row.is_lead, row.decision, row.reasons = True, data.decision, data.reasons
        row.planned_completion, row.consultation = data.planned_completion, data.consultation
    else:
        row.is_lead, row.reasons = False, data.opinion
    case.session.add(row)


def progress(case: Case, step: Step, data: ProgressInput) -> None:
    assert step.unit_id is not None
    case.session.add(
        ImplementationProgress(
            suggestion_id=case.id,
            unit_id=step.unit_id,
            step_id=step.id,
            percent=data.percent,
            milestone=data.milestone,
            form=data.form,
            evidence=data.evidence,
            implemented=data.implemented,
            reported_at=case.now,
        )
    )


def contact(case: Case, step: Step, kind: CommunicationKind, method: ContactMethod, summary: str) -> None:
    """Record a contact the step's unit held with the proposer; it settles that awaited communication."""
    communications.record(
        case.session,
        suggestion=case.suggestion,
        kind=kind,
        method=method,
        summary=summary,
        at=case.now,
        by_user_id=step.completed_by_id,
        step_id=step.id,
    )
