"""`rules backtest`: a small history replayed under changed rules, counts checked by hand (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from sqlalchemy.orm import Session, sessionmaker
from support import NOT_ADOPT, triage

from jianyi.models.enums import StepKind
from jianyi.rules.loader import DEFAULT_RULES_DIR, load_rules
from jianyi.services.backtest import BacktestReport, backtest

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday: day 0
ANSWERED = datetime(2026, 11, 9, 2, 0, tzinfo=UTC)  # Mon 11-09 10:00 Shanghai (working day 5)
SWEEPS = [datetime(2026, 11, d, 2, 0, tzinfo=UTC) for d in (12, 19, 24)]
UNTIL = SWEEPS[-1]  # Tue 11-24 10:00 Shanghai: the two open opinions are taken to stop here


@pytest.fixture
def history(sessions: sessionmaker[Session], users: Any) -> list[int]:
    """Three suggestions from Huangpu, referred to city-transport on Monday 2026-11-02 (opinion: 15 WD).

    Under the default rules an opinion's unit-ladder rungs fall at the end of (Shanghai):
    #1 (50 %: 7 WD) Wed 11-11, #2 (80 %: 12 WD) Wed 11-18, #3 (due, 15 WD) Mon 11-23,
    #4 (+2 WD) Wed 11-25, #5 (+5 WD) Mon 11-30.
    A answers its opinion Mon 11-09 10:00, before #1; B and C are left alone and swept on 11-12,
    11-19 and 11-24, so their #1–#3 fire, #4 and #5 are still pending.
    """
    clock = Clock(sessions, users)
    ids = [clock.submit(MONDAY) for _ in range(3)]
    for suggestion_id in ids:
        clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    clock.complete(ids[0], StepKind.opinion, "transport", NOT_ADOPT, ANSWERED)
    for at in SWEEPS:
        clock.sweep(at)
    return ids


def _rules(tmp_path: Path, file: str, old: str, new: str) -> Path:
    directory = tmp_path / "other-rules"
    shutil.copytree(DEFAULT_RULES_DIR, directory)
    text = (directory / file).read_text(encoding="utf-8")
    assert old in text
    (directory / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    return directory


def _run(sessions: sessionmaker[Session], directory: Path) -> BacktestReport:
    with sessions() as session:
        return backtest(
            session, rules=load_rules(directory), since=datetime(2026, 11, 1, tzinfo=UTC), until=UNTIL
        )


def _counts(report: BacktestReport) -> dict[str, tuple[int, dict[str, int], dict[str, int]]]:
    return {
        bucket: (counts.total, counts.by_rung, counts.by_unit)
        for bucket in ("would_fire", "would_not_fire", "moved", "deadline")
        if (counts := getattr(report, bucket)).total
    }


def test_the_rules_in_force_replay_to_no_difference(
    history: list[int], sessions: sessionmaker[Session]
) -> None:
    report = _run(sessions, DEFAULT_RULES_DIR)
    # triage, opinion, objection, extension request (no deadline) ×3 and A's review: replayed, none different.
    assert report.steps == 13
    assert report.differences == 0 and report.examples == []


def test_an_earlier_first_reminder(
    history: list[int], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    directory = _rules(tmp_path, "escalation.yaml", "- at_fraction: 0.5", "- at_fraction: 0.3")
    report = _run(sessions, directory)
    # The unit-ladder's #1 at 30 % of 15 WD: floor(4.5) = 4 WD, the end of Fri 11-06; the rest unchanged.
    # A (answered Mon 11-09 10:00): 11-06 is before it, and its #1 was moot: would fire, did not → 1.
    # B, C: #1 fired (fire_at 11-11), would have at 11-06, five days apart: moved → 2.
    # #4 (11-25) is after UNTIL for both rule sets: no difference. Deadlines: unchanged.
    assert _counts(report) == {
        "would_fire": (1, {"unit-ladder#1": 1}, {"city-transport": 1}),
        "moved": (2, {"unit-ladder#1": 2}, {"city-transport": 2}),
    }
    first = report.examples[0]
    assert (first.bucket, first.suggestion_id, first.kind, first.unit) == (
        "would_fire",
        history[0],
        "opinion",
        "city-transport",
    )
    assert first.tracking_code and first.actual_at is not None and first.replay_at is not None
    assert (
        first.replay_at.date().isoformat() == "2026-11-06"
        and first.actual_at.date().isoformat() == "2026-11-11"
    )


def test_a_shorter_opinion_goal(history: list[int], sessions: sessionmaker[Session], tmp_path: Path) -> None:
    directory = _rules(
        tmp_path,
        "deadlines.yaml",
        "label: 办理意见（一般件）15 个工作日\n    working_days: 15",
        "label: 办理意见（一般件）10 个工作日\n    working_days: 10",
    )
    report = _run(sessions, directory)
    # 10 WD from Mon 11-02: due the end of Mon 11-16; #1 floor(5) = 5 WD Mon 11-09, #2 floor(8) = 8 WD
    # Thu 11-12, #3 Mon 11-16, #4 Wed 11-18, #5 Mon 11-23 (15:59:59 UTC, before UNTIL 11-24 02:00 UTC).
    # Deadline: all three opinions (15 → 10 WD) → 3.
    # A (answered Mon 11-09 10:00, before the end of 11-09): no rung would have fired → 0.
    # B, C: #1, #2, #3 fired in both, days apart → moved 3 × 2 = 6; #4, #5 would fire, did not → 2 × 2 = 4.
    assert _counts(report) == {
        "would_fire": (4, {"unit-ladder#4": 2, "unit-ladder#5": 2}, {"city-transport": 4}),
        "moved": (6, {"unit-ladder#1": 2, "unit-ladder#2": 2, "unit-ladder#3": 2}, {"city-transport": 6}),
        "deadline": (3, {}, {"city-transport": 3}),
    }
    assert report.deadline.by_kind == {"opinion": 3}
    changed = [d for d in report.examples if d.bucket == "deadline"]
    assert {(d.actual_working_days, d.replay_working_days) for d in changed} == {(15, 10)}
    assert len(report.examples) == 10  # 13 differences, the first 10 shown


def test_the_command(history: list[int], cli_on: None, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from jianyi.cli.main import app

    directory = _rules(tmp_path, "escalation.yaml", "- at_fraction: 0.5", "- at_fraction: 0.3")
    base = [
        "rules",
        "backtest",
        "--rules",
        str(directory),
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-24T10:00",
    ]
    result = CliRunner().invoke(app, [*base, "--json", "--examples", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["would_fire"]["by_rung"] == {"unit-ladder#1": 1} and len(report["examples"]) == 2
    assert report["until"] == "2026-11-24T10:00:00+08:00"  # a naive --until is read in Shanghai
    table = CliRunner().invoke(app, base)
    assert table.exit_code == 0, table.output
    assert "应触发而未触发 Would fire, did not: 1" in table.output and "unit-ladder#1" in table.output

    (directory / "escalation.yaml").write_text("ladders: [{id: broken}]\n", encoding="utf-8")
    refused = CliRunner().invoke(app, [*base[:4], "--since", "2026-11-01"])
    assert refused.exit_code == 7
    assert "escalation.yaml" in refused.output


def test_extended_and_paused_steps_replay_to_no_difference(
    sessions: sessionmaker[Session], users: Any
) -> None:
    """Under the rules in force, a step whose goal was extended or whose clock stood still replays
    to its record: rungs on the goal in force at the time, none while paused."""
    from jianyi.services import clocks

    clock = Clock(sessions, users)
    extended, paused = clock.submit(MONDAY), clock.submit(MONDAY)
    for suggestion_id in (extended, paused):
        clock.complete(suggestion_id, StepKind.triage, "huangpu", triage(), MONDAY)
    clock.sweep(SWEEPS[0])  # Thu 11-12: each opinion's #1 (Wed 11-11) fires on the 15-WD goal
    request = {"working_days": 5, "reasons": "需开展客流调查"}
    clock.complete(extended, StepKind.extension_request, "transport", request, SWEEPS[0])
    clock.complete(extended, StepKind.extension_decision, "huangpu", {"approved": True}, SWEEPS[0])
    opinion = clock.step(paused, StepKind.opinion)
    with sessions() as session:
        transport = clock.actors["transport"]
        clocks.pause(session, actor=transport, step_id=opinion.id, reason="等待补充材料", now=SWEEPS[0])
        clocks.resume(
            session, actor=transport, step_id=opinion.id, now=datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
        )
        session.commit()
    for at in SWEEPS[1:]:
        clock.sweep(at)
    assert clock.step(extended, StepKind.opinion).due_working_days == 20
    assert clock.step(paused, StepKind.opinion).due_working_days == 16
    report = _run(sessions, DEFAULT_RULES_DIR)
    assert report.differences == 0, report.examples
