"""Intake (受理): store a suggestion, give it its codes, acknowledge it the same day.

The flow run is not started here: the executor's starter creates it from the stored row, so intake
answers in milliseconds however busy Prefect is, and a suggestion accepted while Prefect is down
starts as soon as it is back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jianyi.errors import InvalidInput
from jianyi.models import Proposer, Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.models.enums import OFFICE_KINDS, Stage, UnitKind
from jianyi.models.schemas import IntakeResult, SuggestionIn
from jianyi.rules.schema_comms import CommunicationEvent
from jianyi.services import audit, auth, communications
from jianyi.services.actors import Actor
from jianyi.services.check_codes import new_check_code
from jianyi.services.lifecycle import engine as lifecycle
from jianyi.services.network import UnknownUnit, get_unit_by_code

# Crockford's base32 without I, L, O, U: codes read over the phone are not misheard.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_tracking_code() -> str:
    return f"JY{utcnow():%y%m}" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def handling_office(session: Session, *, unit_id: int | None) -> Unit:
    """The nearest suggestion office above (or at) the intake unit; the city office otherwise."""
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    while unit is not None:
        if unit.kind in OFFICE_KINDS:
            return unit
        unit = session.get(Unit, unit.parent_id) if unit.parent_id is not None else None
    city = session.scalar(select(Unit).where(Unit.kind == UnitKind.city_office).order_by(Unit.id).limit(1))
    if city is None:
        raise RuntimeError("the unit network is not seeded: no city office")
    return city


# Built once (bound at execution): every intake with a channel reference asks it.
_BY_CHANNEL_REF = select(Suggestion).where(
    Suggestion.channel == bindparam("channel"), Suggestion.channel_ref == bindparam("channel_ref")
)


def _existing(session: Session, data: SuggestionIn) -> Suggestion | None:
    if data.channel_ref is None:
        return None
    return session.scalar(_BY_CHANNEL_REF, {"channel": data.channel, "channel_ref": data.channel_ref})


def _result(suggestion: Suggestion, *, created: bool) -> IntakeResult:
    return IntakeResult(
        id=suggestion.id,
        tracking_code=suggestion.tracking_code,
        check_code=suggestion.check_code if created else None,
        created=created,
        stage=suggestion.stage,
    )


@dataclass(frozen=True)
class Receipt:
    """What intake decides by reading alone: who took the suggestion in, where it goes, when.

    Deciding it needs no write lock, so ``accept`` decides it in a read-only transaction and holds
    SQLite's one write lock (jianyi/db.py) only to store it: every other intake and the executor
    wait while it is held.
    """

    actor: Actor
    data: SuggestionIn
    now: datetime
    region_unit_id: int | None
    office_unit_id: int


def _region_id(session: Session, data: SuggestionIn) -> int | None:
    if data.region is None:
        return None
    try:
        return get_unit_by_code(session, code=data.region).id
    except UnknownUnit as exc:
        raise InvalidInput(
            f"region: no unit with code {data.region!r}",
            detail=[{"field": "region", "message": f"unknown unit code {data.region!r}"}],
        ) from exc


def receive(
    session: Session, *, actor: Actor, data: SuggestionIn, now: datetime | None = None
) -> Receipt | IntakeResult:
    """Read what storing `data` needs; the suggestion already received under its channel reference
    instead, if there is one. ``now`` is the instant of receipt (default: the present)."""
    auth.check_may_take_in(session, actor)  # before the channel reference: a refusal learns nothing
    existing = _existing(session, data)
    if existing is not None:
        return _result(existing, created=False)
    region_id = _region_id(session, data)
    office = handling_office(session, unit_id=actor.unit_id)
    now = now or utcnow()
    return Receipt(actor, _answering(session, data, now), now, region_id, office.id)


def _answering(session: Session, data: SuggestionIn, now: datetime) -> SuggestionIn:
    """A suggestion answering a campaign by reference is stored with its code (the campaign open now
    and taking its channel, else 422 naming ``campaign_id`` or ``channel``)."""
    if data.campaign_id is None:
        return data
    from jianyi.services.cycles.campaigns import for_intake

    code = for_intake(session, campaign_id=data.campaign_id, channel=data.channel.value, now=now)
    if data.campaign not in (None, code):
        raise InvalidInput(
            "campaign: give campaign_id alone", detail=[{"field": "campaign", "message": "conflicts"}]
        )
    return data.model_copy(update={"campaign": code})


def store(session: Session, receipt: Receipt) -> IntakeResult:
    """Store a received suggestion, its audit entry and the communications its receipt calls for
    (the acknowledgement); the same channel reference stored meanwhile answers with that one."""
    data, actor, now = receipt.data, receipt.actor, receipt.now
    proposer = Proposer(**data.proposer.model_dump(), created_at=now)
    suggestion = Suggestion(
        tracking_code=new_tracking_code(),
        check_code=new_check_code(),
        title=data.title,
        content=data.content,
        channel=data.channel,
        channel_ref=data.channel_ref,
        region_unit_id=receipt.region_unit_id,
        intake_unit_id=actor.unit_id,
        intake_user_id=actor.user_id,
        office_unit_id=receipt.office_unit_id,
        campaign=data.campaign,
        received_at=now,
        stage=Stage.triage,
    )
    try:
        with session.begin_nested():
            session.add(proposer)
            session.flush()
            suggestion.proposer_id = proposer.id
            session.add(suggestion)
            session.flush()
    except IntegrityError:
        # The same channel reference arrived concurrently and won the race: answer with that one.
        again = _existing(session, data)
        if again is None:
            raise
        return _result(again, created=False)
    audit.record(
        session,
        actor=actor,
        action="suggestion.received",
        suggestion_id=suggestion.id,
        detail={
            "channel": data.channel.value,
            "channel_ref": data.channel_ref,
            "office_unit_id": receipt.office_unit_id,
        },
    )
    communications.on_event(
        session,
        suggestion,
        CommunicationEvent.suggestion_received,
        now=now,
        cause="intake",
        values={"check_code": suggestion.check_code},
    )
    lifecycle.begin(session, suggestion=suggestion, now=now)  # triage opens, its clock starts at receipt
    return _result(suggestion, created=True)


def submit(
    session: Session, *, actor: Actor, data: SuggestionIn, now: datetime | None = None
) -> IntakeResult:
    """Accept a suggestion in one transaction; the same channel reference twice returns the first
    one, unchanged. ``now`` is the instant of receipt (default: the present; tests jump the clock)."""
    receipt = receive(session, actor=actor, data=data, now=now)
    return receipt if isinstance(receipt, IntakeResult) else store(session, receipt)


# Who takes in what a citizen submits on the public page: the system itself, for the city office.
PUBLIC_WEB = Actor(label="web", name="网上征集页面")


def receive_public(session: Session, *, data: SuggestionIn, now: datetime | None = None) -> Receipt:
    """Read what storing a suggestion from the public page needs: it has no channel reference and no
    intake unit, so the city office handles it."""
    region_id = _region_id(session, data)
    office = handling_office(session, unit_id=None)
    now = now or utcnow()
    return Receipt(PUBLIC_WEB, _answering(session, data, now), now, region_id, office.id)


# A unit of work an entry point opens: it commits (or rolls back) when its block ends.
Scope = Callable[[], AbstractContextManager[Session]]


def accept(
    *, read: Scope, write: Scope, token: str | None, data: SuggestionIn, now: datetime | None = None
) -> IntakeResult:
    """Intake as the API and the CLI do it: authenticate and receive in a ``read`` unit of work,
    then, unless the channel reference was received before, store in a short ``write`` one. The
    caller's scopes own both transactions; nothing here commits."""
    with read() as reading:
        actor = auth.authenticate(reading, token=token)
        receipt = receive(reading, actor=actor, data=data, now=now)
    if isinstance(receipt, IntakeResult):
        return receipt
    with write() as writing:
        return store(writing, receipt)
