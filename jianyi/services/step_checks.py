"""Checks of a step's input that need the database: do the named units and suggestions exist, is a
re-handling still allowed. Run at submission, so a wrong value is refused with its field named and
the flow never meets it. ``stages.SPECS`` names the check of each step kind."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Assignment, Proposer, Step, Suggestion, Unit
from jianyi.models.enums import AssignmentRole, AssignmentState, ContactMethod, StepKind, StepState, UnitKind
from jianyi.models.step_inputs import (
    DissatisfactionReviewInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    ReplyInput,
    RerouteInput,
    ReviewInput,
    TriageInput,
)
from jianyi.rules.lookup import extension_for
from jianyi.services import deadlines
from jianyi.services.lifecycle.specs import FieldError

HANDLING_KINDS = (
    UnitKind.city_department,
    UnitKind.district_office,
    UnitKind.subdistrict,
    UnitKind.city_office,
)


def _units(session: Session, field: str, codes: Iterable[str | None]) -> list[FieldError]:
    errors: list[FieldError] = []
    for code in codes:
        if code is None:
            continue
        unit = session.scalar(select(Unit).where(Unit.code == code, Unit.active.is_(True)))
        if unit is None:
            errors.append({"field": field, "message": f"no active unit with code {code!r}"})
        elif unit.kind not in HANDLING_KINDS:
            errors.append({"field": field, "message": f"{unit.name} ({code}) does not handle suggestions"})
    return errors


def triage(session: Session, step: Step, data: TriageInput, now: datetime) -> list[FieldError]:
    errors = _units(session, "lead_unit", [data.lead_unit]) + _units(session, "co_units", data.co_units)
    if data.duplicate_of is not None:
        errors += _original(session, step, data.duplicate_of)
    return errors


def _original(session: Session, step: Step, code: str) -> list[FieldError]:
    """A duplicate is handled with its original: one still open, of the same office (its proposer
    then hears the original's reply and outcome). A duplicate of a duplicate joins the first one."""
    original = session.scalar(select(Suggestion).where(Suggestion.tracking_code == code))
    if original is not None and original.duplicate_of_id is not None:
        original = session.get(Suggestion, original.duplicate_of_id)
    this = session.get(Suggestion, step.suggestion_id)
    if original is None:
        message = f"no suggestion {code!r}"
    elif this is None or original.id == this.id:
        message = "a suggestion cannot duplicate itself"
    elif original.outcome is not None:
        message = f"{original.tracking_code} is closed ({original.outcome.value}): handle this one on its own"
    elif original.office_unit_id != this.office_unit_id:
        message = f"{original.tracking_code} is handled by another office: handle this one on its own"
    else:
        return []
    return [{"field": "duplicate_of", "message": message}]


def reroute(session: Session, step: Step, data: RerouteInput, now: datetime) -> list[FieldError]:
    errors = _units(session, "lead_unit", [data.lead_unit]) + _units(session, "co_units", data.co_units or [])
    objected = session.get(Assignment, step.assignment_id) if step.assignment_id is not None else None
    if data.accept_objection and objected is not None and objected.role is AssignmentRole.lead:
        # The lead unit withdrawn, another must lead: the case cannot wait on nobody.
        if not data.lead_unit:
            errors.append(
                {"field": "lead_unit", "message": "the lead unit's objection accepted: name the new lead"}
            )
        elif data.lead_unit in (data.co_units or []) or data.lead_unit in _active_co_units(session, step):
            errors.append({"field": "lead_unit", "message": "the new lead unit is a co-handling unit"})
    return errors


def _active_co_units(session: Session, step: Step) -> set[str]:
    return set(
        session.scalars(
            select(Unit.code)
            .join(Assignment, Assignment.unit_id == Unit.id)
            .where(
                Assignment.suggestion_id == step.suggestion_id,
                Assignment.role == AssignmentRole.co,
                Assignment.state == AssignmentState.active,
            )
        )
    )


def _extension_target(session: Session, step: Step) -> Step | None:
    """The open step an extension request or decision is about: the lead unit's opinion."""
    return session.scalar(
        select(Step)
        .where(
            Step.suggestion_id == step.suggestion_id,
            Step.assignment_id == step.assignment_id,
            Step.kind == StepKind.opinion,
            Step.state == StepState.open,
        )
        .order_by(Step.iteration.desc(), Step.id.desc())
        .limit(1)
    )


def _extension_limit(session: Session, step: Step, field: str, days: int, now: datetime) -> list[FieldError]:
    """What the rules' ``extensions`` say: which steps, how many working days, how often, and that a
    unit asks before its deadline."""
    target = _extension_target(session, step)
    if target is None:
        return [{"field": field, "message": "no open opinion to extend"}]
    rule = extension_for(deadlines.current_rules(), step_kind=target.kind)
    if rule is None:
        return [{"field": field, "message": f"the rules allow no extension of a {target.kind.value}"}]
    if days > rule.max_working_days:
        return [
            {
                "field": field,
                "message": f"at most {rule.max_working_days} working days (extension rule {rule.id})",
            }
        ]
    if deadlines.extensions_granted(session, step_id=target.id) >= rule.max_count:
        return [{"field": field, "message": f"already extended {rule.max_count} time(s) (rule {rule.id})"}]
    if step.kind is StepKind.extension_request and target.due_at is not None and now > target.due_at:
        return [
            {
                "field": field,
                "message": f"the opinion was due {target.due_at:%Y-%m-%d %H:%M} UTC: ask before it",
            }
        ]
    return []


def extension_request(
    session: Session, step: Step, data: ExtensionRequestInput, now: datetime
) -> list[FieldError]:
    return _extension_limit(session, step, "working_days", data.working_days, now)


def extension_decision(
    session: Session, step: Step, data: ExtensionDecisionInput, now: datetime
) -> list[FieldError]:
    if not data.approved:
        return []
    request = session.scalar(
        select(Step)
        .where(
            Step.suggestion_id == step.suggestion_id,
            Step.assignment_id == step.assignment_id,
            Step.kind == StepKind.extension_request,
            Step.state == StepState.completed,
        )
        .order_by(Step.id.desc())
        .limit(1)
    )
    asked = (
        ExtensionRequestInput.model_validate(request.input).working_days
        if request and request.input
        else None
    )
    granted = data.working_days or asked or 0
    if asked is not None and granted > asked:
        return [
            {
                "field": "working_days",
                "message": f"the unit asked for {asked} working days: grant at most that",
            }
        ]
    return _extension_limit(session, step, "working_days", granted, now)


def review(session: Session, step: Step, data: ReviewInput, now: datetime) -> list[FieldError]:
    if data.joint_meeting is None:
        return []
    return _units(session, "joint_meeting.units", data.joint_meeting.units)


def rehandling(
    session: Session, step: Step, data: DissatisfactionReviewInput, now: datetime
) -> list[FieldError]:
    suggestion = session.get(Suggestion, step.suggestion_id)
    if data.action == "rehandle" and suggestion is not None and suggestion.rehandle_count >= 1:
        return [
            {
                "field": "action",
                "message": "this suggestion was already re-handled once; close it with reasons",
            }
        ]
    return []


def reply(session: Session, step: Step, data: ReplyInput, now: datetime) -> list[FieldError]:
    """A reply by e-mail or SMS reaches the proposer only through an address or a mobile they gave."""
    suggestion = session.get(Suggestion, step.suggestion_id)
    proposer = session.get(Proposer, suggestion.proposer_id) if suggestion is not None else None
    if proposer is None:
        return []
    if data.method is ContactMethod.email and not proposer.email:
        return [{"field": "method", "message": "the proposer gave no e-mail address: reply by another way"}]
    if data.method is ContactMethod.sms and not proposer.mobile:
        return [{"field": "method", "message": "the proposer gave no mobile number: reply by another way"}]
    return []
