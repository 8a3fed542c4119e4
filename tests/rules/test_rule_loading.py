"""Rule files: the defaults load; every kind of mistake is refused naming file, rule and key; a
failed reload keeps the last good rules; deadlines, profiles and routing answer as declared."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_files import edit, problems_of, the_problem, write
from typer.testing import CliRunner

from jianyi.cli.rules import rules_app
from jianyi.models.enums import Level, StepKind
from jianyi.rules.loader import (
    DEFAULT_RULES_DIR,
    RuleError,
    RulesHolder,
    deadline_for,
    deadline_rule,
    load_rules,
    seed_unit_kinds,
)

# ---- the defaults -------------------------------------------------------------------------------


def test_the_packaged_defaults_load_and_name_only_real_units() -> None:
    rules = load_rules(DEFAULT_RULES_DIR, units=seed_unit_kinds())
    assert rules.calendar.time_zone == "Asia/Shanghai"
    assert f"{rules.calendar.cutoff:%H:%M}" == "17:00"
    counts = rules.counts()
    assert all(counts[section] > 0 for section in counts), counts
    assert [profile.id for profile in rules.profiles] == ["emergency"]
    # Every step kind is decided: a deadline, or explicitly none.
    assert all(deadline_rule(rules, step_kind=kind) is not None for kind in StepKind)


@pytest.mark.parametrize(
    ("kind", "level", "days", "on_expiry"),
    [
        (StepKind.triage, None, 1, "supervise"),
        (StepKind.objection, None, 5, "lapse"),
        (StepKind.opinion, Level.general, 15, "supervise"),
        (StepKind.opinion, Level.important, 10, "supervise"),
        (StepKind.reply, None, 3, "supervise"),
        (StepKind.rating, None, 10, "lapse"),
    ],
)
def test_the_default_policy(kind: StepKind, level: Level | None, days: int, on_expiry: str) -> None:
    rule = deadline_for(load_rules(DEFAULT_RULES_DIR), step_kind=kind, level=level)
    assert rule is not None
    assert (rule.working_days_for({}), rule.on_expiry) == (days, on_expiry)


def test_a_step_without_a_deadline_says_so_on_purpose() -> None:
    rules = load_rules(DEFAULT_RULES_DIR)
    assert deadline_for(rules, step_kind=StepKind.commendation_result) is None
    rule = deadline_rule(rules, step_kind=StepKind.commendation_result)
    assert rule is not None and rule.working_days is None


def test_the_default_ladder_climbs_from_reminders_to_the_city_office() -> None:
    ladder = next(ladder for ladder in load_rules(DEFAULT_RULES_DIR).ladders if ladder.id == "unit-ladder")
    steps = [
        (rung.at_fraction, rung.after_due_working_days, [a.type for a in rung.actions])
        for rung in ladder.rungs
    ]
    assert steps == [
        (0.5, None, ["remind"]),
        (0.8, None, ["remind"]),
        (None, 0, ["notify_head"]),
        (None, 2, ["supervision_order"]),
        (None, 5, ["escalate", "bulletin"]),
    ]


# ---- mistakes -----------------------------------------------------------------------------------

OPINION_LADDER = """
ladders:
  - id: opinion-ladder
    applies_to: [opinion]
    condition: "{condition}"
    rungs:
      - at_fraction: {fraction}
        actions: [{{type: remind}}]
      - after_due_working_days: 2
        actions:
          - {{type: supervision_order, form: {form}, working_days: 3}}
"""


def ladder(directory: Path, *, condition: str = "true", fraction: str = "0.5", form: str = "written") -> None:
    write(
        directory,
        "escalation-extra.yaml",
        OPINION_LADDER.format(condition=condition, fraction=fraction, form=form),
    )


def test_a_good_extra_ladder_loads(rules_dir: Path) -> None:
    ladder(rules_dir, condition="suggestion.level == 'important'")
    assert "opinion-ladder" in [item.id for item in load_rules(rules_dir).ladders]


def test_a_wrong_enum_value_names_file_rule_key_and_choices(rules_dir: Path) -> None:
    ladder(rules_dir, form="fax")
    problem = the_problem(rules_dir, key="rung 2 actions[0].form")
    assert str(problem) == (
        "escalation-extra.yaml:11: ladder 'opinion-ladder' rung 2 actions[0].form: "
        "expected one of phone, online, written, on_site, got 'fax'"
    )


def test_an_unknown_key_is_named_with_the_near_key(rules_dir: Path) -> None:
    write(
        rules_dir,
        "extra.yaml",
        """
        deadlines:
          - id: opinion-campaign
            step: opinion
            match: {campaign: five-year-plan}
            working_days: 20
            on_expiri: lapse
        """,
    )
    problem = the_problem(rules_dir, key="on_expiri")
    assert (problem.file, problem.line, problem.rule) == ("extra.yaml", 7, "deadline 'opinion-campaign'")
    assert problem.message.startswith("unknown key (did you mean on_expiry? expected one of id, step,")


def test_an_unknown_section_is_named(rules_dir: Path) -> None:
    write(rules_dir, "extra.yaml", "escalations: []\n")
    problem = the_problem(rules_dir, key="escalations")
    assert problem.message.startswith("unknown section (expected one of calendar, deadlines,")


def test_an_unknown_cel_variable_is_refused_when_the_file_loads(rules_dir: Path) -> None:
    ladder(rules_dir, condition="suggestion.levle == 'important'")
    problem = the_problem(rules_dir, key="condition")
    assert problem.rule == "ladder 'opinion-ladder'"
    assert "unknown variable 'suggestion.levle'" in problem.message
    assert "did you mean suggestion.level?" in problem.message


def test_a_cel_type_error_is_refused_when_the_file_loads(rules_dir: Path) -> None:
    ladder(rules_dir, condition="step.iteration == 'second'")
    assert "no matching overload" in the_problem(rules_dir, key="condition").message


@pytest.mark.parametrize(
    ("fraction", "expected"), [("1.5", "less than or equal to 1"), ("0", "greater than 0")]
)
def test_a_fraction_outside_zero_to_one_is_refused(rules_dir: Path, fraction: str, expected: str) -> None:
    ladder(rules_dir, fraction=fraction)
    problem = the_problem(rules_dir, key="rung 1 at_fraction")
    assert problem.rule == "ladder 'opinion-ladder'"
    assert expected in problem.message


def test_rungs_out_of_time_order_are_refused(rules_dir: Path) -> None:
    write(
        rules_dir,
        "extra.yaml",
        """
        ladders:
          - id: backwards
            applies_to: [review]
            rungs:
              - {after_due_working_days: 0, actions: [{type: notify_head}]}
              - {at_fraction: 0.8, actions: [{type: remind}]}
        """,
    )
    problem = the_problem(rules_dir, key="rungs")
    assert problem.message.startswith(
        "rung 2 (at 80% of the goal) does not come after rung 1 (0 WD after due)"
    )


def test_a_rung_needs_exactly_one_point_in_time(rules_dir: Path) -> None:
    write(
        rules_dir,
        "extra.yaml",
        """
        ladders:
          - id: both
            applies_to: [review]
            rungs: [{at_fraction: 0.5, after_due_working_days: 1, actions: [{type: remind}]}]
        """,
    )
    assert "exactly one of at_fraction" in the_problem(rules_dir, key="rung 1").message


def test_a_duplicate_id_names_both_places(rules_dir: Path) -> None:
    write(
        rules_dir,
        "extra.yaml",
        "ladders:\n  - id: unit-ladder\n    applies_to: [review]\n    rungs: [{at_fraction: 0.5, actions: [{type: remind}]}]\n",
    )
    problem = the_problem(rules_dir, key="id")
    assert (problem.file, problem.rule) == ("extra.yaml", "ladder 'unit-ladder'")
    assert problem.message.startswith("id 'unit-ladder' is already used at escalation.yaml:")


def test_a_profile_deadline_id_may_not_repeat_a_base_one(rules_dir: Path) -> None:
    edit(rules_dir, "deadlines.yaml", "- id: emergency-reply", "- id: reply")
    problem = the_problem(rules_dir, key="deadline 'reply' id")
    assert problem.rule == "profile 'emergency'"


def test_broken_yaml_names_file_and_line(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", "routing:\n  - id: broken\n    lead: [city-edu\n")
    [problem] = problems_of(rules_dir)
    assert problem.file == "routing.yaml"
    assert problem.line == 4
    assert problem.message.startswith("YAML syntax error: expected ',' or ']'")


def test_a_repeated_yaml_key_is_refused_not_silently_overwritten(rules_dir: Path) -> None:
    write(rules_dir, "extra.yaml", "routing:\n  - id: twice\n    lead: city-edu\n    lead: city-eco\n")
    [problem] = problems_of(rules_dir)
    assert str(problem) == "extra.yaml:4: YAML error: duplicate key 'lead' (first on line 3) (column 5)"


def test_an_unquoted_cutoff_is_refused(rules_dir: Path) -> None:
    edit(rules_dir, "calendar.yaml", 'cutoff: "17:00"', "cutoff: 17:30")
    problem = the_problem(rules_dir, key="cutoff")
    assert (problem.rule, problem.message) == (
        "calendar",
        "expected a time in quotes such as '17:00', got 1050",
    )


def test_every_step_kind_needs_a_deadline_or_an_explicit_default(rules_dir: Path) -> None:
    edit(
        rules_dir, "deadlines.yaml", "    step: review\n", "    step: review\n    match: {level: important}\n"
    )
    [problem] = problems_of(rules_dir)
    assert (problem.file, problem.rule) == ("deadlines.yaml", "deadlines")
    assert "no rule for step 'review' without a match" in problem.message
    write(rules_dir, "default.yaml", "deadlines:\n  - {id: fallback, step: default, working_days: 5}\n")
    assert deadline_for(load_rules(rules_dir), step_kind=StepKind.review) is not None


def test_a_rule_that_can_never_win_is_refused(rules_dir: Path) -> None:
    write(rules_dir, "extra.yaml", "deadlines:\n  - {id: opinion-again, step: opinion, working_days: 12}\n")
    problem = the_problem(rules_dir, key="match")
    assert problem.message.startswith("same step and match as the rule at deadlines.yaml:")


def test_routing_names_real_units_and_keeps_the_catch_all_last(rules_dir: Path) -> None:
    write(
        rules_dir,
        "routing-extra.yaml",
        """
        routing:
          - {id: everything, lead: city-office}
          - {id: typo, match: {category: 体育}, lead: city-sprots, co: [city-edu]}
          - {id: not-a-district, match: {districts: [city-edu]}, lead: city-edu}
        """,
    )
    found = {(problem.rule, problem.key): problem.message for problem in problems_of(rules_dir)}
    assert found[("route 'everything'", "match")].startswith("matches everything")
    assert found[("route 'typo'", "lead")] == "no unit with code 'city-sprots'"
    assert found[("route 'not-a-district'", "match.districts[0]")].startswith(
        "expected a district office code"
    )


def test_a_phone_call_must_be_logged_by_hand(rules_dir: Path) -> None:
    write(
        rules_dir,
        "extra.yaml",
        """
        communications:
          - id: call-back
            kind: in_progress
            trigger: {event: leader_instructed}
            channel: phone
            timing: {within_working_days: 5}
        """,
    )
    assert "must be manual: true" in the_problem(rules_dir, key="manual").message


def test_a_template_that_is_missing_or_needs_what_its_trigger_lacks_is_refused(rules_dir: Path) -> None:
    # The reply's text exists once a reply is sent, not when the opinion is accepted.
    edit(
        rules_dir, "communications.yaml", "trigger: {event: reply_sent}", "trigger: {event: opinion_accepted}"
    )
    edit(rules_dir, "communications.yaml", "template: rating_request", "template: rating_reminder")
    problems = {(p.file, p.rule, p.key): p.message for p in problems_of(rules_dir)}
    reply = problems[("communications.yaml", "communication 'reply-email'", "template")]
    assert "reply_text" in reply and "opinion_accepted" in reply
    sms = problems[("communications.yaml", "communication 'rating-request-sms'", "template")]
    assert "no sms template 'rating_reminder'" in sms and "rating_reminder.sms.j2" in sms


def test_all_problems_of_all_files_are_reported_at_once(rules_dir: Path) -> None:
    ladder(rules_dir, form="fax")
    write(rules_dir, "extra.yaml", "routing:\n  - {id: Bad Id, lead: city-edu}\n")
    edit(rules_dir, "communications.yaml", "timing: immediate", "timing: soon")
    files = {problem.file for problem in problems_of(rules_dir)}
    assert files == {"escalation-extra.yaml", "extra.yaml", "communications.yaml"}


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path)
    assert "no *.yaml rule files" in problem.message


# ---- the holder ---------------------------------------------------------------------------------


def test_a_failed_reload_keeps_the_last_good_rules(rules_dir: Path) -> None:
    holder = RulesHolder(rules_dir)
    good = holder.rules
    assert holder.reload_if_changed() is False  # nothing changed: nothing loaded

    ladder(rules_dir, form="fax")
    assert holder.reload_if_changed() is False
    assert holder.rules is good
    assert holder.last_error is not None
    assert "got 'fax'" in str(holder.last_error)
    assert holder.reload_if_changed() is False  # the same broken files are not tried again

    ladder(rules_dir, form="on_site")
    assert holder.reload_if_changed() is True
    assert holder.last_error is None
    assert "opinion-ladder" in [item.id for item in holder.rules.ladders]


def test_a_holder_will_not_start_on_bad_rules(rules_dir: Path) -> None:
    ladder(rules_dir, fraction="2")
    with pytest.raises(RuleError, match="at_fraction"):
        RulesHolder(rules_dir)


# ---- the command --------------------------------------------------------------------------------


def test_check_a_good_directory(rules_dir: Path) -> None:
    result = CliRunner().invoke(rules_app, ["check", str(rules_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"rules OK: {rules_dir} (5 files:")
    assert f"  deadlines: {len(load_rules(rules_dir).deadlines)}\n" in result.stdout
    assert "  profile emergency: off\n" in result.stdout


def test_check_a_bad_directory(rules_dir: Path) -> None:
    ladder(rules_dir, form="fax", condition="suggestion.levle == 'x'")
    result = CliRunner().invoke(rules_app, ["check", str(rules_dir)])
    assert result.exit_code == 7
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: 2 problems in {rules_dir}"
    assert lines[1].startswith(
        "  escalation-extra.yaml:5: ladder 'opinion-ladder' condition: unknown variable"
    )
    assert lines[2] == (
        "  escalation-extra.yaml:11: ladder 'opinion-ladder' rung 2 actions[0].form: "
        "expected one of phone, online, written, on_site, got 'fax'"
    )


def test_variables_lists_what_conditions_may_use() -> None:
    result = CliRunner().invoke(rules_app, ["variables"])
    assert result.exit_code == 0
    assert "suggestion.level" in result.stdout and "overdue_working_days" in result.stdout
