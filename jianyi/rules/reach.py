"""Every proposer is told: a rules check that each kind of contact a proposer may leave hears of the
receipt and of every outcome (LIFECYCLE.md: every outcome is told to the proposer unless anonymous).

The communications triggered by the receipt, and by the closing of the case, are evaluated for a
proposer who gave only an e-mail address, only a mobile, only a landline, only a postal address, or
(by letter or at a visit) nothing at all. At least one must hold whose medium reaches them: an
e-mail needs an address, an SMS a mobile; a call, a meeting or a letter is held by a person, who
logs how it went.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from jianyi.models.enums import OUTCOME_LABELS, Channel, Outcome
from jianyi.rules.conditions import ConditionError
from jianyi.rules.schema_comms import CommunicationRule

# A kind of contact: who it is, the channel the suggestion came by, what the conditions see.
CONTACTS: Final[tuple[tuple[str, Channel, dict[str, bool]], ...]] = (
    ("only an e-mail address", Channel.mailbox, {"has_email": True}),
    ("only a mobile number", Channel.hotline_12345, {"has_phone": True, "has_mobile": True}),
    ("only a landline number", Channel.hotline_12345, {"has_phone": True}),
    ("only a postal address", Channel.mailbox, {"has_address": True}),
    ("no contact, by letter", Channel.letter, {}),
    ("no contact, at a visit", Channel.visit, {}),
)

_RECEIVED = frozenset({"event:suggestion_received"})
_CLOSED = frozenset({"stage:closed", "event:closed"})


def _trigger(rule: CommunicationRule) -> str:
    if rule.trigger.event is not None:
        return f"event:{rule.trigger.event.value}"
    assert rule.trigger.stage is not None
    return f"stage:{rule.trigger.stage.value}"


def _reaches(rule: CommunicationRule, context: dict[str, Any], proposer: dict[str, bool]) -> bool:
    if rule.channel == "email" and not proposer.get("has_email"):
        return False
    if rule.channel == "sms" and not proposer.get("has_mobile"):
        return False
    try:
        return rule.condition is None or rule.condition.evaluate(context)
    except ConditionError:
        return False


def _context(channel: Channel, proposer: dict[str, bool], outcome: Outcome | None) -> dict[str, Any]:
    return {
        "suggestion": {
            "channel": channel.value,
            "stage": "closed" if outcome else "triage",
            "outcome": outcome.value if outcome else "",
        },
        "proposer": {"anonymous": False, **proposer},
    }


def untold(rules: Iterable[CommunicationRule]) -> list[str]:
    """What some proposer who is not anonymous would never be told, one sentence each."""
    rules = list(rules)
    received = [r for r in rules if _trigger(r) in _RECEIVED]
    closed = [r for r in rules if _trigger(r) in _CLOSED]
    found: list[str] = []
    for who, channel, proposer in CONTACTS:
        if not any(_reaches(r, _context(channel, proposer, None), proposer) for r in received):
            found.append(
                f"a proposer with {who} is never told of the receipt: no rule for event "
                "suggestion_received holds for them with a medium they have"
            )
        missed = [
            outcome
            for outcome in Outcome
            if not any(_reaches(r, _context(channel, proposer, outcome), proposer) for r in closed)
        ]
        if missed:
            outcomes = ", ".join(f"{o.value} ({OUTCOME_LABELS[o]})" for o in missed)
            found.append(
                f"a proposer with {who} is never told the outcome {outcomes}: no rule for stage "
                "closed holds for them with a medium they have"
            )
    return found
