"""What the scheduler asks of a rule set: a step's deadline, its ladders, a routing proposal …"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jianyi.models.enums import Channel, Level, Stage, StepKind
from jianyi.rules.schema import (
    CommunicationEvent,
    CommunicationRule,
    DeadlineRule,
    ExtensionRule,
    Ladder,
    Profile,
    RouteRule,
    RuleSet,
)


def active_profiles(ruleset: RuleSet, *, campaign: str | None) -> list[Profile]:
    """Profiles in force for a suggestion of this campaign (or none), in declaration order."""
    return [profile for profile in ruleset.profiles if profile.is_active(campaign)]


def _with_match_fields(
    context: Mapping[str, Any] | None,
    *,
    step_kind: StepKind,
    level: Level | None,
    channel: Channel | None,
    campaign: str | None,
) -> dict[str, Any]:
    # The explicit arguments win over the context, so a condition sees the same suggestion the
    # level/channel/campaign match sees, without the caller saying it twice.
    merged: dict[str, Any] = {
        key: dict(value) if isinstance(value, Mapping) else value for key, value in (context or {}).items()
    }
    step = merged.setdefault("step", {})
    suggestion = merged.setdefault("suggestion", {})
    step.setdefault("kind", step_kind.value)
    for key, value in (("level", level), ("channel", channel), ("campaign", campaign)):
        if value is not None:
            suggestion[key] = value
    return merged


def _most_specific(
    rules: Sequence[DeadlineRule],
    *,
    step_kind: StepKind,
    level: str | None,
    channel: str | None,
    campaign: str | None,
    context: Mapping[str, Any],
) -> DeadlineRule | None:
    best: DeadlineRule | None = None
    for rule in rules:
        if rule.step != step_kind:
            continue
        if best is not None and rule.match.specificity <= best.match.specificity:
            continue  # ties go to the earlier rule; only a strictly more specific one replaces it
        if rule.match.matches(level=level, channel=channel, campaign=campaign, context=context):
            best = rule
    return best


def deadline_rule(
    ruleset: RuleSet,
    *,
    step_kind: StepKind,
    level: Level | None = None,
    channel: Channel | None = None,
    campaign: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> DeadlineRule | None:
    """The rule that governs this step, also when it says "no deadline" (working_days null).

    An active profile's matching rule wins over the base rules (the first active profile that has
    one); within a scope the most specific match wins; a `step: default` rule is the last resort.
    """
    full = _with_match_fields(context, step_kind=step_kind, level=level, channel=channel, campaign=campaign)
    # And the other way round: what the caller left out is read from the context.
    suggestion = full["suggestion"]
    level, channel = suggestion.get("level") or None, suggestion.get("channel") or None
    campaign = suggestion.get("campaign") or None

    def pick(rules: Sequence[DeadlineRule]) -> DeadlineRule | None:
        return _most_specific(
            rules, step_kind=step_kind, level=level, channel=channel, campaign=campaign, context=full
        )

    for profile in active_profiles(ruleset, campaign=campaign):
        found = pick(profile.deadlines)
        if found is not None:
            return found
    found = pick(ruleset.deadlines)
    if found is not None:
        return found
    return next((rule for rule in ruleset.deadlines if rule.step == "default"), None)


def deadline_for(
    ruleset: RuleSet,
    *,
    step_kind: StepKind,
    level: Level | None = None,
    channel: Channel | None = None,
    campaign: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> DeadlineRule | None:
    """The deadline rule for this step, or None when the step has no deadline.

    Its days: ``rule.working_days_for(context)`` (the complex ones when ``complex_when`` holds);
    its clock: ``rule.clock``; what happens at expiry: ``rule.on_expiry``.
    """
    rule = deadline_rule(
        ruleset, step_kind=step_kind, level=level, channel=channel, campaign=campaign, context=context
    )
    return rule if rule is not None and rule.working_days is not None else None


def ladders_for(
    ruleset: RuleSet, *, step_kind: StepKind, context: Mapping[str, Any] | None = None
) -> list[Ladder]:
    """The ladders that watch this step (each rung's own condition is the caller's to evaluate)."""
    return [
        ladder
        for ladder in ruleset.ladders
        if step_kind in ladder.applies_to and (ladder.condition is None or ladder.condition.evaluate(context))
    ]


def extension_for(ruleset: RuleSet, *, step_kind: StepKind) -> ExtensionRule | None:
    """Who may extend this step, by how much and how often; None: it cannot be extended."""
    return next((rule for rule in ruleset.extensions if step_kind in rule.applies_to), None)


def triggered_communications(
    ruleset: RuleSet, *, event: CommunicationEvent | None = None, stage: Stage | None = None
) -> list[CommunicationRule]:
    """The communications this event (or entering this stage) triggers, whatever their conditions."""
    return [
        rule
        for rule in ruleset.communications
        if (event is not None and rule.trigger.event == event)
        or (stage is not None and rule.trigger.stage == stage)
    ]


def communications_for(
    ruleset: RuleSet,
    *,
    event: CommunicationEvent | None = None,
    stage: Stage | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[CommunicationRule]:
    """The communications this event (or entering this stage) triggers and whose condition holds."""
    return [
        rule
        for rule in triggered_communications(ruleset, event=event, stage=stage)
        if rule.condition is None or rule.condition.evaluate(context)
    ]


def route_rule(
    ruleset: RuleSet,
    *,
    category: str | None,
    text: str,
    district: str | None,
    campaign: str | None = None,
) -> RouteRule | None:
    """The routing row that matches (its id says why the units were proposed): for an item answering
    a campaign, the first of that campaign's own rows (``match.campaigns``) wherever they stand in
    the table; else the first of the rows that name no campaign."""
    if campaign:
        own = campaign_route_rule(ruleset, campaign=campaign, category=category, text=text, district=district)
        if own is not None:
            return own
    return next(
        (
            rule
            for rule in ruleset.routing
            if not rule.match.campaigns
            and rule.match.matches(category=category, text=text, district=district)
        ),
        None,
    )


def campaign_route_rule(
    ruleset: RuleSet, *, campaign: str, category: str | None, text: str, district: str | None
) -> RouteRule | None:
    """The first of a campaign's own routing rows that matches, or None."""
    return next(
        (
            rule
            for rule in ruleset.routing
            if campaign in rule.match.campaigns
            and rule.match.matches(category=category, text=text, district=district, campaign=campaign)
        ),
        None,
    )


def route(
    ruleset: RuleSet,
    *,
    category: str | None,
    text: str,
    district: str | None,
    campaign: str | None = None,
) -> tuple[str, tuple[str, ...]] | None:
    """(lead unit code, co-handling unit codes) proposed for triage, or None when no row matches."""
    rule = route_rule(ruleset, category=category, text=text, district=district, campaign=campaign)
    return (rule.lead, tuple(rule.co)) if rule is not None else None
