"""Rule lookups: the most specific deadline wins, profiles switch on, routing's first match wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_files import edit

from jianyi.models.enums import Channel, Level, StepKind
from jianyi.rules.loader import (
    DEFAULT_RULES_DIR,
    deadline_for,
    load_rules,
    route,
    route_rule,
)
from jianyi.rules.schema import RuleSet

# ---- lookups ------------------------------------------------------------------------------------


def specific_rules() -> RuleSet:
    base = [{"id": f"kind-{kind.value}", "step": kind.value, "working_days": 5} for kind in StepKind]
    return RuleSet.model_validate(
        {
            "deadlines": [
                *base,
                {"id": "important", "step": "opinion", "match": {"level": "important"}, "working_days": 10},
                {
                    "id": "mailbox",
                    "step": "opinion",
                    "match": {"channel": "leader_mailbox"},
                    "working_days": 9,
                },
                {
                    "id": "important-mailbox",
                    "step": "opinion",
                    "match": {"level": "important", "channel": "leader_mailbox"},
                    "working_days": 7,
                },
                {
                    "id": "rework",
                    "step": "opinion",
                    "match": {"condition": "step.iteration > 1"},
                    "working_days": 8,
                },
            ]
        }
    )


@pytest.mark.parametrize(
    ("level", "channel", "iteration", "expected"),
    [
        (Level.general, Channel.mailbox, 1, "kind-opinion"),
        (Level.important, Channel.mailbox, 1, "important"),
        (Level.general, Channel.leader_mailbox, 1, "mailbox"),
        (Level.important, Channel.leader_mailbox, 1, "important-mailbox"),  # two fields beat one
        (Level.general, Channel.mailbox, 2, "rework"),
        (Level.important, Channel.mailbox, 2, "important"),  # a tie: the rule listed first
    ],
)
def test_the_most_specific_deadline_wins(
    level: Level, channel: Channel, iteration: int, expected: str
) -> None:
    rule = deadline_for(
        specific_rules(),
        step_kind=StepKind.opinion,
        level=level,
        channel=channel,
        context={"step": {"iteration": iteration}},
    )
    assert rule is not None and rule.id == expected


def test_match_fields_may_come_from_the_context() -> None:
    rule = deadline_for(
        specific_rules(), step_kind=StepKind.opinion, context={"suggestion": {"level": "important"}}
    )
    assert rule is not None and rule.id == "important"


def test_the_emergency_profile_for_the_whole_office(rules_dir: Path) -> None:
    edit(rules_dir, "deadlines.yaml", "office: false", "office: true")
    rules = load_rules(rules_dir)
    simple = deadline_for(rules, step_kind=StepKind.opinion, level=Level.important)
    assert simple is not None and (simple.id, simple.working_days_for({})) == ("emergency-opinion", 3)
    several_units = {"suggestion": {"co_unit_count": 2}}
    assert simple.working_days_for(several_units) == 5
    rating = deadline_for(rules, step_kind=StepKind.rating)  # not overridden: the base rule
    assert rating is not None and rating.id == "rating"


def test_the_emergency_profile_for_one_campaign(rules_dir: Path) -> None:
    edit(rules_dir, "deadlines.yaml", "campaigns: []", "campaigns: [epidemic-2022]")
    rules = load_rules(rules_dir)
    during = deadline_for(rules, step_kind=StepKind.opinion, campaign="epidemic-2022")
    other = deadline_for(rules, step_kind=StepKind.opinion, campaign="five-year-plan")
    assert during is not None and during.id == "emergency-opinion"
    assert other is not None and other.id == "opinion-general"


@pytest.mark.parametrize(
    ("category", "text", "district", "expected"),
    [
        ("交通出行", "建议优化公交71路发车间隔", None, ("city-transport", ())),
        # first match wins: the traffic-light row comes before the transport rows
        ("交通出行", "路口红绿灯配时不合理，公交排队过长", None, ("city-police", ("city-transport",))),
        (None, "关于适当提高城乡居民养老金的建议", None, ("city-hrss", ())),
        (None, "社区老年人助餐点太少", None, ("city-civil-affairs", ())),
        (None, "老旧小区加装电梯审批太慢", None, ("city-housing", ("city-housing-construction",))),
        (None, "推进崇明世界级生态岛建设", "chongming-office", ("city-eco", ("chongming-office",))),
        (None, "推进崇明世界级生态岛建设", "pudong-office", None),  # the district does not match
        (None, "建议多举办社区音乐会", None, None),
    ],
)
def test_routing_first_match_wins(
    category: str | None, text: str, district: str | None, expected: tuple[str, tuple[str, ...]] | None
) -> None:
    rules = load_rules(DEFAULT_RULES_DIR)
    assert route(rules, category=category, text=text, district=district) == expected


def test_the_routing_row_that_matched_is_known() -> None:
    rule = route_rule(load_rules(DEFAULT_RULES_DIR), category=None, text="地铁末班车延后", district=None)
    assert rule is not None and rule.id == "transport-keywords"
