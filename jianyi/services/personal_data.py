"""A proposer's personal data: kept only as long as it may be, and every staff view of it recorded.

Erasure (``erase``) replaces the proposer's name, phone, e-mail and postal address with a tombstone
and removes every occurrence of them from what the case stored: the suggestion's texts, the steps'
inputs (a hearing's participants), the communication log, the planned communications, the outbox
(a message to the proposer keeps its kind and dates; its address and body go). The rows stay: the
case, its steps, its figures and its audit are the city's record; only who the proposer was goes.
The audit log is append-only evidence (a trigger refuses any update) and is left as it is: it never
copies the proposer's contact details, only what officials wrote in steps (a text naming the
proposer stays there). It happens when a closed case has passed the retention period
(``due_for_erasure``, run by the executor each day and by ``jianyi retention run``), or earlier when
the proposer asks and the handling office records the request (``request_erasure``).

A staff view that shows the proposer's data is audited (``record_view``): once an hour per official
and suggestion, which is what an audit needs (who looked, when) without one row per page refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from jianyi.errors import Conflict, Forbidden
from jianyi.models import (
    AuditEntry,
    Communication,
    OutboxMessage,
    PlannedCommunication,
    Proposer,
    Step,
    Suggestion,
)
from jianyi.models.base import utcnow
from jianyi.models.enums import OutboxState, Role
from jianyi.services import audit
from jianyi.services.actors import Actor
from jianyi.services.views import get_suggestion

TOMBSTONE = "［已删除］"
ERASED = "personal_data.erased"
VIEWED = "personal_data.viewed"
REQUESTED = "personal_data.erasure_requested"
VIEW_EVERY = timedelta(hours=1)  # one audit row per official, suggestion and hour
FIELDS = ("name", "phone", "email", "address")


@dataclass(frozen=True)
class Erased:
    suggestion_id: int
    tracking_code: str
    closed_at: datetime | None
    fields: list[str]  # which of name, phone, email, address the proposer had


def _redact(value: Any, secrets: list[str]) -> Any:
    """``value`` (a text, or JSON of texts) with every occurrence of each secret replaced."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, TOMBSTONE)
        return value
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


def _secrets(proposer: Proposer) -> list[str]:
    values = [getattr(proposer, f) for f in FIELDS]
    # Longest first, so that an address containing the name goes whole. One character is no data.
    return sorted({v for v in values if v and len(v) > 1 and v != TOMBSTONE}, key=len, reverse=True)


def _is_erased(session: Session, suggestion_id: int) -> bool:
    return bool(
        session.scalar(
            select(exists().where(AuditEntry.suggestion_id == suggestion_id, AuditEntry.action == ERASED))
        )
    )


def erase(session: Session, *, suggestion: Suggestion, actor: Actor, why: str) -> Erased:
    """Tombstone the suggestion's proposer and remove their data from everything the case stored."""
    proposer = session.get(Proposer, suggestion.proposer_id)
    assert proposer is not None
    secrets = _secrets(proposer)
    had = [f for f in FIELDS if getattr(proposer, f)]
    addresses = {a for a in (proposer.email, proposer.phone, proposer.mobile) if a}
    for column in ("title", "content", "triage_note", "outcome_reason", "rating_comment"):
        setattr(suggestion, column, _redact(getattr(suggestion, column), secrets))
    for step in session.scalars(select(Step).where(Step.suggestion_id == suggestion.id)):
        step.input = _redact(step.input, secrets)
    for comm in session.scalars(select(Communication).where(Communication.suggestion_id == suggestion.id)):
        comm.summary = _redact(comm.summary, secrets)
    planned = select(PlannedCommunication).where(PlannedCommunication.suggestion_id == suggestion.id)
    for plan in session.scalars(planned):
        plan.body_text, plan.note = _redact(plan.body_text, secrets), _redact(plan.note, secrets)
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.suggestion_id == suggestion.id)):
        if message.to_addr in addresses:  # the proposer's own copy: its address and its text go
            message.to_addr, message.body_text, message.body_html = TOMBSTONE, TOMBSTONE, TOMBSTONE
            if message.state in (OutboxState.pending, OutboxState.sending):
                message.state, message.last_error = OutboxState.failed, "proposer's data erased"
        message.subject = _redact(message.subject, secrets)
        message.body_text = _redact(message.body_text, secrets)
        message.body_html = _redact(message.body_html, secrets)
    proposer.name = TOMBSTONE if proposer.name else None
    proposer.phone = proposer.email = proposer.address = None
    audit.record(
        session,
        actor=actor,
        action=ERASED,
        suggestion_id=suggestion.id,
        detail={
            "fields": had,
            "why": why,
            "closed_at": suggestion.closed_at.isoformat() if suggestion.closed_at else None,
        },
    )
    session.flush()
    return Erased(suggestion.id, suggestion.tracking_code, suggestion.closed_at, had)


def due_for_erasure(
    session: Session, *, older_than: timedelta, now: datetime | None = None, limit: int = 500
) -> list[Suggestion]:
    """Closed suggestions past the retention period whose proposer's data is still kept."""
    cutoff = (now or utcnow()) - older_than
    done = exists().where(AuditEntry.suggestion_id == Suggestion.id, AuditEntry.action == ERASED)
    return list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.closed_at.is_not(None), Suggestion.closed_at < cutoff, ~done)
            .order_by(Suggestion.closed_at)
            .limit(limit)
        )
    )


def run_retention(
    session: Session,
    *,
    actor: Actor,
    older_than: timedelta,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[Erased]:
    """Erase (or, dry, list) the proposers' data of every closed case past the retention period."""
    due = due_for_erasure(session, older_than=older_than, now=now)
    if dry_run:
        return [Erased(s.id, s.tracking_code, s.closed_at, []) for s in due]
    why = f"retention: closed more than {older_than.days} days ago"
    return [erase(session, suggestion=s, actor=actor, why=why) for s in due]


def _may_act(actor: Actor, suggestion: Suggestion) -> bool:
    return actor.role is Role.admin or (
        actor.role in (Role.office, Role.supervisor) and actor.unit_id == suggestion.office_unit_id
    )


def request_erasure(session: Session, *, actor: Actor, suggestion_id: int, basis: str) -> Erased:
    """The proposer asked for erasure before the retention period ends, where the law allows: the
    handling office records the request (and its legal basis) and the data goes now. The case must
    be closed: an open case still needs to reach its proposer."""
    suggestion = get_suggestion(session, suggestion_id=suggestion_id)
    if not _may_act(actor, suggestion):
        raise Forbidden(f"only the handling office records an erasure request for suggestion {suggestion_id}")
    if suggestion.closed_at is None:
        raise Conflict(f"suggestion {suggestion_id} is open: its proposer's data is erased once it is closed")
    if _is_erased(session, suggestion_id):
        raise Conflict(f"suggestion {suggestion_id}: its proposer's data was erased already")
    audit.record(session, actor=actor, action=REQUESTED, suggestion_id=suggestion_id, detail={"basis": basis})
    return erase(session, suggestion=suggestion, actor=actor, why=f"the proposer's request: {basis}")


def view_recorded(session: Session, *, actor: Actor, suggestion_id: int, now: datetime | None = None) -> bool:
    """Whether this official's view of the proposer's data was audited within the hour (a read: the
    API asks it in the request's read-only session and opens a write only when it is not)."""
    now = now or utcnow()
    recent = exists().where(
        AuditEntry.suggestion_id == suggestion_id,
        AuditEntry.action == VIEWED,
        AuditEntry.actor_label == actor.label,
        AuditEntry.at > now - VIEW_EVERY,
    )
    return bool(session.scalar(select(recent)))


def record_view(session: Session, *, actor: Actor, suggestion_id: int, now: datetime | None = None) -> bool:
    """Audit that a staff member was shown the proposer's data; once an hour per official and
    suggestion. True if a row was written."""
    now = now or utcnow()
    if view_recorded(session, actor=actor, suggestion_id=suggestion_id, now=now):
        return False
    audit.record(
        session,
        actor=actor,
        action=VIEWED,
        suggestion_id=suggestion_id,
        detail={"role": actor.role.value if actor.role else None},
    )
    return True


def views_of(session: Session, *, actor: Actor, suggestion_id: int) -> list[dict[str, Any]]:
    """Who was shown the proposer's data of a suggestion, and when (the handling office only)."""
    suggestion = get_suggestion(session, suggestion_id=suggestion_id)
    if not _may_act(actor, suggestion):
        raise Forbidden(f"only the handling office lists who saw suggestion {suggestion_id}'s proposer")
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.suggestion_id == suggestion_id, AuditEntry.action.in_((VIEWED, REQUESTED, ERASED)))
        .order_by(AuditEntry.id)
    )
    return [
        {"at": r.at.isoformat(), "who": r.actor_label, "action": r.action, "detail": r.detail} for r in rows
    ]
