"""Compiling the digest of important suggestions (人民建议摘报) and who reads it.

An issue (第N期) takes every important item whose pre-report communication is done (its
``leader_instruction`` step is open) and that is in no digest yet. Each item's entry is frozen when
the issue is compiled, from what the office wrote in the pre-report communication (refined summary,
problem, proposal, office's view) and the proposer's district: never the proposer's name or contact,
which are also struck from the office's texts should one have been written there.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jianyi.errors import Forbidden, NotFound
from jianyi.models import Digest, DigestItem, Proposer, Step, Suggestion, Unit
from jianyi.models.enums import Role, StepKind, StepState, UnitKind
from jianyi.models.step_inputs import PreReportCommunicationInput
from jianyi.services import audit
from jianyi.services.actors import Actor
from jianyi.services.reports.access import reads_city_reports

TITLE = "人民建议摘报"
REDACTED = "（建议人）"


def title_of(number: int) -> str:
    return f"{TITLE}（第{number}期）"


def candidates(session: Session) -> list[tuple[Suggestion, Step]]:
    """The items the next issue takes: an open ``leader_instruction`` step, in no digest yet, oldest first."""
    digested = select(DigestItem.suggestion_id)
    rows = session.execute(
        select(Suggestion, Step)
        .join(Step, Step.suggestion_id == Suggestion.id)
        .where(
            Step.kind == StepKind.leader_instruction,
            Step.state == StepState.open,
            Suggestion.id.not_in(digested),
        )
        .order_by(Step.created_at, Step.id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def _redact(text: str | None, secrets: list[str]) -> str | None:
    """The proposer's name, phone, e-mail and address struck from a text the office wrote."""
    if not text:
        return text
    for secret in secrets:
        text = re.sub(re.escape(secret), REDACTED, text, flags=re.IGNORECASE)
    return text


def _secrets(proposer: Proposer | None) -> list[str]:
    if proposer is None:
        return []
    values = [proposer.name, proposer.phone, proposer.email, proposer.address]
    return sorted((v.strip() for v in values if v and len(v.strip()) >= 2), key=len, reverse=True)


def _unit_name(session: Session, unit_id: int | None) -> str | None:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return unit.name if unit is not None else None


def district_of(session: Session, suggestion: Suggestion) -> str | None:
    """The proposer's district (区): the district office above the region they gave, else the
    handling district office; None for a city-wide item."""
    unit = session.get(Unit, suggestion.region_unit_id) if suggestion.region_unit_id else None
    while unit is not None and unit.kind is not UnitKind.district_office:
        unit = session.get(Unit, unit.parent_id) if unit.parent_id else None
    if unit is None:
        office = session.get(Unit, suggestion.office_unit_id)
        unit = office if office is not None and office.kind is UnitKind.district_office else None
    return unit.name.removesuffix("人民建议征集办公室") if unit is not None else None


def entry_of(session: Session, suggestion: Suggestion) -> dict[str, Any]:
    """What the leaders read of an item: the office's words from the pre-report communication."""
    pre = session.scalar(
        select(Step)
        .where(
            Step.suggestion_id == suggestion.id,
            Step.kind == StepKind.pre_report_communication,
            Step.state == StepState.completed,
        )
        .order_by(Step.id.desc())
        .limit(1)
    )
    data = PreReportCommunicationInput.model_validate(pre.input) if pre is not None and pre.input else None
    secrets = _secrets(session.get(Proposer, suggestion.proposer_id))
    return {
        "tracking_code": suggestion.tracking_code,
        "title": _redact(suggestion.title, secrets),
        "category": suggestion.category,
        "district": district_of(session, suggestion),
        "lead_unit": _unit_name(session, suggestion.lead_unit_id),
        "refined": _redact(data.refined if data else None, secrets),
        "problem": _redact(data.problem if data else None, secrets),
        "proposal": _redact(data.proposal if data else None, secrets),
        "office_view": _redact((data.office_view if data else None) or suggestion.triage_note, secrets),
    }


def compile_digest(session: Session, *, now: datetime, by: str, actor: Actor | None = None) -> Digest | None:
    """The next issue from the waiting items, or None when no item waits. Flushes; the caller commits.
    Two compilations at once: the unique number (and the unique suggestion per item) fails the second's
    commit, which its entry point retries."""
    waiting = candidates(session)
    if not waiting:
        return None
    number = (session.scalar(select(func.max(Digest.number))) or 0) + 1
    digest = Digest(number=number, compiled_at=now, compiled_by=by)
    session.add(digest)
    session.flush()
    for position, (suggestion, step) in enumerate(waiting, start=1):
        session.add(
            DigestItem(
                digest_id=digest.id,
                suggestion_id=suggestion.id,
                step_id=step.id,
                position=position,
                entry=entry_of(session, suggestion),
            )
        )
        audit.record(
            session,
            actor=actor or Actor(label="digest"),
            action="digest.included",
            suggestion_id=suggestion.id,
            step_id=step.id,
            detail={"digest": digest.number},
        )
    session.flush()
    return digest


def items_of(session: Session, digest_id: int) -> list[DigestItem]:
    return list(
        session.scalars(
            select(DigestItem).where(DigestItem.digest_id == digest_id).order_by(DigestItem.position)
        )
    )


def require_reader(session: Session, actor: Actor) -> None:
    """The digest is for the city's leaders, the city office and administrators."""
    if not reads_city_reports(session, actor):
        raise Forbidden("the digest is for the city's leaders and the city suggestion office")


def require_office(session: Session, actor: Actor) -> None:
    """Compiling an issue: the city office and administrators (not a leader)."""
    if actor.role is Role.leader or not reads_city_reports(session, actor):
        raise Forbidden("the digest is compiled by the city suggestion office")


def list_digests(session: Session, *, actor: Actor, limit: int = 100) -> list[Digest]:
    require_reader(session, actor)
    return list(session.scalars(select(Digest).order_by(Digest.number.desc()).limit(limit)))


def get_digest(session: Session, *, actor: Actor, digest_id: int) -> Digest:
    require_reader(session, actor)
    digest = session.get(Digest, digest_id)
    if digest is None:
        raise NotFound(f"no digest {digest_id}")
    return digest
