"""What the engine cannot honour, `jianyi rules check` refuses, naming file, rule and key: a lapse
on a step that must be answered, a clock event the engine never sends, an extension no step can ask
for, a routing row on the category triage has not yet given."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_files import edit, problems_of, the_problem, write
from typer.testing import CliRunner

from jianyi.cli.rules import rules_app
from jianyi.rules.capabilities import LAPSABLE_STEPS

_OPINION = "label: 办理意见（一般件）15 个工作日\n    working_days: 15\n"


def test_a_step_that_must_be_answered_cannot_lapse(rules_dir: Path) -> None:
    edit(rules_dir, "deadlines.yaml", _OPINION, _OPINION + "    on_expiry: lapse\n")
    problem = the_problem(rules_dir, key="on_expiry")
    assert (problem.file, problem.rule) == ("deadlines.yaml", "deadline 'opinion-general'")
    assert problem.line is not None
    assert "opinion steps must be answered, they cannot lapse" in problem.message
    assert all(kind.value in problem.message for kind in LAPSABLE_STEPS)


def test_a_profile_or_default_rule_cannot_lapse_either(rules_dir: Path) -> None:
    write(
        rules_dir,
        "extra.yaml",
        """
        deadlines:
          - {id: fallback, step: default, working_days: 5, on_expiry: lapse}
        profiles:
          - id: quick
            deadlines:
              - {id: quick-review, step: review, working_days: 1, on_expiry: lapse}
        """,
    )
    found = {(p.rule, p.key) for p in problems_of(rules_dir)}
    assert ("deadline 'fallback'", "on_expiry") in found
    assert ("profile 'quick'", "deadlines[0].on_expiry") in found or (
        "profile 'quick'",
        "deadline 'quick-review' on_expiry",
    ) in found


@pytest.mark.parametrize(
    ("clock", "key", "words"),
    [
        (
            "{start: awaiting_proposer, pause: [], resume: [], stop: [step_submitted, step_cancelled, "
            "suggestion_closed]}",
            "start",
            "when its step opens",
        ),
        ("{pause: [step_opened], resume: [proposer_responded]}", "pause", "[awaiting_proposer] or []"),
        ("{pause: [awaiting_proposer], resume: [step_cancelled]}", "resume", "[proposer_responded]"),
        ("{stop: [step_submitted]}", "stop", "on submit, cancel and close"),
    ],
)
def test_a_clock_the_engine_does_not_keep_is_refused(
    rules_dir: Path, clock: str, key: str, words: str
) -> None:
    edit(rules_dir, "deadlines.yaml", _OPINION, _OPINION + f"    clock: {clock}\n")
    [problem] = [p for p in problems_of(rules_dir) if p.key is not None and p.key.startswith("clock")]
    assert (problem.file, problem.rule, problem.key) == (
        "deadlines.yaml",
        "deadline 'opinion-general'",
        f"clock.{key}",
    )
    assert words in problem.message


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ("applies_to: [opinion]", "applies_to: [opinion, co_opinion]", "applies_to", "co_opinion step"),
        ("approver: office", "approver: department", "approver", "the handling office decides"),
        ("max_count: 1", "max_count: 2", "max_count", "once per referral"),
    ],
)
def test_an_extension_no_step_can_ask_for_is_refused(
    rules_dir: Path, old: str, new: str, key: str, words: str
) -> None:
    edit(rules_dir, "deadlines.yaml", old, new)
    problem = the_problem(rules_dir, key=key)
    assert (problem.file, problem.rule) == ("deadlines.yaml", "extension 'opinion-extension'")
    assert words in problem.message


def test_a_routing_row_on_the_category_never_matches_and_is_refused(rules_dir: Path) -> None:
    write(
        rules_dir,
        "routing-extra.yaml",
        "routing:\n  - {id: sport, match: {category: 体育}, lead: city-edu}\n",
    )
    problem = the_problem(rules_dir, key="match.category")
    assert (problem.file, problem.rule, problem.line) == ("routing-extra.yaml", "route 'sport'", 2)
    assert "before triage gives a category" in problem.message


def test_the_command_names_file_rule_and_key(rules_dir: Path) -> None:
    edit(rules_dir, "deadlines.yaml", _OPINION, _OPINION + "    on_expiry: lapse\n")
    result = CliRunner().invoke(rules_app, ["check", str(rules_dir)])
    assert result.exit_code == 7
    assert "deadlines.yaml:" in result.output and "deadline 'opinion-general' on_expiry:" in result.output
