"""Fill an application database at volume: suggestions with their steps and escalation timers.

Not the lifecycle (a million steps through it would take hours): rows go straight into the tables
in chunks, shaped as the lifecycle leaves them at each stage. Each suggestion sits at a stage with
the steps it owes there open and the main steps of the stages before it completed. Deadlines and
rung instants come from the real rules and working-day calendar (``deadlines.planned``, cached per
step kind, level, channel and day 0), so the sweep meets the ladders the lifecycle would have laid.
Rungs fire at the end of a working day, so a whole day's rungs fall due at once: those due before
``now - backlog`` have fired; of those due within the backlog window (the last midnight), the share
``still_due`` is still pending, as when a sweep instant falls midway through working off the night's
rungs. Those are due at the sweep instant.

The rows are written by ``bench.bulk_load``. Left out: stage entries, audit rows, outbox mail, and
the optional windows (objection, extension request) of stages a suggestion has left.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bench import seed_records as records
from bench.bulk_load import BulkLoader, Row
from bench.generate import CATEGORIES, CHANNELS, SURNAMES, TOPICS
from bench.seed_plans import Plans, ts, utc
from jianyi.migrate import upgrade
from jianyi.models import Base, Unit
from jianyi.models.enums import Role, StepKind, UnitKind
from jianyi.models.step import ANSWER_FIELDS
from jianyi.rules.calendar import WorkingCalendar, seed_from_chinese_calendar
from jianyi.services import auth
from jianyi.services.network import seed_network

NOW = datetime(2026, 6, 16, 2, 0, tzinfo=UTC)  # a working Tuesday, 10:00 in Shanghai
TABLES = [
    Base.metadata.tables[t]
    for t in ("proposers", "suggestions", "assignments", "steps", "step_timers", *records.RECORD_TABLES)
]
COLUMNS = {t.name: [c.name for c in t.columns] for t in TABLES}
# Steps and timers (millions) are written as positional tuples: a changed table must change these.
# fmt: off
STEP_COLUMNS = [
    "id", "suggestion_id", "kind", "key", "iteration", "role", "unit_id", "alt_unit_id", "assignment_id",
    "optional", "state", "due_at", "due_working_days", "due_rule", "due_provisional", "paused_at",
    "paused_working_days", "missed_due_at", "created_at", "submitted_at", "applied_at", "completed_by_id",
    "completed_by_label", "input", "answer",
]
TIMER_COLUMNS = [
    "id", "step_id", "suggestion_id", "ladder", "rung", "fire_at", "provisional", "state", "fired_at",
    "created_at", "actions",
]
STAGES = [  # where open suggestions stand: (stage, weight, mean days they have stood there)
    ("triage", 4, 1.0), ("research", 50, 12.0), ("coordination", 8, 2.5), ("feedback", 12, 5.0),
    ("implementation", 22, 25.0), ("commendation", 4, 60.0),
]
# fmt: on
assert COLUMNS["steps"] == STEP_COLUMNS and COLUMNS["step_timers"] == TIMER_COLUMNS, "update the seeder"
LINE = [StepKind.triage, StepKind.opinion, StepKind.review, StepKind.reply, StepKind.rating]  # to feedback
ADOPTED = [StepKind.post_adoption_communication, StepKind.commendation_result]  # after the progress reports
DAY = timedelta(days=1)
COMPLETED_INPUT = json.dumps({"bench": True})
# The answers the figures count by value (Step.answer), with their weights.
ANSWERS: dict[StepKind, tuple[tuple[str, ...], tuple[float, ...]]] = {
    StepKind.review: (("accept", "return", "joint_meeting"), (0.9, 0.08, 0.02)),
    StepKind.rating: (("satisfied", "basically_satisfied", "not_satisfied"), (0.8, 0.15, 0.05)),
    StepKind.dissatisfaction_review: (("rehandle", "close"), (0.5, 0.5)),
}
CONTENT = "问题：存在不便。依据：实地观察。建议：优化管理和服务。"


@dataclass(frozen=True)
class Volume:
    suggestions: int | None = None  # this many suggestions …
    open_steps: int | None = None  # … or as many as it takes to have this many open steps
    closed_share: float = 0.6  # closed suggestions: the years of history the board must skip
    history_timers: bool = True  # the fired and moot timers of completed steps
    now: datetime = NOW
    backlog: timedelta = timedelta(hours=36)  # rungs due this long before `now` may still be pending
    still_due: float = 0.5  # … with this probability
    seed: int = 7
    chunk: int = 5_000  # suggestions per write


@dataclass
class Seeded:
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Units:
    city: int
    districts: list[int]
    subdistricts: dict[int, list[int]]  # district office → its sub-districts
    departments: dict[str, int]  # code → id

    @classmethod
    def load(cls, session: Session) -> _Units:
        units = session.execute(select(Unit.id, Unit.code, Unit.kind, Unit.parent_id)).all()
        districts = [u.id for u in units if u.kind is UnitKind.district_office]
        streets = {
            d: [u.id for u in units if u.parent_id == d and u.kind is UnitKind.subdistrict] for d in districts
        }
        departments = {u.code: u.id for u in units if u.kind is UnitKind.city_department}
        city = next(u.id for u in units if u.kind is UnitKind.city_office)
        return cls(city, districts, streets, departments)


def prepare(url: str) -> None:
    """Migrate, seed the unit network and the calendar, and give every office and department a
    handler and a head with addresses (fired rungs mail them)."""
    upgrade(url)
    engine = create_engine(url)
    kinds = (UnitKind.city_office, UnitKind.district_office, UnitKind.city_department)
    with Session(engine) as session:
        seed_network(session)
        seed_from_chinese_calendar(session)
        session.flush()
        for unit in session.scalars(select(Unit).where(Unit.kind.in_(kinds)).order_by(Unit.id)):
            role = Role.department if unit.kind is UnitKind.city_department else Role.office
            for who in ("handler", "head"):
                email = f"{unit.code}-{who}@bench.example"
                auth.create_user(
                    session, name=email, role=role, unit_code=unit.code, email=email, head=who == "head"
                )
        session.commit()
    engine.dispose()


@dataclass
class _Case:
    """One suggestion being written: what its steps' deadlines depend on, and who owes them."""

    id: int
    office: int
    lead: int
    level: str
    channel: str
    co: bool
    closed: bool
    assignment: int | None = None


class _Cases:
    """Rows of suggestions at their stages; ids assigned here, counts kept for the report."""

    def __init__(self, units: _Units, plans: Plans, volume: Volume) -> None:
        self.units, self.plans, self.v = units, plans, volume
        self.rng = random.Random(volume.seed)
        self.rows: dict[str, list[Row]] = {t.name: [] for t in TABLES}
        self.ids: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.blank = {name: dict.fromkeys(cols) for name, cols in COLUMNS.items()}
        self.now, self.window = utc(volume.now), utc(volume.now - volume.backlog)
        # Drawn for every suggestion: lists and cumulative weights made once.
        self.stage_weights = list(itertools.accumulate(w for _, w, _ in STAGES))
        self.categories = list(CATEGORIES)
        self.channels, weights = zip(*CHANNELS, strict=True)
        self.channel_weights = list(itertools.accumulate(weights))
        leads = [*units.departments.values(), *itertools.chain(*units.subdistricts.values())]
        self.co_units = {lead: [d for d in units.departments.values() if d != lead] for lead in leads}

    def _add(self, table: str, **values: Any) -> int:
        self.ids[table] += 1
        row = dict(self.blank[table])  # every column, in the table's order
        row.update(values, id=self.ids[table])
        self.rows[table].append(tuple(row.values()))
        return self.ids[table]

    def take(self) -> dict[str, list[Row]]:
        rows, self.rows = self.rows, {t.name: [] for t in TABLES}
        return rows

    def case(self) -> None:
        rng, v, u = self.rng, self.v, self.units
        closed = rng.random() < v.closed_share
        stage, _, mean_days = rng.choices(STAGES, cum_weights=self.stage_weights)[0]
        office = u.city if rng.random() < 0.3 else rng.choice(u.districts)
        category = rng.choice(self.categories)
        lead = u.departments[rng.choice(CATEGORIES[category])]
        if office != u.city and rng.random() < 0.25:
            lead = rng.choice(u.subdistricts[office])  # a district's own item, handled by a street office
        channel = rng.choices(self.channels, cum_weights=self.channel_weights)[0]
        level = "important" if rng.random() < 0.1 else "general"
        c = _Case(self.ids["suggestions"] + 1, office, lead, level, channel, rng.random() < 0.25, closed)
        line = self._line("closed" if closed else stage)
        end = self.now - DAY * (rng.uniform(1, 900) if closed else rng.expovariate(1 / mean_days))
        times = [end]  # walk back from the last step: each earlier one took part of its working days
        for _ in line[:-1]:
            times.append(times[-1] - DAY * rng.uniform(0.05, 1.0) * 7)
        times.reverse()
        received = times[0] - timedelta(minutes=rng.randint(5, 600))
        triaged, adopted = len(line) > 1, StepKind.progress in line
        instructed = triaged and level == "important" and rng.random() < 0.7  # else "no instruction"
        ends = [*times[1:], end if closed else None]  # when each step of the line was answered
        replied = ends[line.index(StepKind.reply)] if StepKind.reply in line else None
        self._add(
            "suggestions", tracking_code=f"JV{received.year % 100:02d}{received.month:02d}{c.id:09X}",
            check_code=f"{rng.randrange(10**6):06d}", title=f"关于改进{rng.choice(TOPICS[category])}的建议", content=CONTENT,
            channel=channel, channel_ref=f"vol-{v.seed}-{c.id}", proposer_id=self._proposer(received),
            region_unit_id=rng.choice(u.subdistricts[office]) if office != u.city and rng.random() < 0.6 else None,
            intake_unit_id=office, office_unit_id=office, received_at=ts(received),
            kind="suggestion" if triaged or not closed else "complaint", category=category if triaged else None,
            level=level, lead_unit_id=lead if triaged else None, stage="closed" if closed else stage,
            decision=("adopt" if adopted else "not_adopt") if len(line) > 2 else None,
            outcome=(("implemented" if adopted else "not_adopted") if triaged else "redirected") if closed else None,
            closed_at=ts(end) if closed else None, rework_count=0, rehandle_count=0, instructed=instructed,
            rating="satisfied" if adopted or (closed and len(line) == len(LINE)) else None,
            flow_run_id=f"00000000-0000-4000-8000-{c.id:012x}", wait_seq=len(line), updated_at=ts(end),
            first_referred_at=ts(times[1]) if triaged else None, first_replied_at=ts(replied) if replied else None,
        )  # fmt: skip
        self.counts["suggestions"] += 1
        self.counts["open_suggestions"] += not closed
        if triaged:
            c.assignment = self._assign(c, lead, "lead", times[1])
            if level == "important":  # the leader's instruction, given at referral (or not)
                at = times[1] - DAY * rng.uniform(0.05, 0.5)
                kind = StepKind.leader_instruction
                step = self._step(c, kind, kind.value, times[0], at, office, None, role=Role.office)
                records.instruction(self, suggestion=c.id, step=step, given=instructed, at=at, ts=ts)
        progress, reports = 0, line.count(StepKind.progress)
        for n, (kind, created) in enumerate(zip(line, times, strict=True)):
            done = times[n + 1] if n + 1 < len(line) else (end if closed else None)
            if kind is StepKind.opinion:
                step = self._step(c, kind, f"opinion:a{c.assignment}:1", created, done, lead, c.assignment)
                if done is not None:
                    records.opinion(
                        self,
                        suggestion=c.id,
                        unit=lead,
                        step=step,
                        lead=True,
                        adopted=adopted,
                        at=done,
                        ts=ts,
                    )
                self._research(c, created, done)
            elif kind is StepKind.progress:
                progress += 1
                step = self._step(
                    c, kind, f"progress:{progress}", created, done, lead, c.assignment, iteration=progress
                )
                if done is not None:
                    last = progress == reports and (closed or stage == "commendation")
                    records.progress(
                        self, suggestion=c.id, unit=lead, step=step, n=progress, last=last, at=done, ts=ts
                    )
            elif kind is StepKind.rating:
                self._step(c, kind, "rating:1", created, done, None, None, role=Role.proposer)
            else:
                key = f"{kind.value}:1" if kind in (StepKind.review, StepKind.reply) else kind.value
                self._step(c, kind, key, created, done, office, None, role=Role.office)

    def _line(self, stage: str) -> list[StepKind]:
        """The main steps up to where the suggestion stands; the last is open unless it is closed."""
        rng = self.rng
        if stage == "triage" or (stage == "closed" and rng.random() < 0.15):  # closed at triage
            return LINE[:1]
        if stage in ("research", "coordination"):
            return LINE[: 2 if stage == "research" else 3]
        if stage == "feedback":
            return LINE[: rng.choice((4, 5))]  # the reply is owed, or the proposer's rating
        if stage in ("implementation", "commendation") or rng.random() < 0.35:
            return (
                LINE
                + [StepKind.progress] * rng.randint(1, 4)
                + (ADOPTED if stage != "implementation" else [])
            )
        return list(LINE)  # closed after the rating, not adopted

    def _assign(self, c: _Case, unit: int, role: str, at: datetime) -> int:
        state, closed_at = ("done", ts(self.now)) if c.closed else ("active", None)
        return self._add(
            "assignments", suggestion_id=c.id, unit_id=unit, role=role, state=state,
            extension_days=0, created_at=ts(at), closed_at=closed_at,
        )  # fmt: skip

    def _research(self, c: _Case, created: datetime, done: datetime | None) -> None:
        """Beside the lead's opinion: its optional windows while it is open; a co-handling unit for some."""
        if done is None:
            for kind in (StepKind.objection, StepKind.extension_request):
                self._step(
                    c,
                    kind,
                    f"{kind.value}:a{c.assignment}",
                    created,
                    None,
                    c.lead,
                    c.assignment,
                    optional=True,
                )
        if not c.co:
            return
        unit = self.rng.choice(self.co_units[c.lead])
        co = self._assign(c, unit, "co", created)
        # Every co-opinion of a finished opinion is in; half of those of an open one.
        answered = None
        if done is not None or self.rng.random() < 0.5:
            answered = created + ((done or self.now) - created) * self.rng.uniform(0.3, 1)
        step = self._step(c, StepKind.co_opinion, f"co_opinion:a{co}", created, answered, unit, co)
        if answered is not None:
            records.opinion(
                self, suggestion=c.id, unit=unit, step=step, lead=False, adopted=False, at=answered, ts=ts
            )

    # fmt: off
    def _step(
        self, c: _Case, kind: StepKind, key: str, created: datetime, done: datetime | None, unit: int | None,
        assignment: int | None, *, role: Role = Role.department, optional: bool = False, iteration: int = 1,
    ) -> int:
        # fmt: on
        plan = self.plans.get(kind, created, c, iteration)
        due, now, window = plan.due, self.now, self.window
        state = "open" if done is None else "completed"
        if done is None and plan.lapses and due is not None and due <= window:
            state, done = "lapsed", due  # a window that closed by itself (objection, rating) long ago
        self.ids["steps"] = step = self.ids["steps"] + 1
        at, finished, completed = ts(created), ts(done) if done else None, state == "completed"
        answer, given = None, COMPLETED_INPUT if completed else "null"
        if completed and kind in ANSWERS:
            answer = self.rng.choices(*ANSWERS[kind])[0]
            given = json.dumps({"bench": True, ANSWER_FIELDS[kind]: answer})
        self.rows["steps"].append((  # in STEP_COLUMNS' order: no dict per row
            step, c.id, kind.value, key, iteration, role.value, unit, None, assignment, optional, state,
            plan.due_text, plan.working_days, plan.rule_id, False, None, 0, None, at, finished, finished, None,
            "bench" if completed else None, given, answer,
        ))  # fmt: skip
        self.counts["steps"] += 1
        if state == "open":
            self.counts["open_steps"] += 1
            self.counts["overdue_steps"] += due is not None and due < now
        elif not self.v.history_timers:
            return step
        for ladder, rung, fire_at, fire_text, fired_text, fired_actions in plan.timers:
            if done is not None:
                timer = "fired" if fire_at <= done else "moot"
            else:
                behind = fire_at <= window or (fire_at <= now and self.rng.random() >= self.v.still_due)
                timer = "fired" if behind else "pending"
                self.counts["due_timers"] += timer == "pending" and fire_at <= now
            fired = timer == "fired"
            self.ids["step_timers"] += 1
            self.rows["step_timers"].append((  # in TIMER_COLUMNS' order
                self.ids["step_timers"], step, c.id, ladder, rung, fire_text, False, timer,
                fired_text if fired else None, at, fired_actions if fired else "{}",
            ))  # fmt: skip
            self.counts["timers"] += 1
            self.counts["pending_timers"] += timer == "pending"
        return step

    def _proposer(self, at: datetime) -> int:
        rng, n = self.rng, self.ids["proposers"] + 1
        return self._add(
            "proposers", kind="person", name=rng.choice(SURNAMES) + rng.choice("建华明丽军芳伟娟强静"),
            phone=f"139{rng.randrange(10**8):08d}", email=f"p{n}@example.com" if rng.random() < 0.7 else None,
            anonymous=False, confidential=rng.random() < 0.05, created_at=ts(at),
        )  # fmt: skip


def seed(urls: list[str], volume: Volume) -> Seeded:
    """Write the same volume into each prepared (``prepare``) database; nothing else may use them meanwhile."""
    if volume.suggestions is None and volume.open_steps is None:
        raise ValueError("give suggestions or open_steps")
    started = time.monotonic()
    units = []
    for url in urls:  # one set of rows for all: their networks must have the same ids
        engine = create_engine(url)
        with Session(engine) as session:
            units.append(_Units.load(session))
            calendar = WorkingCalendar.load(session)
        engine.dispose()
    if any(u != units[0] for u in units):
        raise ValueError("the databases' unit networks differ: prepare each the same way")
    cases = _Cases(units[0], Plans(calendar), volume)

    def enough() -> bool:
        made, open_steps = cases.counts["suggestions"], cases.counts["open_steps"]
        return (volume.suggestions is not None and made >= volume.suggestions) or (
            volume.open_steps is not None and open_steps >= volume.open_steps
        )

    targets = [BulkLoader(url, TABLES) for url in urls]
    while not enough():
        for _ in range(volume.chunk):
            cases.case()
            if enough():
                break
        rows = cases.take()
        for target in targets:
            target.write(rows)
    for target in targets:
        target.finish()
    return Seeded(counts=cases.counts, seconds=time.monotonic() - started)
