"""``rules explain``: which rules govern a suggestion now, what has fired and what will fire when,
and what the communications rules planned for its proposer (sent, awaited, reminded)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import PlannedCommunication, Step, StepTimer
from jianyi.models.enums import StepState
from jianyi.rules.lookup import active_profiles
from jianyi.services import deadlines
from jianyi.services.lifecycle.stages import spec_of
from jianyi.services.views import get_suggestion

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(value: Any) -> str | None:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else None


def explain(session: Session, *, suggestion_id: int) -> dict[str, Any]:
    suggestion = get_suggestion(session, suggestion_id=suggestion_id)
    rules = deadlines.current_rules()
    steps = session.scalars(select(Step).where(Step.suggestion_id == suggestion.id).order_by(Step.id)).all()
    result = []
    for step in steps:
        timers = session.scalars(
            select(StepTimer).where(StepTimer.step_id == step.id).order_by(StepTimer.fire_at)
        )
        result.append(
            {
                "step": step.id,
                "kind": step.kind.value,
                "label": spec_of(step.kind).label,
                "state": step.state.value,
                "deadline_rule": step.due_rule,
                "working_days": step.due_working_days,
                "due": _local(step.due_at),
                "provisional": step.due_provisional,
                "rungs": [
                    {
                        "ladder": t.ladder,
                        "rung": t.rung,
                        "at": _local(t.fire_at),
                        "state": t.state.value,
                        "fired_at": _local(t.fired_at),
                        "did": t.actions.get("actions", []),
                    }
                    for t in timers
                ],
            }
        )
    open_now = [r for r in result if r["state"] in (StepState.open.value, StepState.submitted.value)]
    return {
        "tracking_code": suggestion.tracking_code,
        "stage": suggestion.stage.value,
        "profiles_active": [p.id for p in active_profiles(rules, campaign=suggestion.campaign)],
        "escalated_to": suggestion.escalated_to_unit_id,
        "bulletin": suggestion.bulletin_period,
        "open_steps": open_now,
        "history": [r for r in result if r not in open_now],
        "communications": [
            {
                "rule": c.rule_id,
                "kind": c.kind.value,
                "channel": c.channel,
                "state": c.state.value,
                "due": _local(c.due_at),
                "reminded": _local(c.reminded_at),
                "note": c.note,
            }
            for c in session.scalars(
                select(PlannedCommunication)
                .where(PlannedCommunication.suggestion_id == suggestion.id)
                .order_by(PlannedCommunication.id)
            )
        ],
    }
