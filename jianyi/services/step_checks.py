"""Checks of a step's input that need the database: do the named units and suggestions exist, is a
re-handling still allowed. Run at submission, so a wrong value is refused with its field named and
the flow never meets it. ``stages.SPECS`` names the check of each step kind."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Step, Suggestion, Unit
from jianyi.models.enums import UnitKind
from jianyi.models.step_inputs import DissatisfactionReviewInput, RerouteInput, ReviewInput, TriageInput
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


def triage(session: Session, step: Step, data: TriageInput) -> list[FieldError]:
    errors = _units(session, "lead_unit", [data.lead_unit]) + _units(session, "co_units", data.co_units)
    if data.duplicate_of is not None:
        original = session.scalar(select(Suggestion).where(Suggestion.tracking_code == data.duplicate_of))
        if original is None:
            errors.append({"field": "duplicate_of", "message": f"no suggestion {data.duplicate_of!r}"})
        elif original.id == step.suggestion_id:
            errors.append({"field": "duplicate_of", "message": "a suggestion cannot duplicate itself"})
    return errors


def reroute(session: Session, step: Step, data: RerouteInput) -> list[FieldError]:
    return _units(session, "lead_unit", [data.lead_unit]) + _units(session, "co_units", data.co_units or [])


def review(session: Session, step: Step, data: ReviewInput) -> list[FieldError]:
    if data.joint_meeting is None:
        return []
    return _units(session, "joint_meeting.units", data.joint_meeting.units)


def rehandling(session: Session, step: Step, data: DissatisfactionReviewInput) -> list[FieldError]:
    suggestion = session.get(Suggestion, step.suggestion_id)
    if data.action == "rehandle" and suggestion is not None and suggestion.rehandle_count >= 1:
        return [
            {
                "field": "action",
                "message": "this suggestion was already re-handled once; close it with reasons",
            }
        ]
    return []
