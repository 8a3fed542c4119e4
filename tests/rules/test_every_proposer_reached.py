"""The rules check refuses communications that leave some kind of proposer untold: every outcome,
and the acknowledgement, must reach a proposer who gave only an e-mail, only a mobile, only a
landline, only a postal address, or (by letter or at a visit) nothing at all."""

from __future__ import annotations

import re
from pathlib import Path

from rule_files import edit, problems_of

from jianyi.rules.loader import DEFAULT_RULES_DIR, load_rules, seed_unit_kinds


def _drop_rule(directory: Path, rule_id: str) -> None:
    """Remove one rule (its `- id:` item up to the next one) from communications.yaml."""
    path = directory / "communications.yaml"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"\n  - id: {re.escape(rule_id)}\n.*?(?=\n  - id: |\n  # ----|\Z)", re.S)
    assert pattern.search(text), rule_id
    path.write_text(pattern.sub("", text, count=1), encoding="utf-8")


def test_the_default_rules_tell_every_kind_of_proposer() -> None:
    """The shipped rules pass the check (it raises RuleError otherwise), and they do tell each kind
    of contact: outcome rules exist for e-mail, SMS, calls and letters."""
    rules = load_rules(DEFAULT_RULES_DIR, units=seed_unit_kinds())
    outcome_rules = {r.id for r in rules.communications if r.id.startswith("outcome")}
    assert {"outcome-sms", "outcome-call", "outcome-letter"} <= outcome_rules


def test_rules_that_tell_only_proposers_with_e_mail_are_refused(rules_dir: Path) -> None:
    # As the rules were: the outcome went by e-mail or not at all.
    for medium in ("sms", "call", "letter"):
        for template in ("outcome-redirected", "outcome-merged", "outcome"):
            _drop_rule(rules_dir, f"{template}-{medium}")
    problems = [p for p in problems_of(rules_dir) if p.rule == "communications"]
    told = {p.message.split(" is never told", 1)[0] for p in problems}
    assert told == {
        "a proposer with only a mobile number",
        "a proposer with only a landline number",
        "a proposer with only a postal address",
        "a proposer with no contact, by letter",
        "a proposer with no contact, at a visit",
    }
    assert all(p.file == "communications.yaml" and "never told the outcome" in p.message for p in problems)
    assert "redirected (已转投诉求决渠道办理)" in problems[0].message


def test_an_sms_rule_for_a_landline_does_not_count(rules_dir: Path) -> None:
    # A landline cannot take an SMS: without the call, its holder hears nothing of the receipt.
    _drop_rule(rules_dir, "acknowledgement-call")
    edit(
        rules_dir,
        "communications.yaml",
        "!proposer.has_email && proposer.has_mobile",
        "!proposer.has_email && proposer.has_phone",
    )
    problems = [p.message for p in problems_of(rules_dir) if p.rule == "communications"]
    assert problems == [
        "a proposer with only a landline number is never told of the receipt: no rule for event "
        "suggestion_received holds for them with a medium they have",
        "a proposer with no contact, at a visit is never told of the receipt: no rule for event "
        "suggestion_received holds for them with a medium they have",
    ]
