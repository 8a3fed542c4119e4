"""Leaders' instructions (批示) on a digest's items.

Each instruction completes that suggestion's ``leader_instruction`` step through ``steps.complete``,
like any step: stored as submitted in the caller's transaction, applied by the suggestion's flow run
when the executor resumes it. A leader answers in their own name (the date defaults to today in
Shanghai); the office records a paper instruction with the leader and date written on it. "No
instruction" (``has_instruction: false``) is an answer too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.errors import InvalidInput, NotFound, audited_refusal
from jianyi.models import Digest, DigestItem, LeaderInstruction, Step
from jianyi.models.base import utcnow
from jianyi.models.digest_schemas import DigestItemOut, DigestOut
from jianyi.models.enums import Role
from jianyi.services import steps
from jianyi.services.actors import Actor
from jianyi.services.cycles.digest import get_digest, items_of, title_of
from jianyi.services.reports.kinds import SHANGHAI


def item_of(session: Session, *, digest_id: int, suggestion_id: int) -> DigestItem:
    item = session.scalar(
        select(DigestItem).where(DigestItem.digest_id == digest_id, DigestItem.suggestion_id == suggestion_id)
    )
    if item is None:
        raise NotFound(f"suggestion {suggestion_id} is not in digest {digest_id}")
    return item


def state_of(session: Session, item: DigestItem) -> DigestItemOut:
    step = session.get_one(Step, item.step_id)
    row = session.scalar(select(LeaderInstruction).where(LeaderInstruction.step_id == item.step_id))
    instruction = None
    if row is not None:
        instruction = {
            "has_instruction": row.has_instruction,
            "leader": row.leader,
            "instructed_on": row.instructed_on.isoformat() if row.instructed_on else None,
            "text": row.text,
        }
    elif step.input is not None:  # submitted, not yet applied by the flow run
        instruction = dict(step.input)
    return DigestItemOut(
        position=item.position,
        suggestion_id=item.suggestion_id,
        step_id=item.step_id,
        step_state=step.state.value,
        entry=item.entry,
        instruction=instruction,
    )


def record(
    session: Session,
    *,
    actor: Actor,
    digest_id: int,
    suggestion_id: int,
    payload: dict[str, Any],
    now: datetime | None = None,
) -> Step:
    """Complete the item's ``leader_instruction`` step (403, 404, 409 answered already, 422 bad input)."""
    get_digest(session, actor=actor, digest_id=digest_id)
    item = item_of(session, digest_id=digest_id, suggestion_id=suggestion_id)
    if not isinstance(payload, dict):
        raise InvalidInput(
            "an instruction is an object", detail=[{"field": "body", "message": "expected an object"}]
        )
    given = dict(payload)
    if actor.role is Role.leader and given.get("has_instruction"):
        given.setdefault("leader", actor.name or actor.label)  # the leader answers in their own name
        given.setdefault("instructed_on", (now or utcnow()).astimezone(SHANGHAI).date().isoformat())
    with audited_refusal("step.refused", actor, suggestion_id=suggestion_id, step_id=item.step_id):
        return steps.complete(session, actor=actor, step_id=item.step_id, payload=given, now=now)


def digest_out(session: Session, digest: Digest, *, with_items: bool = True) -> DigestOut:
    return DigestOut(
        id=digest.id,
        number=digest.number,
        title=title_of(digest.number),
        compiled_at=digest.compiled_at,
        compiled_by=digest.compiled_by,
        emailed_at=digest.emailed_at,
        flow_run_id=digest.flow_run_id,
        pdf=f"/api/digests/{digest.id}.pdf",
        html=f"/api/digests/{digest.id}.html",
        items=[state_of(session, item) for item in items_of(session, digest.id)] if with_items else [],
    )
