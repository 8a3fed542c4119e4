"""The wait for a leader's instruction under the rules: a deadline and a ladder like any step, and an
item not instructed in time goes on as "no instruction" where the rule says so (on both databases)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from digest_seed import seed_important
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.models import LeaderInstruction, Step, Suggestion
from jianyi.models.enums import StepKind, StepState
from jianyi.rules.capabilities import LAPSABLE_STEPS
from jianyi.rules.loader import DEFAULT_RULES_DIR, load_rules
from jianyi.rules.problems import RuleError
from jianyi.services.deadlines import current_rules
from jianyi.services.lifecycle.engine import advance
from jianyi.services.lifecycle.stages import spec_of


def test_the_default_rules_time_the_wait_and_lapse_it() -> None:
    rules = current_rules()
    [rule] = [r for r in rules.deadlines if r.step is StepKind.leader_instruction]
    assert rule.working_days == 15 and rule.on_expiry == "lapse"
    assert any(StepKind.leader_instruction in ladder.applies_to for ladder in rules.ladders)
    assert StepKind.leader_instruction in LAPSABLE_STEPS and spec_of(StepKind.leader_instruction).may_lapse


def test_an_item_not_instructed_in_time_goes_on_without_instruction(
    sessions: sessionmaker[Session], users: Any
) -> None:
    clock = Clock(sessions, users)
    [suggestion] = seed_important(clock, count=1)
    step = clock.step(suggestion, StepKind.leader_instruction)
    assert step.state is StepState.open and step.due_at is not None
    # 15 working days from Tuesday 3 November: Tuesday 24 November, end of the office's day.
    assert step.due_at.date().isoformat() == "2026-11-24"
    fired: list[Any] = []
    for timer in clock.timers(step.id):
        fired += clock.sweep(timer.fire_at + timedelta(seconds=1))
    actions = [a["type"] for f in fired if f.step_id == step.id for a in f.actions]
    assert actions[:2] == ["remind", "notify_head"]  # the ladder, before the deadline
    with sessions() as session:
        lapsed = session.get_one(Step, step.id)
        assert lapsed.state is StepState.submitted and lapsed.input is None  # closed unanswered
        advance(session, suggestion_id=suggestion, now=step.due_at + timedelta(days=1))
        session.commit()
    with sessions() as session:
        assert session.get_one(Step, step.id).state is StepState.lapsed
        row = session.scalar(select(LeaderInstruction).where(LeaderInstruction.suggestion_id == suggestion))
        assert row is not None and row.has_instruction is False and row.text is None
        case = session.get_one(Suggestion, suggestion)
        assert case.instructed is False and case.stage.value == "research"
        kinds = set(
            session.scalars(
                select(Step.kind).where(Step.suggestion_id == suggestion, Step.state == StepState.open)
            )
        )
        assert StepKind.opinion in kinds and StepKind.proposer_hearing not in kinds


def test_a_bad_digest_schedule_is_refused_naming_its_key(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    calendar = rules / "calendar.yaml"
    calendar.write_text(
        calendar.read_text(encoding="utf-8").replace('cron: "0 9 * * fri"', 'cron: "every friday"'),
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as refused:
        load_rules(rules)
    [problem] = refused.value.problems
    assert problem.file == "calendar.yaml" and "cron" in str(problem) and "every friday" in str(problem)
    assert load_rules(DEFAULT_RULES_DIR).cycles.digest.cron == "0 9 * * fri"
