"""What the API and CLI tests look at: the audit log, a step's stored answer, the database's commits."""

from __future__ import annotations

import sqlite3
from typing import Any

from engine import EngineDriver
from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from jianyi.models import AuditEntry, Step
from jianyi.models.enums import StepKind


def headers(users: Any, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users.tokens[who]}"}


def triage_step(driver: EngineDriver) -> tuple[int, int]:
    suggestion_id = driver.submit()
    [step] = [s for s in driver.open_steps(suggestion_id) if s.kind is StepKind.triage]
    return suggestion_id, step.id


def actions(sessions: sessionmaker[Session], **where: Any) -> list[tuple[str, str | None]]:
    """The audit log's (action, error) pairs, oldest first."""
    with sessions() as session:
        rows = session.scalars(select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)).all()
        return [(r.action, r.detail.get("error")) for r in rows]


def stored_step(sessions: sessionmaker[Session], step_id: int) -> dict[str, Any]:
    """What a step holds of its answer."""
    with sessions() as session:
        step = session.get_one(Step, step_id)
        return {"state": step.state, "input": step.input, "submitted_at": step.submitted_at}


class Commits:
    """Counts the database commits of the API's connections (not the test's own engine); can make the
    next one fail, as a database that fails at COMMIT does."""

    def __init__(self, tests_engine: Engine) -> None:
        self.tests_engine = tests_engine
        self.count = 0
        self.fail_next = False
        event.listen(Engine, "commit", self._commit)

    def _commit(self, connection: Connection) -> None:
        if connection.engine is self.tests_engine:
            return
        if self.fail_next:
            self.fail_next = False
            raise OperationalError("COMMIT", None, sqlite3.OperationalError("disk I/O error"))
        self.count += 1

    def remove(self) -> None:
        event.remove(Engine, "commit", self._commit)
