"""The office's side of the communications with proposers: what it owes, logging it, reminders.

A communication held by a person (a call, a meeting, a letter) is owed by the suggestion's handling
office from the moment a rule plans it (jianyi.services.communications). The office logs it here
(or through the step that carries it, e.g. 事后沟通); once its due time passes unlogged, the
supervision sweep reminds the office's handlers, exactly once: the reminder is claimed by one
set-based UPDATE over the (state, due_at) index, the same way escalation rungs are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jianyi.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    audited_refusal,
    field_errors,
)
from jianyi.models import Communication, PlannedCommunication, Proposer, Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.models.contact import Prose
from jianyi.models.enums import (
    COMMUNICATION_LABELS,
    CommunicationKind,
    CommunicationState,
    ContactMethod,
    Role,
)
from jianyi.models.schemas import CommunicationLogged, PlannedCommunicationView
from jianyi.services import audit, official_mail
from jianyi.services.actors import Actor
from jianyi.services.communications import record, sent_state
from jianyi.settings import get_settings

_OFFICE_ROLES = (Role.office, Role.supervisor)


class CommunicationLog(BaseModel):
    """What the office reports of a contact it held with the proposer."""

    model_config = ConfigDict(extra="forbid")

    kind: CommunicationKind
    method: ContactMethod
    summary: Prose = Field(min_length=1, max_length=4000)  # no control characters: officials read it
    at: datetime | None = None  # when it was held; default: now

    @field_validator("at")
    @classmethod
    def _when_it_can_have_been_held(cls, value: datetime | None) -> datetime | None:
        """Not before 2000 and not tomorrow (a year-1 time with an offset does not even fit a datetime
        in UTC)."""
        if value is None:
            return None
        if value.year < 2000:
            raise ValueError("a contact held before 2000 is not one of this system's")
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if aware > utcnow() + timedelta(days=1):
            raise ValueError("a contact cannot be logged before it is held")
        return value


@dataclass(frozen=True)
class Reminded:
    """One overdue communication the sweep reminded the office of (for the report and the event)."""

    planned_id: int
    suggestion_id: int
    tracking_code: str
    flow_run_id: str | None
    rule_id: str
    kind: str
    channel: str
    sent: int


def view(
    session: Session, plan: PlannedCommunication, *, now: datetime, with_text: bool = False
) -> PlannedCommunicationView:
    suggestion = session.get_one(Suggestion, plan.suggestion_id)
    return PlannedCommunicationView(
        id=plan.id,
        suggestion_id=plan.suggestion_id,
        tracking_code=suggestion.tracking_code,
        rule=plan.rule_id,
        kind=plan.kind,
        kind_label=COMMUNICATION_LABELS[plan.kind],
        channel=plan.channel,
        manual=plan.manual,
        state=plan.state,
        due_at=plan.due_at,
        overdue=plan.state is CommunicationState.awaiting and plan.due_at is not None and plan.due_at < now,
        reminded_at=plan.reminded_at,
        done_at=plan.done_at,
        delivery=sent_state(session, plan),
        note=plan.note,
        text=_to_hold(session, plan) if with_text else None,
    )


def _to_hold(session: Session, plan: PlannedCommunication) -> str | None:
    """A call's or a letter's text, headed with where it goes: the office dials or posts it."""
    proposer = session.get(Proposer, plan.proposer_id) if plan.proposer_id is not None else None
    if proposer is None or plan.channel not in _HEADED:
        return plan.body_text
    head = (
        f"收信人：{proposer.name or '建议人'}\n通信地址：{proposer.address or NO_ADDRESS}"
        if plan.channel == "letter"
        else f"建议人：{proposer.name or '建议人'}\n电话：{proposer.phone or NO_PHONE}"
    )
    return f"{head}\n\n{plan.body_text}" if plan.body_text else head


def of_suggestion(session: Session, suggestion_id: int, *, now: datetime) -> list[PlannedCommunicationView]:
    plans = session.scalars(
        select(PlannedCommunication)
        .where(PlannedCommunication.suggestion_id == suggestion_id)
        .order_by(PlannedCommunication.id)
    )
    return [view(session, p, now=now) for p in plans]


def get(session: Session, *, actor: Actor, planned_id: int, now: datetime) -> PlannedCommunicationView:
    """One planned communication with its text (a letter to print): the handling office only."""
    plan = session.get(PlannedCommunication, planned_id)
    if plan is None:
        raise NotFound(f"communication {planned_id} does not exist")
    suggestion = session.get_one(Suggestion, plan.suggestion_id)
    if not _office_of(actor, suggestion):
        raise Forbidden(f"communication {planned_id} belongs to another office")
    return view(session, plan, now=now, with_text=True)


def _office_of(actor: Actor, suggestion: Suggestion) -> bool:
    return actor.role is Role.admin or (
        actor.role in _OFFICE_ROLES and actor.unit_id == suggestion.office_unit_id
    )


def outstanding(
    session: Session, *, actor: Actor, now: datetime, overdue_only: bool = False, limit: int = 1000
) -> list[PlannedCommunication]:
    """The communications awaited from the caller's office (every office's, for an admin), due first."""
    query = select(PlannedCommunication).where(PlannedCommunication.state == CommunicationState.awaiting)
    if actor.role is not Role.admin:
        if actor.role not in _OFFICE_ROLES or actor.unit_id is None:
            return []
        query = query.join(Suggestion, Suggestion.id == PlannedCommunication.suggestion_id).where(
            Suggestion.office_unit_id == actor.unit_id
        )
    if overdue_only:
        query = query.where(PlannedCommunication.due_at < now)
    return list(
        session.scalars(query.order_by(PlannedCommunication.due_at, PlannedCommunication.id).limit(limit))
    )


def log(
    session: Session, *, actor: Actor, suggestion_id: int, payload: object, now: datetime
) -> Communication:
    """The office logs a contact with the proposer; it settles what was awaited of that kind."""
    try:
        data = CommunicationLog.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput("invalid communication log", detail=field_errors(exc.errors())) from exc
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(f"suggestion {suggestion_id} does not exist")
    if not (
        actor.role is Role.admin
        or (actor.role in _OFFICE_ROLES and actor.unit_id == suggestion.office_unit_id)
    ):
        raise Forbidden(f"only the handling office of suggestion {suggestion_id} logs its communications")
    proposer = session.get(Proposer, suggestion.proposer_id)
    if proposer is not None and proposer.anonymous:
        raise Conflict(f"suggestion {suggestion_id} is anonymous: there is no proposer to contact")
    at = data.at or now
    if at.tzinfo is None:
        raise InvalidInput(
            "invalid communication log", detail=[{"field": "at", "message": "give the offset"}]
        )
    if at > now:
        raise InvalidInput(
            "invalid communication log",
            detail=[{"field": "at", "message": "a contact cannot be logged ahead"}],
        )
    communication = record(
        session,
        suggestion=suggestion,
        kind=data.kind,
        method=data.method,
        summary=data.summary,
        at=at,
        by_user_id=actor.user_id,
    )
    audit.record(
        session,
        actor=actor,
        action="communication.logged",
        suggestion_id=suggestion.id,
        detail={"communication_id": communication.id, "kind": data.kind.value, "method": data.method.value},
    )
    return communication


def logged_view(session: Session, communication: Communication) -> CommunicationLogged:
    settled = session.scalars(
        select(PlannedCommunication.id)
        .where(PlannedCommunication.communication_id == communication.id)
        .order_by(PlannedCommunication.id)
    )
    return CommunicationLogged(
        id=communication.id,
        suggestion_id=communication.suggestion_id,
        kind=communication.kind,
        method=communication.method,
        at=communication.at,
        summary=communication.summary,
        settled=list(settled),
    )


def log_or_refuse(
    session: Session, *, actor: Actor, suggestion_id: int, payload: object, now: datetime
) -> Communication:
    """A log from an entry point (the API, the CLI): stored like ``log``; a refusal leaves carrying
    what to audit, which the entry point records after rolling the refused change back
    (jianyi.refusals)."""
    with audited_refusal("communication.refused", actor, suggestion_id=suggestion_id):
        return log(session, actor=actor, suggestion_id=suggestion_id, payload=payload, now=now)


def claim_overdue(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Mark up to ``limit`` overdue, unreminded communications as reminded; their ids."""
    due = (
        select(PlannedCommunication.id)
        .where(
            PlannedCommunication.state == CommunicationState.awaiting,
            PlannedCommunication.due_at < now,  # due_at is the last instant of the due day
            PlannedCommunication.reminded_at.is_(None),
        )
        .order_by(PlannedCommunication.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: two sweepers skip each other's rows
    )
    claimed = session.execute(
        update(PlannedCommunication)
        .where(PlannedCommunication.id.in_(due.scalar_subquery()), PlannedCommunication.reminded_at.is_(None))
        .values(reminded_at=now)
        .returning(PlannedCommunication.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars())


def remind_overdue(session: Session, *, now: datetime, limit: int = 500) -> list[Reminded]:
    """Remind the handling office of every overdue communication, once. The caller commits."""
    reminded = []
    for planned_id in claim_overdue(session, now=now, limit=limit):
        plan = session.get_one(PlannedCommunication, planned_id)
        suggestion = session.get_one(Suggestion, plan.suggestion_id)
        office = session.get_one(Unit, suggestion.office_unit_id)
        label = f"{COMMUNICATION_LABELS[plan.kind]}（{_CHANNEL_LABELS.get(plan.channel, plan.channel)}）"
        sent = official_mail.send(
            session,
            kind="communication_overdue",
            key=f"communication-overdue:{plan.id}",
            to=official_mail.recipients(session, unit_id=office.id, heads=False),
            unit=office,
            suggestion=suggestion,
            summary=f"与建议人的{label}已到期仍未登记，请尽快联系建议人并登记（规则 {plan.rule_id}）。",
            item=label,
            due_at=plan.due_at,
            link=f"{get_settings().resolved_public_url}/suggestions/{suggestion.id}",  # its web page
        )
        audit.record(
            session,
            actor=Actor(label="rules"),
            action="communication.overdue",
            suggestion_id=suggestion.id,
            detail={"planned_id": plan.id, "rule": plan.rule_id, "kind": plan.kind.value, "sent": sent},
        )
        reminded.append(
            Reminded(
                planned_id=plan.id,
                suggestion_id=suggestion.id,
                tracking_code=suggestion.tracking_code,
                flow_run_id=suggestion.flow_run_id,
                rule_id=plan.rule_id,
                kind=plan.kind.value,
                channel=plan.channel,
                sent=sent,
            )
        )
    return reminded


_CHANNEL_LABELS = {"phone": "电话", "meeting": "面谈", "letter": "信函", "email": "邮件", "sms": "短信"}
_HEADED = frozenset({"letter", "phone"})
NO_ADDRESS = "（未留通信地址：按来信信封上的地址寄出，或先与建议人联系）"
NO_PHONE = "（未留电话：来访的，按受理记录当面或经受理站点告知）"
