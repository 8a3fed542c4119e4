"""The rules' deadline and rung instants of the volume seeder's steps (``bench.seed_volume``), cached:
with the default rules they depend only on a step's kind, the level, a leader's-mailbox channel,
rework and day 0; and the seeder's clock (naive UTC, stored as text)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any, NamedTuple, Protocol

from jianyi.models.enums import StepKind
from jianyi.rules.calendar import SHANGHAI, WorkingCalendar
from jianyi.services import deadlines

SHANGHAI_OFFSET = timedelta(hours=8)  # no daylight saving in Shanghai since 1991


class Case(Protocol):
    """What a step's deadline depends on of its suggestion."""

    level: str
    channel: str


# fmt: off
CONTEXT: dict[str, dict[str, Any]] = {
    "suggestion": {"category": "", "campaign": "", "district": "", "stage": "research", "outcome": "",
                   "rework_count": 0, "rehandle_count": 0, "instructed": False, "co_unit_count": 0},
    "step": {"unit": "", "role": "department", "optional": False},
    "proposer": {"anonymous": False, "has_email": True, "has_phone": True},
}
# fmt: on


def utc(at: datetime) -> datetime:
    """Naive UTC: the seeder's own clock (cheap to compare and to print)."""
    return at.astimezone(UTC).replace(tzinfo=None)


def ts(at: datetime) -> str:
    """A naive UTC instant as SQLAlchemy stores it (microseconds), the same text on both backends, so
    that SQLite's string comparisons order it as they order the application's bound parameters."""
    return at.isoformat(" ", "microseconds")


class Plan(NamedTuple):
    """What the rules give a step (``deadlines.Planned``), in naive UTC and in stored text."""

    rule_id: str | None
    working_days: int | None
    due: datetime | None
    due_text: str | None
    lapses: bool  # a window that closes by itself at its deadline (objection, rating)
    # ladder, rung, fire_at, its text, fired_at text, what it records when fired
    timers: tuple[tuple[str, int, datetime, str, str, str], ...]


class Plans:
    """The rules' deadline and rung instants of a step, cached: with the default rules they depend only
    on its kind, the level, a leader's-mailbox channel, rework and day 0 (its arrival's working day)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.rules, self.calendar = deadlines.current_rules(), calendar
        self.cache: dict[tuple[Any, ...], Plan] = {}
        self.days: dict[tuple[date, bool], date] = {}

    def get(self, kind: StepKind, created: datetime, case: Case, iteration: int) -> Plan:
        local, cutoff = created + SHANGHAI_OFFSET, self.rules.calendar.cutoff
        arrival = (local.date(), local.time() < cutoff)  # all day 0 depends on
        if arrival not in self.days:
            self.days[arrival] = self.calendar.day_zero(created.replace(tzinfo=UTC), cutoff=cutoff)
        day0 = self.days[arrival]
        key = (kind, case.level, case.channel == "leader_mailbox", iteration > 1, day0)
        if key not in self.cache:
            ctx = {  # what rule conditions see (`jianyi rules variables`), as far as the seeder varies it
                "suggestion": CONTEXT["suggestion"] | {"level": case.level, "channel": case.channel},
                "step": CONTEXT["step"] | {"kind": kind.value, "iteration": iteration},
                "proposer": CONTEXT["proposer"], "overdue_working_days": 0,
            }  # fmt: skip
            start = datetime.combine(day0, clock_time(10), SHANGHAI)  # the same day 0, before the cut-off
            got = deadlines.planned(self.rules, self.calendar, kind=kind, start=start, ctx=ctx)
            due = utc(got.deadline.at) if got.deadline else None
            timers = tuple(
                (
                    ladder,
                    rung,
                    utc(w.at),
                    ts(utc(w.at)),
                    ts(utc(w.at) + timedelta(seconds=20)),
                    self.fired(ladder, rung),
                )
                for ladder, rung, w in got.timers
            )
            lapses = bool(timers) and timers[0][0] == deadlines.EXPIRY_LADDER
            self.cache[key] = Plan(
                got.rule_id, got.working_days, due, ts(due) if due else None, lapses, timers
            )
        return self.cache[key]

    def fired(self, ladder_id: str, rung: int) -> str:
        """A fired rung's record as the sweep writes it (``escalation._act``): the rung's action types."""
        ladder = next((ladder for ladder in self.rules.ladders if ladder.id == ladder_id), None)
        if ladder is None:  # the expiry of a window
            return json.dumps({"actions": [{"type": "lapse"}]})
        extra: dict[str, dict[str, Any]] = {
            "escalate": {"to": "city"},
            "bulletin": {"period": "month"},
            "remind": {"sent": 1},
        }
        done = [{"type": a.type} | extra.get(a.type, {}) for a in ladder.rungs[rung - 1].actions]
        return json.dumps({"actions": done})
