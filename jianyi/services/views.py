"""Read models: what an official, a department and the public may see of a suggestion.

A department sees only what is referred to it, and stops seeing it when re-routed away; of a case it
sees the inputs of its own steps and the leader's instruction, never the office's triage note or
other units' answers. A proposer's identity and contact details are shown to the handling office,
and to the lead unit unless the proposer asked for confidentiality; the public tracking view
(``services/tracking.py``) carries no personal data and no internal notes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import Forbidden, NotFound
from jianyi.models import (
    Assignment,
    Communication,
    LeaderInstruction,
    Proposer,
    StageEntry,
    Step,
    Suggestion,
    Unit,
)
from jianyi.models.base import utcnow
from jianyi.models.enums import (
    OUTCOME_LABELS,
    STAGE_LABELS,
    AssignmentRole,
    AssignmentState,
    CommunicationKind,
    Role,
    StepKind,
    StepState,
    UnitKind,
)
from jianyi.models.schemas import StepView, SuggestionView, TimelineEntry
from jianyi.rules.lookup import route_rule
from jianyi.services import communication_duties, deadlines
from jianyi.services.actors import Actor
from jianyi.services.cycles.campaigns import routing_proposal
from jianyi.services.lifecycle.stages import spec_of

PUBLIC_COMMUNICATIONS = {
    CommunicationKind.acknowledgement: "已受理",
    CommunicationKind.reply: "已答复",
    CommunicationKind.post_adoption: "已反馈落实情况",
    CommunicationKind.outcome: "已告知办理结果",
}


def _code(session: Session, unit_id: int | None) -> str | None:
    """A unit's code, read once a unit of work (a code never changes; the identity map would drop it)."""
    if unit_id is None:
        return None
    codes: dict[int, str | None] = session.info.setdefault("unit_codes", {})
    if unit_id not in codes:
        codes[unit_id] = session.scalar(select(Unit.code).where(Unit.id == unit_id))
    return codes[unit_id]


def _referred_units(session: Session, suggestion_id: int) -> set[int]:
    """The units the suggestion is referred to; one re-routed away (withdrawn) no longer is."""
    return set(
        session.scalars(
            select(Assignment.unit_id).where(
                Assignment.suggestion_id == suggestion_id, Assignment.state != AssignmentState.withdrawn
            )
        )
    )


def _handles(actor: Actor, suggestion: Suggestion) -> bool:
    """The administrator, or the office (handler or supervisor) that handles the suggestion."""
    return actor.role is Role.admin or (
        actor.role in (Role.office, Role.supervisor) and actor.unit_id == suggestion.office_unit_id
    )


def can_view(session: Session, actor: Actor, suggestion: Suggestion) -> bool:
    if actor.role is Role.admin:
        return True
    if actor.role in (Role.office, Role.supervisor):
        unit = session.get(Unit, actor.unit_id) if actor.unit_id else None
        # The city office supervises the whole network; a district office its own items.
        return unit is not None and (
            unit.kind is UnitKind.city_office or unit.id == suggestion.office_unit_id
        )
    if actor.role is Role.leader:
        return suggestion.level is not None and suggestion.level.value == "important"
    if actor.role is Role.department:
        return actor.unit_id in _referred_units(session, suggestion.id)
    return False


def _sees_proposer(actor: Actor, suggestion: Suggestion, proposer: Proposer) -> bool:
    """The handling office; and the lead unit, which consults the proposer, unless they asked for
    confidentiality."""
    if _handles(actor, suggestion):
        return True
    if actor.role is Role.department and not proposer.confidential:
        return actor.unit_id is not None and actor.unit_id == suggestion.lead_unit_id
    return False


# Steps whose input records a contact with the proposer (who took part, what they said).
_ABOUT_THE_PROPOSER = frozenset(
    {
        StepKind.pre_report_communication,
        StepKind.proposer_hearing,
        StepKind.post_adoption_communication,
        StepKind.rating,
    }
)
# What is passed on to every unit the suggestion is referred to: the leader's instruction (批示).
_PASSED_ON = frozenset({StepKind.leader_instruction})


def sees_input(actor: Actor, step: Step, suggestion: Suggestion) -> bool:
    """Whose eyes a step's input is for: the handling office all of it; a unit its own steps' and the
    leader's instruction (not the triage note, not other units' answers); others viewing the case
    (the city office over a district's item, a leader) all but the contacts with the proposer."""
    if _handles(actor, suggestion):
        return True
    if actor.unit_id is not None and actor.unit_id in (step.unit_id, step.alt_unit_id):
        return True
    if actor.role is Role.department:
        return step.kind in _PASSED_ON
    return step.kind not in _ABOUT_THE_PROPOSER


def get_suggestion(session: Session, *, suggestion_id: int) -> Suggestion:
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(f"suggestion {suggestion_id} does not exist")
    return suggestion


def step_view(
    session: Session, step: Step, *, with_schema: bool = False, viewer: Actor | None = None
) -> StepView:
    """A step; with a ``viewer``, its input only if it is for their eyes (``sees_input``)."""
    suggestion = session.get(Suggestion, step.suggestion_id)
    assert suggestion is not None
    shown = viewer is None or sees_input(viewer, step, suggestion)
    return StepView(
        id=step.id,
        suggestion_id=step.suggestion_id,
        tracking_code=suggestion.tracking_code,
        title=suggestion.title,
        kind=step.kind,
        label=spec_of(step.kind).label,
        key=step.key,
        iteration=step.iteration,
        role=step.role,
        unit=_code(session, step.unit_id),
        alt_unit=_code(session, step.alt_unit_id),
        state=step.state,
        optional=step.optional,
        due_at=step.due_at,
        created_at=step.created_at,
        submitted_at=step.submitted_at,
        completed_by=step.completed_by_label,
        due_provisional=step.due_provisional,
        input=step.input if shown else None,
        input_schema=spec_of(step.kind).input.model_json_schema() if with_schema else None,
        proposal=_triage_proposal(session, suggestion)
        if with_schema and shown and step.kind is StepKind.triage
        else None,
        instruction=_instruction(session, suggestion) if step.role is Role.department else None,
    )


def _instruction(session: Session, suggestion: Suggestion) -> dict[str, Any] | None:
    """The leader's instruction (批示) passed on to the units handling the item: shown on their steps."""
    if not suggestion.instructed:
        return None
    row = session.scalar(
        select(LeaderInstruction)
        .where(LeaderInstruction.suggestion_id == suggestion.id, LeaderInstruction.has_instruction.is_(True))
        .order_by(LeaderInstruction.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return {"leader": row.leader, "instructed_on": row.instructed_on, "text": row.text}


def _triage_proposal(session: Session, suggestion: Suggestion) -> dict[str, Any] | None:
    """The routing table's proposal for the handler to confirm or change. An item answering a
    campaign: the campaign's own rows of the table, else its host units (the first leads); any
    other item: the table's first match."""
    office = session.get(Unit, suggestion.office_unit_id)
    district = office.code if office is not None and office.kind is UnitKind.district_office else None
    rules, text = deadlines.current_rules(), f"{suggestion.title}\n{suggestion.content}"
    if suggestion.campaign:
        proposal = routing_proposal(
            session, code=suggestion.campaign, category=suggestion.category, text=text, district=district
        )
        if proposal is not None:
            return proposal
    rule = route_rule(rules, category=suggestion.category, text=text, district=district)
    if rule is None:
        return None
    return {"kind": "suggestion", "lead_unit": rule.lead, "co_units": list(rule.co), "rule": rule.id}


def step_views(session: Session, found: list[Step]) -> list[StepView]:
    """Views of a list of steps, their suggestions and units read in one query each (not one a step)."""
    ids = {step.suggestion_id for step in found}
    units = {u for step in found for u in (step.unit_id, step.alt_unit_id) if u is not None}
    # Held here while the views are made: the session's identity map keeps only weak references.
    held = [
        *(session.scalars(select(Suggestion).where(Suggestion.id.in_(ids))) if ids else []),
        *(session.scalars(select(Unit).where(Unit.id.in_(units))) if units else []),
    ]
    views = [step_view(session, step) for step in found]
    del held
    return views


def view_step(session: Session, *, actor: Actor, step_id: int) -> StepView:
    step = session.get(Step, step_id)
    if step is None:
        raise NotFound(f"step {step_id} does not exist")
    suggestion = session.get(Suggestion, step.suggestion_id)
    assert suggestion is not None
    # A unit sees a step it owes now; once re-routed away, the case's past steps are no longer its.
    owes = (
        actor.unit_id is not None
        and actor.unit_id in (step.unit_id, step.alt_unit_id)
        and step.state in (StepState.open, StepState.submitted)
    )
    if not (owes or can_view(session, actor, suggestion)):
        raise Forbidden(f"step {step_id} is not referred to your unit")
    return step_view(session, step, with_schema=True, viewer=actor)


def _summaries_for(session: Session, actor: Actor, suggestion: Suggestion) -> set[int] | None:
    """Whose contacts with the proposer the actor reads what was said in: all (None) for the handling
    office; else only those logged by the actor's unit's own steps (e.g. the lead unit's hearing)."""
    if _handles(actor, suggestion):
        return None
    if actor.unit_id is None:
        return set()
    return set(
        session.scalars(
            select(Step.id).where(
                Step.suggestion_id == suggestion.id,
                (Step.unit_id == actor.unit_id) | (Step.alt_unit_id == actor.unit_id),
            )
        )
    )


def timeline(
    session: Session, suggestion: Suggestion, *, public: bool, own_steps: set[int] | None = None
) -> list[TimelineEntry]:
    """The case's path; a contact's summary only if it was logged by one of ``own_steps`` (None: all)."""
    entries = [
        TimelineEntry(at=e.entered_at, what=f"进入{STAGE_LABELS[e.stage]}", detail=e.stage.value)
        for e in session.scalars(select(StageEntry).where(StageEntry.suggestion_id == suggestion.id))
    ]
    told: set[tuple[str, str]] = set()
    for c in session.scalars(select(Communication).where(Communication.suggestion_id == suggestion.id)):
        if public:
            # One reply is logged by its step and again when its e-mail goes: the proposer sees it once.
            key = (c.kind.value, f"{c.at:%Y-%m-%d %H:%M}")
            if c.kind in PUBLIC_COMMUNICATIONS and key not in told:
                told.add(key)
                entries.append(TimelineEntry(at=c.at, what=PUBLIC_COMMUNICATIONS[c.kind]))
        else:
            entries.append(
                TimelineEntry(
                    at=c.at,
                    what=f"沟通 {c.kind.value} ({c.method.value})",
                    detail=c.summary if own_steps is None or c.step_id in own_steps else None,
                )
            )
    if not public:
        for s in session.scalars(
            select(Step).where(
                Step.suggestion_id == suggestion.id,
                Step.state.in_((StepState.completed, StepState.lapsed)),
            )
        ):
            assert s.applied_at is not None
            entries.append(
                TimelineEntry(
                    at=s.submitted_at or s.applied_at,
                    what=f"{spec_of(s.kind).label} ({s.kind.value}) {s.state.value}",
                    detail=s.completed_by_label,
                )
            )
    return sorted(entries, key=lambda e: e.at)


def suggestion_view(session: Session, *, actor: Actor, suggestion_id: int) -> SuggestionView:
    suggestion = get_suggestion(session, suggestion_id=suggestion_id)
    if not can_view(session, actor, suggestion):
        raise Forbidden(f"suggestion {suggestion_id} is not referred to your unit")
    proposer = session.get(Proposer, suggestion.proposer_id)
    assert proposer is not None
    proposer_view: dict[str, Any] | None = None
    if _sees_proposer(actor, suggestion, proposer):
        proposer_view = {
            "kind": proposer.kind.value,
            "name": proposer.name,
            "phone": proposer.phone,
            "email": proposer.email,
            "anonymous": proposer.anonymous,
            "confidential": proposer.confidential,
        }
    co_units = session.scalars(
        select(Unit.code)
        .join(Assignment, Assignment.unit_id == Unit.id)
        .where(
            Assignment.suggestion_id == suggestion.id,
            Assignment.role == AssignmentRole.co,
            Assignment.state != AssignmentState.withdrawn,
        )
    )
    duplicate_of = session.get(Suggestion, suggestion.duplicate_of_id) if suggestion.duplicate_of_id else None
    open_steps = session.scalars(
        select(Step).where(
            Step.suggestion_id == suggestion.id, Step.state.in_((StepState.open, StepState.submitted))
        )
    )
    office = session.get(Unit, suggestion.office_unit_id)
    return SuggestionView(
        id=suggestion.id,
        tracking_code=suggestion.tracking_code,
        title=suggestion.title,
        content=suggestion.content,
        channel=suggestion.channel,
        channel_ref=suggestion.channel_ref,
        received_at=suggestion.received_at,
        office=office.code if office else "",
        region=_code(session, suggestion.region_unit_id),
        campaign=suggestion.campaign,
        kind=suggestion.kind,
        category=suggestion.category,
        level=suggestion.level,
        lead_unit=_code(session, suggestion.lead_unit_id),
        co_units=list(co_units),
        stage=suggestion.stage,
        stage_label=STAGE_LABELS[suggestion.stage],
        decision=suggestion.decision,
        outcome=suggestion.outcome,
        outcome_label=OUTCOME_LABELS[suggestion.outcome] if suggestion.outcome else None,
        outcome_reason=suggestion.outcome_reason,
        closed_at=suggestion.closed_at,
        duplicate_of=duplicate_of.tracking_code if duplicate_of else None,
        rating=suggestion.rating,
        flow_run_id=suggestion.flow_run_id,
        proposer=proposer_view,
        open_steps=[step_view(session, s, viewer=actor) for s in open_steps],
        # What the office owes its proposer is the office's business, not the units'.
        communications=communication_duties.of_suggestion(session, suggestion.id, now=utcnow())
        if actor.role is not Role.department
        else [],
        timeline=timeline(
            session, suggestion, public=False, own_steps=_summaries_for(session, actor, suggestion)
        ),
    )
