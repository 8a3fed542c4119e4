"""Audit a refused change in a transaction of its own: the refused one is rolled back.

A service refuses a change (403 another unit, 409 already done, 422 bad input, …) by raising a
``JianyiError`` that carries a ``Refusal`` (``errors.audited_refusal``). The entry point that owns
the transaction (the API's error handler, the CLI's command) rolls its transaction back first and
then calls ``record``: on SQLite the write lock is free again by then.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from jianyi.db import session_scope
from jianyi.errors import JianyiError, Refusal
from jianyi.models import Step, Suggestion
from jianyi.services import audit


def record(error: JianyiError, url: str | None = None) -> None:
    """Write the audit row of ``error``'s refusal and commit it; an error without one records nothing."""
    if error.refusal is None:
        return
    with session_scope(url) as session:
        write(session, error.refusal, error)


def write(session: Session, refusal: Refusal, error: JianyiError) -> None:
    """The audit row of a refusal, in the caller's transaction (it names only rows that exist)."""
    step = session.get(Step, refusal.step_id) if refusal.step_id is not None else None
    suggestion_id = step.suggestion_id if step is not None else refusal.suggestion_id
    if suggestion_id is not None and step is None and session.get(Suggestion, suggestion_id) is None:
        suggestion_id = None
    audit.record(
        session,
        actor=refusal.actor,
        action=refusal.action,
        suggestion_id=suggestion_id,
        step_id=step.id if step is not None else None,
        detail={"error": type(error).__name__, "message": str(error)[:2000]},
    )
