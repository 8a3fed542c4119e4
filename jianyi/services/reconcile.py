"""The database's side of the reconciler (jianyi/executor/reconciler.py): which open cases to check
against their flow runs, and how a repair or a report is recorded.

A case is checked only once it has been still for a while (``grace``) and nothing is under way for
it: no step submitted (the executor's wake applies it), no attempt claimed. A repair is audited
(``reconcile.repaired``); what cannot be repaired is audited (``reconcile.reported``) and mailed to
the handling office's officials, once a day per case and problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from jianyi.models import AuditEntry, RunClaim, Step, Suggestion, Unit
from jianyi.models.enums import StepState
from jianyi.services import audit, official_mail
from jianyi.services.actors import EXECUTOR

REPAIRED = "reconcile.repaired"
REPORTED = "reconcile.reported"
PROBLEMS = {
    "run_missing": "流程实例缺失",
    "finished_while_open": "流程实例已结束但建议仍在办理",
    "stale_key": "流程实例停在过期的等待点",
    "failed": "流程实例重试后仍失败",
    "no_open_step": "建议既无待办环节也无办理结果",
}


@dataclass(frozen=True)
class Candidate:
    suggestion_id: int
    flow_run_id: str
    wait_key: str  # the key its run should be suspended at
    has_open_step: bool


def candidates(session: Session, *, grace: timedelta, now: datetime, limit: int = 500) -> list[Candidate]:
    """Open cases with a run, still for ``grace``, with no submitted step and no attempt claimed."""
    submitted = exists().where(Step.suggestion_id == Suggestion.id, Step.state == StepState.submitted)
    claimed = exists().where(RunClaim.flow_run_id == Suggestion.flow_run_id)
    open_step = exists().where(Step.suggestion_id == Suggestion.id, Step.state == StepState.open)
    rows = session.execute(
        select(Suggestion.id, Suggestion.flow_run_id, Suggestion.wait_seq, open_step.label("has_open"))
        .where(
            Suggestion.outcome.is_(None),
            Suggestion.flow_run_id.is_not(None),
            Suggestion.updated_at <= now - grace,
            ~submitted,
            ~claimed,
        )
        .order_by(Suggestion.id)
        .limit(limit)
    ).all()
    return [Candidate(r.id, str(r.flow_run_id), f"w{r.wait_seq}", bool(r.has_open)) for r in rows]


def repaired_since(session: Session, *, suggestion_id: int, problem: str, since: datetime) -> bool:
    """Whether this problem was repaired on this case since then: it came back, so it is reported."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    AuditEntry.suggestion_id == suggestion_id,
                    AuditEntry.action == REPAIRED,
                    AuditEntry.at >= since,
                    AuditEntry.detail["problem"].as_string() == problem,
                )
            )
        )
    )


def repaired(session: Session, *, suggestion_id: int, problem: str, flow_run_id: str, how: str) -> None:
    audit.record(
        session,
        actor=EXECUTOR,
        action=REPAIRED,
        suggestion_id=suggestion_id,
        detail={"problem": problem, "flow_run_id": flow_run_id, "how": how},
    )


def forget_missing_run(session: Session, *, suggestion_id: int, flow_run_id: str) -> None:
    """A run Prefect no longer has: the case gets a new one (the executor starts a run for a case
    with none; its next attempt applies the case as stored)."""
    session.execute(
        update(Suggestion)
        .where(Suggestion.id == suggestion_id, Suggestion.flow_run_id == flow_run_id)
        .values(flow_run_id=None)
    )
    repaired(
        session, suggestion_id=suggestion_id, problem="run_missing", flow_run_id=flow_run_id, how="new run"
    )


def report(session: Session, *, suggestion_id: int, problem: str, flow_run_id: str, now: datetime) -> None:
    """Tell the handling office what could not be repaired (audited; mailed once a day)."""
    suggestion = session.get(Suggestion, suggestion_id)
    assert suggestion is not None
    audit.record(
        session,
        actor=EXECUTOR,
        action=REPORTED,
        suggestion_id=suggestion_id,
        detail={"problem": problem, "flow_run_id": flow_run_id},
    )
    office = session.get(Unit, suggestion.office_unit_id)
    if office is None:
        return
    official_mail.send(
        session,
        kind="reconcile",
        key=f"reconcile:{suggestion_id}:{problem}:{now:%Y-%m-%d}",
        to=official_mail.recipients(session, unit_id=office.id, heads=False),
        unit=office,
        suggestion=suggestion,
        summary=f"核对发现：{PROBLEMS[problem]}，自动修复未成功，请核查该建议的流程实例（{flow_run_id}）。",
        item="流程核对",
    )
