"""What the executor reads and writes in the application database: runs to start, steps that wake
a run, its heartbeat and its claims. Each function is one short transaction of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from jianyi.db import dialect_insert, read_scope, session_scope
from jianyi.models import ExecutorLease, RunClaim, Step, Suggestion
from jianyi.models.base import table_of, utcnow
from jianyi.models.enums import StepState
from jianyi.services import audit, reconcile
from jianyi.services.actors import EXECUTOR
from jianyi.services.lifecycle.engine import describe_attempt


@dataclass(frozen=True)
class Unstarted:
    suggestion_id: int
    run_name: str


@dataclass(frozen=True)
class Claim:
    """A run taken for one attempt: the attempt's name, and when it was taken, which tells this claim
    from a later one of the same run."""

    flow_run_id: str
    attempt_name: str
    claimed_at: datetime


@dataclass(frozen=True)
class Wake:
    """A suggestion with a submitted step, and its run: an attempt will apply the step."""

    suggestion_id: int
    flow_run_id: str


def unstarted(limit: int) -> list[Unstarted]:
    with read_scope() as session:
        rows = session.execute(
            select(Suggestion.id, Suggestion.tracking_code, Suggestion.title)
            # The outcome test wrapped so that no index serves it: SQLite, which has no statistics, would
            # otherwise pick the outcome index over the flow_run_id one whenever the migrations happened
            # to create it first, and read every open suggestion each poll. The flow_run_id index finds
            # only those to start.
            .where(Suggestion.flow_run_id.is_(None), func.coalesce(Suggestion.outcome, None).is_(None))
            .order_by(Suggestion.id)
            .limit(limit)
        ).all()
    return [Unstarted(r.id, f"{r.tracking_code} {r.title[:40]}") for r in rows]


def newest_suggestion_id() -> int | None:
    """The id of the latest suggestion received: its rise over time is intake's rate."""
    with read_scope() as session:
        return session.scalar(select(func.max(Suggestion.id)))


def record_flow_run(suggestion_id: int, flow_run_id: str) -> None:
    with session_scope() as session:
        _record(session, suggestion_id, flow_run_id)


def _record(session: Session, suggestion_id: int, flow_run_id: str) -> None:
    """The suggestion's run, unless it has one: audited once."""
    recorded = session.execute(
        update(Suggestion)
        .where(Suggestion.id == suggestion_id, Suggestion.flow_run_id.is_(None))
        .values(flow_run_id=flow_run_id)
    )
    if recorded.rowcount == 1:  # type: ignore[attr-defined]
        audit.record(
            session,
            actor=EXECUTOR,
            action="flow_run.created",
            suggestion_id=suggestion_id,
            detail={"flow_run_id": flow_run_id},
        )


def forget_missing_run(flow_run_id: str) -> None:
    """A run Prefect does not have: its open suggestion, if any, is left without one, so that a new
    run is started (audited as the reconciler's repair of a missing run)."""
    with session_scope() as session:
        suggestion_id = session.scalar(
            select(Suggestion.id).where(Suggestion.flow_run_id == flow_run_id, Suggestion.outcome.is_(None))
        )
        if suggestion_id is not None:
            reconcile.forget_missing_run(session, suggestion_id=suggestion_id, flow_run_id=flow_run_id)


def wakes(limit: int) -> list[Wake]:
    """The runs of suggestions with submitted steps, the longest-waiting step first."""
    with read_scope() as session:
        first = (
            select(Step.suggestion_id, func.min(Step.id).label("step_id"))
            .where(Step.state == StepState.submitted)
            .group_by(Step.suggestion_id)
            .subquery()
        )
        rows = session.execute(
            select(Suggestion.id, Suggestion.flow_run_id)
            .join(first, first.c.suggestion_id == Suggestion.id)
            .where(Suggestion.flow_run_id.is_not(None))
            .order_by(first.c.step_id)
            .limit(limit)
        ).all()
        return [Wake(suggestion_id=r.id, flow_run_id=str(r.flow_run_id)) for r in rows]


def heartbeat(executor_id: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    with session_scope() as session:
        lease = session.get(ExecutorLease, executor_id)
        if lease is None:
            session.add(ExecutorLease(executor_id=executor_id, started_at=now, heartbeat_at=now))
        else:
            lease.heartbeat_at = now


def claim(executor_id: str, flow_run_id: str, suggestion_id: int, *, first: bool = False) -> Claim | None:
    """Take the run for one attempt, and name the attempt (its stage, the steps it will apply); None
    if another executor holds it.

    The claim is the lock: Prefect accepts Running for a run that is Running, so two executors
    must never both propose it. A claim of this executor's own is taken again: its caller runs no
    attempt of the run, so the claim was left by one that could not drop it (a lost connection).

    ``first``: a run found Scheduled in Prefect. Its suggestion records it here if it has no run yet:
    the run may have been created by a start whose own record failed (the database restarting), and
    its attempt may close the case before that start is tried again (a closed case is not)."""
    now = utcnow()
    with session_scope() as session:
        statement = dialect_insert(session)(RunClaim).values(
            flow_run_id=flow_run_id, executor_id=executor_id, claimed_at=now
        )
        taken = session.execute(
            statement.on_conflict_do_update(
                index_elements=[RunClaim.flow_run_id],
                set_={"claimed_at": now},
                where=RunClaim.executor_id == executor_id,
            ).returning(RunClaim.flow_run_id)
        ).first()
        if taken is None:
            return None
        if first:
            _record(session, suggestion_id, flow_run_id)
        return Claim(flow_run_id, describe_attempt(session, suggestion_id=suggestion_id), now)


def drop_claim(flow_run_id: str) -> None:
    """Drop the run's claim, whoever holds it (an executor that fell silent)."""
    with session_scope() as session:
        session.execute(delete(RunClaim).where(RunClaim.flow_run_id == flow_run_id))


_CLAIMS = table_of(RunClaim)
_DROP_THIS_CLAIM = delete(_CLAIMS).where(
    _CLAIMS.c.flow_run_id == bindparam("run"), _CLAIMS.c.claimed_at == bindparam("at")
)


def release(claims: Sequence[Claim]) -> None:
    """Drop ended attempts' claims, all in one transaction. Each only if it is still that claim: by
    then the executor may have taken the run again for its next attempt."""
    if not claims:
        return
    with session_scope() as session:
        session.execute(_DROP_THIS_CLAIM, [{"run": c.flow_run_id, "at": c.claimed_at} for c in claims])


def orphaned_claims(lease_seconds: float, now: datetime | None = None) -> list[str]:
    """Claims whose executor fell silent: their attempts died with it."""
    cutoff = (now or utcnow()) - timedelta(seconds=lease_seconds)
    with read_scope() as session:
        live = select(ExecutorLease.executor_id).where(ExecutorLease.heartbeat_at >= cutoff)
        return list(session.scalars(select(RunClaim.flow_run_id).where(RunClaim.executor_id.not_in(live))))


def forget_dead_executors(lease_seconds: float) -> None:
    """Drop long-dead executors' heartbeats once their claims have been recovered."""
    cutoff = utcnow() - timedelta(seconds=lease_seconds * 10)
    with session_scope() as session:
        stale = select(ExecutorLease.executor_id).where(ExecutorLease.heartbeat_at < cutoff)
        if session.scalar(select(func.count()).select_from(RunClaim).where(RunClaim.executor_id.in_(stale))):
            return
        session.execute(delete(ExecutorLease).where(ExecutorLease.heartbeat_at < cutoff))
