"""The append-only audit log: every change and every refused attempt is one row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jianyi.models import AuditEntry
from jianyi.services.actors import Actor

# An audit row records what changed, never a copy of megabytes: the inputs it copies are bounded by
# their models (models/step_inputs.py), and this guard keeps it so should one ever not be. A text is
# cut at the longest any input field accepts; a list or mapping at a few hundred entries.
MAX_TEXT = 20_000
MAX_ITEMS = 200
MAX_DEPTH = 8


def bounded(value: Any, depth: int = 0) -> Any:
    """``value`` with every text, list and mapping in it cut to the audit's bounds."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else f"{value[:MAX_TEXT]}… (+{len(value) - MAX_TEXT} chars)"
    if depth >= MAX_DEPTH and isinstance(value, dict | list | tuple):
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        return {str(k)[:200]: bounded(v, depth + 1) for k, v in items[:MAX_ITEMS]}
    if isinstance(value, list | tuple):
        return [bounded(v, depth + 1) for v in value[:MAX_ITEMS]]
    return value


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
            detail=bounded(detail) if detail else {},
        )
    )
