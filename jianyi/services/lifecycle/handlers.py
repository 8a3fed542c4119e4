"""What each completed human step does to its case (LIFECYCLE.md, stages 1–7).

One handler per step kind. Inputs were validated (shape and meaning) when the step was submitted,
so a handler only applies them. Handlers open the next steps; ``engine.settle`` moves stages on
when a set of parallel steps is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from jianyi.models import (
    ImplementationProgress,
    LeaderInstruction,
    Opinion,
    Step,
    Suggestion,
)
from jianyi.models.enums import (
    AssignmentRole,
    CommunicationKind,
    Decision,
    Level,
    Outcome,
    Role,
    Stage,
    StepKind,
    StepState,
    SuggestionKind,
)
from jianyi.models.step_inputs import (
    STEP_INPUTS,
    CommendationResultInput,
    CoOpinionInput,
    DissatisfactionReviewInput,
    ExtensionDecisionInput,
    LeaderInstructionInput,
    ObjectionInput,
    OpinionInput,
    PostAdoptionCommunicationInput,
    PreReportCommunicationInput,
    ProgressInput,
    ProposerHearingInput,
    RatingInput,
    ReplyInput,
    RerouteInput,
    ReviewInput,
    StepInput,
    TriageInput,
)
from jianyi.rules.schema_comms import CommunicationEvent
from jianyi.services import communications, deadlines
from jianyi.services.lifecycle.case import Case
from jianyi.services.network import get_unit_by_code

Handler = Callable[[Case, Step, Any], None]


def parse(step: Step) -> StepInput:
    return STEP_INPUTS[step.kind].model_validate(step.input or {})


def _unit_id(case: Case, code: str) -> int:
    return get_unit_by_code(case.session, code=code).id


def _log(case: Case, step: Step, kind: CommunicationKind, method: Any, summary: str) -> None:
    """A contact the step's unit held and reported: it settles that kind's awaited communication."""
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


def _cause(step: Step) -> str:
    return f"step:{step.id}"


# --- 1. triage ---------------------------------------------------------------------------------


def triage(case: Case, step: Step, data: TriageInput) -> None:
    s = case.suggestion
    s.kind, s.category, s.level, s.triage_note = data.kind, data.category, data.level, data.note
    case.communicate(CommunicationEvent.triaged, cause=_cause(step))
    if data.kind is SuggestionKind.complaint:
        case.close(Outcome.redirected, reason=data.note)
    elif data.kind is SuggestionKind.out_of_scope:
        case.close(Outcome.out_of_scope, reason=data.reason_code)
    elif data.kind is SuggestionKind.duplicate:
        assert data.duplicate_of is not None  # checked by the input model
        original = case.session.scalar(
            select(Suggestion).where(Suggestion.tracking_code == data.duplicate_of)
        )
        assert original is not None  # checked on submission
        s.duplicate_of_id = original.duplicate_of_id or original.id
        case.close(Outcome.merged, reason=data.duplicate_of)
    elif data.level is Level.important:
        # Important items are refined with the proposer before they go into the digest (事前沟通).
        assert data.lead_unit is not None
        s.lead_unit_id = _unit_id(case, data.lead_unit)
        case.enter_stage(Stage.referral)
        case.open_office_step(StepKind.pre_report_communication, key="pre_report_communication")
    else:
        assert data.lead_unit is not None
        case.refer(lead_unit_id=_unit_id(case, data.lead_unit), co_unit_ids=_co_ids(case, data.co_units))


def _co_ids(case: Case, codes: list[str]) -> list[int]:
    return [_unit_id(case, code) for code in codes]


# --- 2. referral and digest ----------------------------------------------------------------------


def pre_report_communication(case: Case, step: Step, data: PreReportCommunicationInput) -> None:
    _log(case, step, CommunicationKind.pre_report, data.method, f"{data.participants}: {data.refined}")
    # The item now waits for the next digest of important suggestions and the leader's instruction.
    case.open_office_step(StepKind.leader_instruction, key="leader_instruction")


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
    case.suggestion.instructed = data.has_instruction
    if data.has_instruction:
        case.communicate(CommunicationEvent.leader_instructed, cause=_cause(step))
    triage_input = parse(case.steps(StepKind.triage)[-1])
    assert isinstance(triage_input, TriageInput)
    case.refer(lead_unit_id=case.suggestion.lead_unit_id, co_unit_ids=_co_ids(case, triage_input.co_units))


def objection(case: Case, step: Step, data: ObjectionInput) -> None:
    case.open_office_step(
        StepKind.reroute, key=f"reroute:a{step.assignment_id}", assignment_id=step.assignment_id
    )


def reroute(case: Case, step: Step, data: RerouteInput) -> None:
    objected = next((a for a in case.assignments() if a.id == step.assignment_id), None)
    if not data.accept_objection or objected is None:
        return  # the routing stands; the unit goes on (its one objection is spent)
    was_lead = objected.role is AssignmentRole.lead
    case.withdraw(objected, reason="objection accepted")
    new_lead = _unit_id(case, data.lead_unit) if (was_lead and data.lead_unit) else None
    case.refer(lead_unit_id=new_lead, co_unit_ids=_co_ids(case, data.co_units or []))


def proposer_hearing(case: Case, step: Step, data: ProposerHearingInput) -> None:
    _log(case, step, CommunicationKind.in_progress, data.method, data.summary)


# --- 3. research ---------------------------------------------------------------------------------


def co_opinion(case: Case, step: Step, data: CoOpinionInput) -> None:
    assert step.unit_id is not None
    case.session.add(
        Opinion(
            suggestion_id=case.id,
            unit_id=step.unit_id,
            step_id=step.id,
            is_lead=False,
            reasons=data.opinion,
            measures=data.measures,
            created_at=case.now,
        )
    )


def opinion(case: Case, step: Step, data: OpinionInput) -> None:
    assert step.unit_id is not None
    case.session.add(
        Opinion(
            suggestion_id=case.id,
            unit_id=step.unit_id,
            step_id=step.id,
            is_lead=True,
            decision=data.decision,
            reasons=data.reasons,
            measures=data.measures,
            planned_completion=data.planned_completion,
            consultation=data.consultation,
            created_at=case.now,
        )
    )
    case.suggestion.decision = data.decision


def extension_request(case: Case, step: Step, data: Any) -> None:
    case.open_office_step(
        StepKind.extension_decision,
        key=f"extension_decision:a{step.assignment_id}",
        assignment_id=step.assignment_id,
    )


def extension_decision(case: Case, step: Step, data: ExtensionDecisionInput) -> None:
    if not data.approved:
        return
    lead = next((a for a in case.assignments() if a.id == step.assignment_id), None)
    request = case.latest(StepKind.extension_request, assignment_id=step.assignment_id)
    if lead is None or request is None:
        return
    asked = int((request.input or {}).get("working_days", 0))
    granted = data.working_days or asked
    lead.extension_days += granted
    opinion = case.latest(StepKind.opinion, assignment_id=lead.id)
    if opinion is not None and opinion.state is StepState.open:
        deadlines.extend(case.session, step=opinion, working_days=granted)


# --- 4. coordination and supervision -------------------------------------------------------------


def review(case: Case, step: Step, data: ReviewInput) -> None:
    if data.action == "accept":
        case.communicate(CommunicationEvent.opinion_accepted, cause=_cause(step))
        case.enter_stage(Stage.feedback)
        lead = case.lead_assignment()
        # A re-handled suggestion is replied to again: each round's reply is a step of its own.
        round_ = len(case.steps(StepKind.reply)) + 1
        case.open_office_step(
            StepKind.reply,
            key=f"reply:{round_}",
            iteration=round_,
            alt_unit_id=lead.unit_id if lead is not None else None,
        )
    elif data.action == "return":
        case.suggestion.rework_count += 1
        _back_to_research(case)
    else:
        # A joint meeting (联席会议) is recorded; the office then reviews again with its conclusions.
        case.open_office_step(
            StepKind.review, key=f"review:{step.iteration + 1}", iteration=step.iteration + 1
        )


def _back_to_research(case: Case) -> None:
    lead = case.lead_assignment()
    assert lead is not None
    previous = case.latest(StepKind.opinion, assignment_id=lead.id)
    case.enter_stage(Stage.research)
    case.open_lead_opinion(lead, iteration=(previous.iteration if previous else 0) + 1)


# --- 5. communication and feedback ---------------------------------------------------------------


def reply(case: Case, step: Step, data: ReplyInput) -> None:
    _log(case, step, CommunicationKind.reply, data.method, data.text)
    communications.on_event(
        case.session,
        case.suggestion,
        CommunicationEvent.reply_sent,
        now=case.now,
        cause=_cause(step),
        values={"reply_text": data.text},
        reply_method=data.method.value,
    )
    case.open_step(
        StepKind.rating,
        key=f"rating:{step.iteration}",
        iteration=step.iteration,
        role=Role.proposer,
        unit_id=None,
    )


def rating(case: Case, step: Step, data: RatingInput | None) -> None:
    s = case.suggestion
    s.rating = data.rating if data is not None else "none"
    s.rating_comment = data.comment if data is not None else None
    received = CommunicationEvent.rating_lapsed if data is None else CommunicationEvent.rating_received
    case.communicate(received, cause=_cause(step))
    if data is not None and data.rating == "not_satisfied":
        case.open_office_step(
            StepKind.dissatisfaction_review,
            key=f"dissatisfaction_review:{step.iteration}",
            iteration=step.iteration,
        )
    else:
        after_feedback(case)


def dissatisfaction_review(case: Case, step: Step, data: DissatisfactionReviewInput) -> None:
    if data.action == "rehandle":
        case.suggestion.rehandle_count += 1
        _back_to_research(case)
    else:
        after_feedback(case, reason=data.reasons)


def after_feedback(case: Case, *, reason: str | None = None) -> None:
    decision = case.suggestion.decision
    if decision in (Decision.adopt, Decision.partly_adopt):
        case.enter_stage(Stage.implementation)
        _open_progress(case, iteration=1)
    elif decision is Decision.keep_for_reference:
        case.close(Outcome.kept_for_reference, reason=reason)
    else:
        case.close(Outcome.not_adopted, reason=reason)


# --- 6. implementation ---------------------------------------------------------------------------


def _open_progress(case: Case, *, iteration: int) -> None:
    lead = case.lead_assignment()
    assert lead is not None
    case.open_step(
        StepKind.progress,
        key=f"progress:{iteration}",
        iteration=iteration,
        role=Role.department,
        unit_id=lead.unit_id,
        assignment_id=lead.id,
    )


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
    if data.implemented:
        case.communicate(CommunicationEvent.implemented, cause=_cause(step))
        case.open_office_step(StepKind.post_adoption_communication, key="post_adoption_communication")
    else:
        _open_progress(case, iteration=step.iteration + 1)


def post_adoption_communication(case: Case, step: Step, data: PostAdoptionCommunicationInput) -> None:
    _log(case, step, CommunicationKind.post_adoption, data.method, data.summary)
    # Implemented suggestions are nominated to the year's selection (表彰奖励); the city office records the result.
    case.enter_stage(Stage.commendation)
    case.open_office_step(StepKind.commendation_result, key="commendation_result")


# --- 7. commendation -----------------------------------------------------------------------------


def commendation_result(case: Case, step: Step, data: CommendationResultInput) -> None:
    if data.selected:
        tier = f"{data.year}年度优秀人民建议" + (f"（{data.tier}）" if data.tier else "")
        case.communicate(CommunicationEvent.commended, cause=_cause(step), commendation=tier)
        case.close(Outcome.commended, reason=tier)
    else:
        case.close(Outcome.implemented, reason=None)


# --- supervision ----------------------------------------------------------------------------------


def supervision_order(case: Case, step: Step, data: Any) -> None:
    """The unit answered a supervision order: on record (step input and audit); the case goes on as it was."""


HANDLERS: dict[StepKind, Handler] = {
    StepKind.triage: triage,
    StepKind.pre_report_communication: pre_report_communication,
    StepKind.leader_instruction: leader_instruction,
    StepKind.objection: objection,
    StepKind.reroute: reroute,
    StepKind.proposer_hearing: proposer_hearing,
    StepKind.co_opinion: co_opinion,
    StepKind.opinion: opinion,
    StepKind.extension_request: extension_request,
    StepKind.extension_decision: extension_decision,
    StepKind.review: review,
    StepKind.reply: reply,
    StepKind.rating: rating,
    StepKind.dissatisfaction_review: dissatisfaction_review,
    StepKind.progress: progress,
    StepKind.post_adoption_communication: post_adoption_communication,
    StepKind.commendation_result: commendation_result,
    StepKind.supervision_order: supervision_order,
}
