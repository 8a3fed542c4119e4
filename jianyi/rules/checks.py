"""Checks that span the files of a rules directory: each is a mistake a single model cannot see."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jianyi.models.enums import StepKind, UnitKind
from jianyi.rules.problems import Problem, locate
from jianyi.rules.reach import untold
from jianyi.rules.schema import LIST_SECTIONS, DeadlineRule
from jianyi.rules.sources import Source

Loc = tuple[int | str, ...]


def _at(source: Source, loc: Loc, message: str) -> Problem:
    rule, key, line = locate(source.raw, loc)
    return Problem(source.name, rule, key, message, line)


def _where(source: Source, loc: Loc) -> str:
    line = locate(source.raw, loc)[2]
    return source.name if line is None else f"{source.name}:{line}"


def _items(sources: Sequence[Source], section: str) -> Iterator[tuple[Source, Loc, Any]]:
    for source in sources:
        for index, item in enumerate(getattr(source.rules, section)):
            yield source, (section, index), item


def _deadline_rules(sources: Sequence[Source]) -> Iterator[tuple[Source, Loc, DeadlineRule, str | None]]:
    """Every deadline rule with its place: the base ones, then each profile's (with the profile id)."""
    for source, loc, rule in _items(sources, "deadlines"):
        yield source, loc, rule, None
    for source, loc, profile in _items(sources, "profiles"):
        for index, rule in enumerate(profile.deadlines):
            yield source, (*loc, "deadlines", index), rule, profile.id


def _unique_ids(sources: Sequence[Source]) -> list[Problem]:
    problems: list[Problem] = []
    for section in LIST_SECTIONS:
        if section == "deadlines":
            # Base and profile deadlines share one namespace: the scheduler records the rule id
            # that set a due date, and it must say which rule that was.
            places = [(source, loc, rule.id) for source, loc, rule, _ in _deadline_rules(sources)]
        else:
            places = [(source, loc, item.id) for source, loc, item in _items(sources, section)]
        seen: dict[str, tuple[Source, Loc]] = {}
        for source, loc, ident in places:
            if ident in seen:
                first = _where(*seen[ident])
                problems.append(_at(source, (*loc, "id"), f"id {ident!r} is already used at {first}"))
            else:
                seen[ident] = (source, loc)
    return problems


def _calendar_once(sources: Sequence[Source]) -> list[Problem]:
    defined = [source for source in sources if source.rules.calendar is not None]
    return [
        _at(source, ("calendar",), f"calendar is already defined in {defined[0].name}: keep one")
        for source in defined[1:]
    ]


def _deadlines(sources: Sequence[Source], directory: str, *, complete: bool) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str | None, str, Any], tuple[Source, Loc]] = {}
    defaults: list[tuple[Source, Loc]] = []
    fallback: set[str] = set()
    for source, loc, rule, profile in _deadline_rules(sources):
        if rule.step == "default":
            if profile is not None:
                problems.append(
                    _at(
                        source,
                        (*loc, "step"),
                        "a profile overrides step kinds: 'default' is for the base rules",
                    )
                )
            else:
                defaults.append((source, loc))
            continue
        if profile is None and rule.match.specificity == 0:
            fallback.add(rule.step)
        # Same step and same match in one scope: the second can never win (ties go to the first).
        signature = (profile, rule.step, rule.match)
        if signature in seen:
            first = _where(*seen[signature])
            problems.append(
                _at(source, (*loc, "match"), f"same step and match as the rule at {first}: it never applies")
            )
        else:
            seen[signature] = (source, loc)
    for source, loc in defaults[1:]:
        problems.append(
            _at(source, (*loc, "step"), f"a second default rule (the first is at {_where(*defaults[0])})")
        )
    if not defaults and complete:
        blame = next((s for s in sources if s.rules.deadlines), None)
        for kind in StepKind:
            if kind.value not in fallback:
                message = (
                    f"no rule for step {kind.value!r} without a match: every step kind needs one "
                    "(write working_days: null for a step without a deadline) or add a step: default rule"
                )
                problems.append(Problem(blame.name if blame else directory, "deadlines", None, message))
    return problems


def _extensions(sources: Sequence[Source]) -> list[Problem]:
    problems: list[Problem] = []
    owner: dict[StepKind, tuple[Source, Loc]] = {}
    for source, loc, rule in _items(sources, "extensions"):
        for index, kind in enumerate(rule.applies_to):
            if kind in owner:
                first = _where(*owner[kind])
                problems.append(
                    _at(
                        source,
                        (*loc, "applies_to", index),
                        f"step {kind.value!r} already has extension rules at {first}",
                    )
                )
            else:
                owner[kind] = (source, loc)
    return problems


def _routing(sources: Sequence[Source], units: Mapping[str, UnitKind] | None) -> list[Problem]:
    problems: list[Problem] = []
    rows = list(_items(sources, "routing"))
    # A campaign's own rows are tried before the others (lookup.route_rule): the catch-all is the
    # last of the rows that name no campaign.
    general = [(source.name, loc) for source, loc, rule in rows if not rule.match.campaigns]
    seen: dict[Any, tuple[Source, Loc]] = {}
    for source, loc, rule in rows:
        if rule.match.category is not None:
            # The proposal is made before triage, and only triage says the category: such a row
            # would never match. Keywords in the title or content say the same thing in time.
            problems.append(
                _at(
                    source,
                    (*loc, "match", "category"),
                    "the routing proposal is made before triage gives a category, so a category row "
                    "never matches: match keywords of the title or content instead",
                )
            )
        if rule.match.is_catch_all and (source.name, loc) != general[-1]:
            problems.append(
                _at(
                    source,
                    (*loc, "match"),
                    "matches everything: only the last route may, or later ones never apply",
                )
            )
        signature = (
            rule.match.category,
            frozenset(rule.match.keywords),
            frozenset(rule.match.districts),
            frozenset(rule.match.campaigns),
        )
        if signature in seen:
            problems.append(
                _at(
                    source,
                    (*loc, "match"),
                    f"same match as the route at {_where(*seen[signature])}: never applies",
                )
            )
        else:
            seen.setdefault(signature, (source, loc))
        if units is None:
            continue
        named: list[tuple[Loc, str]] = [
            (("lead",), rule.lead),
            *((("co", i), c) for i, c in enumerate(rule.co)),
        ]
        for path, code in named:
            if code not in units:
                problems.append(_at(source, (*loc, *path), f"no unit with code {code!r}"))
        for index, code in enumerate(rule.match.districts):
            if units.get(code) is not UnitKind.district_office:
                found = f"a {units[code].value}" if code in units else "no unit"
                problems.append(
                    _at(
                        source,
                        (*loc, "match", "districts", index),
                        f"expected a district office code, {code!r} is {found}",
                    )
                )
    return problems


def _templates(sources: Sequence[Source]) -> list[Problem]:
    """Every template exists for its channel and renders with what its trigger gives (messages.py)."""
    # Imported here: the messages module pulls in Jinja2, which only this check of the rules needs.
    from jianyi.rules.messages import template_problem

    problems: list[Problem] = []
    for source, loc, rule in _items(sources, "communications"):
        if rule.template is None:
            continue
        trigger = (
            f"event:{rule.trigger.event.value}" if rule.trigger.event else f"stage:{rule.trigger.stage.value}"
        )
        # A person holds a manual one: its template is a text to print (a letter) or to read out.
        problem = template_problem(rule.template, "letter" if rule.manual else rule.channel, trigger)
        if problem is not None:
            problems.append(_at(source, (*loc, "template"), problem))
    return problems


def _everyone_told(sources: Sequence[Source], directory: str, *, complete: bool) -> list[Problem]:
    """Each kind of contact a proposer may leave hears of the receipt and of every outcome (reach.py)."""
    if not complete:
        return []
    rules = [rule for _source, _loc, rule in _items(sources, "communications")]
    blame = next((s.name for s in sources if s.rules.communications), directory)
    return [Problem(blame, "communications", None, message) for message in untold(rules)]


def check_sources(
    sources: Sequence[Source],
    *,
    directory: str,
    units: Mapping[str, UnitKind] | None = None,
    complete: bool = True,
) -> list[Problem]:
    """Every cross-file mistake; `units` (code → kind), when given, also checks the unit codes.

    `complete=False` (a file could not be read) skips what a missing file would make look absent.
    """
    return [
        *_calendar_once(sources),
        *_unique_ids(sources),
        *_deadlines(sources, directory, complete=complete),
        *_extensions(sources),
        *_routing(sources, units),
        *_templates(sources),
        *_everyone_told(sources, directory, complete=complete),
    ]


def merge(sources: Sequence[Source]) -> dict[str, Any]:
    """The sections of all files, concatenated in file order (the first calendar), for RuleSet."""
    lists: dict[str, list[Any]] = {section: [] for section in LIST_SECTIONS}
    for source in sources:
        for section, items in lists.items():
            items.extend(getattr(source.rules, section))
    calendars = [source.rules.calendar for source in sources if source.rules.calendar is not None]
    cycles = [source.rules.cycles for source in sources if source.rules.cycles is not None]
    return {
        **lists,
        **({"calendar": calendars[0]} if calendars else {}),
        **({"cycles": cycles[0]} if cycles else {}),
    }
