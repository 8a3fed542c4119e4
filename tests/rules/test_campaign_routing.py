"""A campaign's own triage routing (主动征集): rows of the routing table that name campaigns are tried
first for an item answering one of them, wherever they stand; other items never match them; a
routing to an unknown unit is refused by ``jianyi rules check``, naming file, rule and key."""

from __future__ import annotations

from pathlib import Path

from rule_files import problems_of, write
from typer.testing import CliRunner

from jianyi.cli.rules import rules_app
from jianyi.rules.loader import load_rules, seed_unit_kinds
from jianyi.rules.lookup import campaign_route_rule, route, route_rule

CAMPAIGN_ROWS = """
routing:
  - id: night-bus-schools
    # 夜间公交征集中涉及学校的建议：市教委主办，市交通委协办。
    match: {campaigns: [night-bus], keywords: [学校]}
    lead: city-edu
    co: [city-transport]
  - id: night-bus
    match: {campaigns: [night-bus, late-metro]}
    lead: city-transport
    co: [city-police]
"""


def test_a_campaigns_own_rows_come_first_and_only_for_it(rules_dir: Path) -> None:
    write(rules_dir, "zz-campaigns.yaml", CAMPAIGN_ROWS)  # loaded last: after the general table
    rules = load_rules(rules_dir, units=seed_unit_kinds())
    text = "夜间公交线路太少，学校晚自习后学生回家不便"

    def lead(campaign: str | None, words: str = text) -> str | None:
        found = route_rule(rules, category=None, text=words, district=None, campaign=campaign)
        return found.id if found else None

    assert lead("night-bus") == "night-bus-schools"  # its own rows, though the table's 学校/公交 rows precede
    assert lead("night-bus", "夜班公交间隔太长") == "night-bus"
    assert lead("late-metro", "地铁末班车") == "night-bus"
    assert route(rules, category=None, text="地铁末班车", district=None, campaign="late-metro") == (
        "city-transport",
        ("city-police",),
    )
    assert lead(None) == "transport-keywords"  # an item of no campaign: the general table
    assert lead("another-campaign") == "transport-keywords"  # a campaign without rows of its own
    none = campaign_route_rule(rules, campaign="another-campaign", category=None, text=text, district=None)
    assert none is None


def test_a_campaign_routing_to_an_unknown_unit_is_refused(rules_dir: Path) -> None:
    write(rules_dir, "zz-campaigns.yaml", CAMPAIGN_ROWS.replace("co: [city-police]", "co: [city-polize]"))
    problems = [(p.file, p.rule, p.key, p.message) for p in problems_of(rules_dir)]
    assert problems == [
        ("zz-campaigns.yaml", "route 'night-bus'", "co[0]", "no unit with code 'city-polize'")
    ]
    result = CliRunner().invoke(rules_app, ["check", str(rules_dir)])
    assert result.exit_code == 7
    assert "zz-campaigns.yaml:" in result.output and "route 'night-bus' co[0]:" in result.output
    assert "city-polize" in result.output


def test_a_campaign_row_is_no_catch_all(rules_dir: Path) -> None:
    # Only a campaign named: it matches every item of that campaign, not everything; the table's
    # own catch-all may stay last of the general rows with campaign rows after it.
    write(
        rules_dir,
        "zz-campaigns.yaml",
        "routing:\n  - {id: all-else, lead: city-office}\n  - {id: c, match: {campaigns: [x-y]}, lead: city-edu}\n",
    )
    assert load_rules(rules_dir, units=seed_unit_kinds()).routing[-1].id == "c"
