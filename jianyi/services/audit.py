"""The append-only audit log: every change and every refused attempt is one row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jianyi.models import AuditEntry
from jianyi.services.actors import Actor


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    suggestion_id: int | None = None,
    step_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_user_id=actor.user_id,
            actor_label=actor.label,
            action=action,
            suggestion_id=suggestion_id,
            step_id=step_id,
            detail=detail or {},
        )
    )
