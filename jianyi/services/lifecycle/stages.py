"""The stage map: the seven stages of a suggestion (七步法), read top to bottom.

Each stage says which steps it opens, what each answer leads to, and where the stage ends. The
table ``SPECS`` at the end names, for every kind of step, its label, its typed input, who owes it
and the handler below that applies it. ``engine.advance`` only locks the case, calls the handlers
of the submitted steps, then ``settle``, and finds the next wait; nothing else moves a case.

1. triage (梳理研判)          office: classify; a complaint, out-of-scope item or duplicate ends here
2. referral (转办摘报)        important items: pre-report → leader's instruction; then refer to units
3. research (调研论证)        lead unit's opinion, co-units' opinions; objection, extension, hearing
4. coordination (协调督办)    office reviews: accept → 5, return → 3, joint meeting → review again
5. feedback (沟通反馈)        reply → rating → (not satisfied) review: re-handle → 3, or close
6. implementation (落实转化)  adopted: progress until implemented → post-adoption communication
7. commendation (表彰奖励)    the year's selection: commended or implemented; closed
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from jianyi.models import StageEntry, Step, Suggestion
from jianyi.models.assignment import Assignment
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
    CommendationResultInput,
    CoOpinionInput,
    DissatisfactionReviewInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
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
    SupervisionOrderInput,
    TriageInput,
)
from jianyi.rules.schema_comms import CommunicationEvent
from jianyi.services import audit, communications, deadlines, step_checks
from jianyi.services.actors import FLOW
from jianyi.services.lifecycle import records
from jianyi.services.lifecycle.case import Case
from jianyi.services.lifecycle.specs import StepSpec, step_key
from jianyi.services.network import get_unit_by_code


def open_step(
    case: Case,
    kind: StepKind,
    *,
    assignment: Assignment | None = None,
    round: int | None = None,
    alt_unit_id: int | None = None,
) -> Step:
    """Open a step of this kind as its spec says: the office's steps are the handling office's, a
    unit's steps belong to its assignment, the rating is the proposer's."""
    spec = SPECS[kind]
    if spec.owed_by is Role.office:
        unit_id: int | None = case.suggestion.office_unit_id
    elif spec.owed_by is Role.department:
        assert assignment is not None, f"a {kind.value} step is owed by an assigned unit"
        unit_id = assignment.unit_id
    else:
        unit_id = None
    assignment_id = assignment.id if assignment is not None else None
    return case.open_step(
        kind,
        key=step_key(kind, assignment_id=assignment_id, round=round),
        role=spec.owed_by,
        unit_id=unit_id,
        iteration=round or 1,
        alt_unit_id=alt_unit_id,
        assignment_id=assignment_id,
        optional=spec.optional,
    )


def _unit_id(case: Case, code: str) -> int:
    return get_unit_by_code(case.session, code=code).id


def _co_ids(case: Case, codes: list[str]) -> list[int]:
    return [_unit_id(case, code) for code in codes]


def _assignment_of(case: Case, step: Step) -> Assignment | None:
    return next((a for a in case.assignments() if a.id == step.assignment_id), None)


def _cause(step: Step) -> str:
    return f"step:{step.id}"


# --- 1. triage 梳理研判 ----------------------------------------------------------------------------


def begin(case: Case) -> None:
    """A new suggestion: the office triages it. Intake calls this (``engine.begin``) in its own
    transaction, so the triage clock starts at receipt; opening by key makes a second call a no-op."""
    case.enter_stage(Stage.triage)
    open_step(case, StepKind.triage)


def triage(case: Case, step: Step, data: TriageInput) -> None:
    s = case.suggestion
    s.kind, s.category, s.level, s.triage_note = data.kind, data.category, data.level, data.note
    case.communicate(CommunicationEvent.triaged, cause=_cause(step))
    if data.kind is SuggestionKind.complaint:
        case.close(Outcome.redirected, reason=data.note)
    elif data.kind is SuggestionKind.out_of_scope:
        case.close(Outcome.out_of_scope, reason=data.reason_code)
    elif data.kind is SuggestionKind.duplicate:
        original = case.session.scalar(
            select(Suggestion).where(Suggestion.tracking_code == data.duplicate_of)
        )
        assert original is not None  # checked on submission
        s.duplicate_of_id = original.duplicate_of_id or original.id
        case.close(Outcome.merged, reason=data.duplicate_of)
    else:
        assert data.lead_unit is not None  # checked by the input model
        if data.level is Level.important:
            # Refined with the proposer before it goes into the digest (事前沟通): stage 2.
            s.lead_unit_id = _unit_id(case, data.lead_unit)
            case.enter_stage(Stage.referral)
            open_step(case, StepKind.pre_report_communication)
        else:
            refer(case, lead_unit_id=_unit_id(case, data.lead_unit), co_unit_ids=_co_ids(case, data.co_units))


# --- 2. referral and digest 转办摘报 ----------------------------------------------------------------


def pre_report_communication(case: Case, step: Step, data: PreReportCommunicationInput) -> None:
    records.contact(
        case, step, CommunicationKind.pre_report, data.method, f"{data.participants}: {data.refined}"
    )
    # The item waits for the next digest of important suggestions and the leader's instruction.
    open_step(case, StepKind.leader_instruction)


def leader_instruction(case: Case, step: Step, data: LeaderInstructionInput) -> None:
    records.leader_instruction(case, step, data)
    _after_instruction(case, step, data)


def leader_instruction_lapsed(case: Case, step: Step) -> None:
    """Not instructed within the rules' window (``on_expiry: lapse``): it goes on as "no instruction"."""
    data = LeaderInstructionInput(has_instruction=False)
    records.leader_instruction(case, step, data)
    _after_instruction(case, step, data)


def _after_instruction(case: Case, step: Step, data: LeaderInstructionInput) -> None:
    case.suggestion.instructed = data.has_instruction
    if data.has_instruction:
        case.communicate(CommunicationEvent.leader_instructed, cause=_cause(step))
    triage_input = TriageInput.model_validate(case.steps(StepKind.triage)[-1].input)
    refer(case, lead_unit_id=case.suggestion.lead_unit_id, co_unit_ids=_co_ids(case, triage_input.co_units))


def refer(
    case: Case, *, lead_unit_id: int | None, co_unit_ids: list[int], reroute: Step | None = None
) -> None:
    """Refer to the lead unit (if given) and every co-handling unit not yet assigned; research begins.

    The lead unit owes its opinion, may object (5 WD) or ask for an extension once, and, after a
    leader's instruction, hears the proposer (事中沟通). A co-unit owes its opinion and may object.
    A re-routing (``reroute``: the office's decision) refers within research: the referral stage is
    not entered again, so what entering it plans (the 事前沟通 of an important item) is not planned twice."""
    if reroute is None:
        case.enter_stage(Stage.referral)
    active_units = {a.unit_id for a in case.assignments()}
    if lead_unit_id is not None:
        case.suggestion.lead_unit_id = lead_unit_id
        lead = case.assign(lead_unit_id, AssignmentRole.lead)
        open_step(case, StepKind.opinion, assignment=lead, round=1)
        open_step(case, StepKind.objection, assignment=lead)
        open_step(case, StepKind.extension_request, assignment=lead)
        if case.suggestion.instructed:
            open_step(case, StepKind.proposer_hearing, assignment=lead)
    for unit_id in co_unit_ids:
        if unit_id in active_units or unit_id == lead_unit_id:
            continue
        co = case.assign(unit_id, AssignmentRole.co)
        open_step(case, StepKind.co_opinion, assignment=co)
        open_step(case, StepKind.objection, assignment=co)
    if reroute is not None:
        case.communicate(CommunicationEvent.referred, cause=_cause(reroute))
        return
    referrals = case.session.scalar(
        select(func.count())
        .select_from(StageEntry)
        .where(StageEntry.suggestion_id == case.id, StageEntry.stage == Stage.referral)
    )
    case.communicate(CommunicationEvent.referred, cause=f"referral:{referrals}")
    case.enter_stage(Stage.research)


def objection(case: Case, step: Step, data: ObjectionInput) -> None:
    """ "Not our responsibility": the office decides whether to re-route."""
    objected = _assignment_of(case, step)
    open_step(case, StepKind.reroute, assignment=objected)


def reroute(case: Case, step: Step, data: RerouteInput) -> None:
    objected = _assignment_of(case, step)
    if not data.accept_objection or objected is None:
        return  # the routing stands; the unit goes on (its one objection is spent)
    was_lead = objected.role is AssignmentRole.lead
    if was_lead and not data.lead_unit:
        # Refused at submission (step_checks.reroute); one stored before that leaves the routing as
        # it stands rather than withdraw the lead and wait on nobody.
        return
    case.withdraw(objected, reason="objection accepted")
    new_lead = _unit_id(case, data.lead_unit) if (was_lead and data.lead_unit) else None
    refer(case, lead_unit_id=new_lead, co_unit_ids=_co_ids(case, data.co_units or []), reroute=step)


def proposer_hearing(case: Case, step: Step, data: ProposerHearingInput) -> None:
    records.contact(case, step, CommunicationKind.in_progress, data.method, data.summary)


# --- 3. research 调研论证 ---------------------------------------------------------------------------


def co_opinion(case: Case, step: Step, data: CoOpinionInput) -> None:
    records.opinion(case, step, data)


def opinion(case: Case, step: Step, data: OpinionInput) -> None:
    records.opinion(case, step, data)
    case.suggestion.decision = data.decision


def extension_request(case: Case, step: Step, data: ExtensionRequestInput) -> None:
    open_step(case, StepKind.extension_decision, assignment=_assignment_of(case, step))


def extension_decision(case: Case, step: Step, data: ExtensionDecisionInput) -> None:
    """Approved: the lead's opinion clock moves by the working days granted (or asked)."""
    lead = _assignment_of(case, step)
    request = case.latest(StepKind.extension_request, assignment_id=step.assignment_id)
    if not data.approved or lead is None or request is None:
        return
    granted = data.working_days or ExtensionRequestInput.model_validate(request.input).working_days
    pending = case.latest(StepKind.opinion, assignment_id=lead.id)
    if pending is not None and pending.state is StepState.open:
        # Checked against the rules' extension limits when the request and the decision were given.
        lead.extension_days += granted
        deadlines.extend(case.session, step=pending, working_days=granted)
        audit.record(
            case.session,
            actor=FLOW,
            action=deadlines.EXTENDED,
            suggestion_id=case.id,
            step_id=pending.id,
            detail={"working_days": granted, "decision_step_id": step.id, "at": case.now.isoformat()},
        )


def settle(case: Case) -> None:
    """Research ends when every unit has answered: the office reviews (stage 4)."""
    if case.suggestion.outcome is None and case.suggestion.stage is Stage.research and _research_done(case):
        case.cancel(
            case.steps(StepKind.objection, StepKind.extension_request, states=[StepState.open]),
            reason="research complete",
        )
        case.enter_stage(Stage.coordination)
        _open_review(case)


def _research_done(case: Case) -> bool:
    lead = case.lead_assignment()
    if lead is None:
        return False  # re-routing after an objection is still pending
    if case.open_steps(StepKind.reroute, StepKind.extension_decision, StepKind.opinion, StepKind.co_opinion):
        return False
    answered = [case.latest(StepKind.opinion, assignment_id=lead.id)]
    answered += [
        case.latest(StepKind.co_opinion, assignment_id=co.id) for co in case.assignments(AssignmentRole.co)
    ]
    if case.suggestion.instructed:
        answered.append(case.latest(StepKind.proposer_hearing, assignment_id=lead.id))
    return all(s is not None and s.state is StepState.completed for s in answered)


def _back_to_research(case: Case) -> None:
    """Rework or re-handling: the lead unit answers again, in a new round of its opinion."""
    lead = case.lead_assignment()
    assert lead is not None
    previous = case.latest(StepKind.opinion, assignment_id=lead.id)
    case.enter_stage(Stage.research)
    open_step(case, StepKind.opinion, assignment=lead, round=(previous.iteration if previous else 0) + 1)


# --- 4. coordination and supervision 协调督办 -------------------------------------------------------


def _open_review(case: Case) -> None:
    open_step(case, StepKind.review, round=len(case.steps(StepKind.review)) + 1)


def review(case: Case, step: Step, data: ReviewInput) -> None:
    if data.action == "accept":
        # The opinion stands: the office replies to the proposer (stage 5), or the lead unit does.
        case.communicate(CommunicationEvent.opinion_accepted, cause=_cause(step))
        case.enter_stage(Stage.feedback)
        lead = case.lead_assignment()
        open_step(
            case,
            StepKind.reply,
            round=len(case.steps(StepKind.reply)) + 1,
            alt_unit_id=lead.unit_id if lead is not None else None,
        )
    elif data.action == "return":
        case.suggestion.rework_count += 1
        _back_to_research(case)
    else:
        # A joint meeting (联席会议) is recorded; the office then reviews again with its conclusions.
        _open_review(case)


def supervision_order(case: Case, step: Step, data: SupervisionOrderInput) -> None:
    """A late unit answered a supervision order (督办单, opened by the rules' sweep): kept on record."""


# --- 5. communication and feedback 沟通反馈 ---------------------------------------------------------


def reply(case: Case, step: Step, data: ReplyInput) -> None:
    if case.suggestion.first_replied_at is None:
        case.suggestion.first_replied_at = step.submitted_at
    records.contact(case, step, CommunicationKind.reply, data.method, data.text)
    communications.on_event(
        case.session,
        case.suggestion,
        CommunicationEvent.reply_sent,
        now=case.now,
        cause=_cause(step),
        values={"reply_text": data.text},
        reply_method=data.method.value,
    )
    open_step(case, StepKind.rating, round=step.iteration)


def rating(case: Case, step: Step, data: RatingInput) -> None:
    case.suggestion.rating, case.suggestion.rating_comment = data.rating, data.comment
    case.communicate(CommunicationEvent.rating_received, cause=_cause(step))
    if data.rating == "not_satisfied":
        open_step(case, StepKind.dissatisfaction_review, round=step.iteration)
    else:
        _after_feedback(case)


def rating_lapsed(case: Case, step: Step) -> None:
    """No rating within the rules' window counts as no rating."""
    case.suggestion.rating, case.suggestion.rating_comment = "none", None
    case.communicate(CommunicationEvent.rating_lapsed, cause=_cause(step))
    _after_feedback(case)


def dissatisfaction_review(case: Case, step: Step, data: DissatisfactionReviewInput) -> None:
    if data.action == "rehandle":
        case.suggestion.rehandle_count += 1
        _back_to_research(case)
    else:
        _after_feedback(case, reason=data.reasons)


def _after_feedback(case: Case, *, reason: str | None = None) -> None:
    decision = case.suggestion.decision
    if decision in (Decision.adopt, Decision.partly_adopt):
        case.enter_stage(Stage.implementation)
        _open_progress(case, round=1)
    elif decision is Decision.keep_for_reference:
        case.close(Outcome.kept_for_reference, reason=reason)
    else:
        case.close(Outcome.not_adopted, reason=reason)


# --- 6. implementation 落实转化 --------------------------------------------------------------------


def _open_progress(case: Case, *, round: int) -> None:
    open_step(case, StepKind.progress, assignment=case.lead_assignment(), round=round)


def progress(case: Case, step: Step, data: ProgressInput) -> None:
    records.progress(case, step, data)
    if data.implemented:
        case.communicate(CommunicationEvent.implemented, cause=_cause(step))
        open_step(case, StepKind.post_adoption_communication)
    else:
        _open_progress(case, round=step.iteration + 1)


def post_adoption_communication(case: Case, step: Step, data: PostAdoptionCommunicationInput) -> None:
    records.contact(case, step, CommunicationKind.post_adoption, data.method, data.summary)
    # Implemented suggestions are nominated to the year's selection (stage 7).
    case.enter_stage(Stage.commendation)
    open_step(case, StepKind.commendation_result)


# --- 7. commendation 表彰奖励 ----------------------------------------------------------------------


def commendation_result(case: Case, step: Step, data: CommendationResultInput) -> None:
    if data.selected:
        tier = f"{data.year}年度优秀人民建议" + (f"（{data.tier}）" if data.tier else "")
        case.communicate(CommunicationEvent.commended, cause=_cause(step), commendation=tier)
        case.close(Outcome.commended, reason=tier)
    else:
        case.close(Outcome.implemented, reason=None)


# --- every kind of step -----------------------------------------------------------------------------

K, office, unit, proposer = StepKind, Role.office, Role.department, Role.proposer
SPECS: dict[StepKind, StepSpec[Any]] = {
    K.triage: StepSpec("梳理研判", TriageInput, office, triage, check=step_checks.triage),
    K.pre_report_communication: StepSpec(
        "事前沟通", PreReportCommunicationInput, office, pre_report_communication
    ),
    K.leader_instruction: StepSpec(
        "领导批示", LeaderInstructionInput, office, leader_instruction, on_lapse=leader_instruction_lapsed
    ),
    K.objection: StepSpec("退回异议", ObjectionInput, unit, objection, optional=True),
    K.reroute: StepSpec("重新交办", RerouteInput, office, reroute, check=step_checks.reroute),
    K.proposer_hearing: StepSpec("事中沟通", ProposerHearingInput, unit, proposer_hearing),
    K.co_opinion: StepSpec("协办意见", CoOpinionInput, unit, co_opinion),
    K.opinion: StepSpec("办理意见", OpinionInput, unit, opinion),
    K.extension_request: StepSpec(
        "延期申请",
        ExtensionRequestInput,
        unit,
        extension_request,
        check=step_checks.extension_request,
        optional=True,
    ),
    K.extension_decision: StepSpec(
        "延期审批", ExtensionDecisionInput, office, extension_decision, check=step_checks.extension_decision
    ),
    K.review: StepSpec("审核办理意见", ReviewInput, office, review, check=step_checks.review),
    K.supervision_order: StepSpec("督办单", SupervisionOrderInput, unit, supervision_order),
    K.reply: StepSpec("答复建议人", ReplyInput, office, reply, check=step_checks.reply),
    K.rating: StepSpec(
        "满意度评价", RatingInput, proposer, rating, on_lapse=rating_lapsed, office_may_lapse=True
    ),
    K.dissatisfaction_review: StepSpec(
        "不满意复核", DissatisfactionReviewInput, office, dissatisfaction_review, check=step_checks.rehandling
    ),
    K.progress: StepSpec("落实进展", ProgressInput, unit, progress),
    K.post_adoption_communication: StepSpec(
        "事后沟通", PostAdoptionCommunicationInput, office, post_adoption_communication
    ),
    K.commendation_result: StepSpec("表彰评选结果", CommendationResultInput, office, commendation_result),
}
del K, office, unit, proposer


def spec_of(kind: StepKind) -> StepSpec[Any]:
    return SPECS[kind]
