"""board: the supervision board's queries with 350,000 suggestions (quick: 5,000), SQLite and PostgreSQL.

The issue's goal: "supervision board queries with 350,000 suggestions: p95 ≤ 300 ms". The suggestions
(``bench.seed_volume``) span years: 60 % closed with their completed steps, the open ones at every
stage with their open steps, spread over the 16 district offices, the city office, the city
departments and the sub-districts. Each query of ``jianyi.services.board`` runs 50 times (quick: 5)
with varied parameters — the whole network or one district office's own board; the overdue list's
first page, a later page (keyset), by unit, by district; random suggestions — each call in a
session of its own, as an API request is.

The baseline, in the same run and with the same parameters, is the same query on a database of a
tenth the size (35,000 suggestions, quick: 500): the ratio shows how each query's cost grows with
ten times the data (1× is flat; 10× is a query that reads everything).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.report import Figure
from bench.seed_volume import NOW, Seeded, Volume
from bench.volume_databases import BACKENDS, databases, p95, seed_sizes, sessions_by_size
from jianyi.models import Suggestion, Unit
from jianyi.models.enums import Role, UnitKind
from jianyi.services import board
from jianyi.services.actors import Actor

GOAL_MS = 300.0
QUERIES = ["stages", "late_units", "overdue", "suggestion_steps"]


@dataclass
class Params:
    """What the calls vary over, read once from a database (both sizes share the unit network)."""

    city: Actor
    districts: list[Actor]
    district_codes: list[str]
    units: list[str]  # the units that owe overdue steps
    cursors: list[str]  # where pages of the overdue list end
    suggestions: int  # how many there are (ids 1…n)


def params(sessions: sessionmaker[Session]) -> Params:
    with sessions() as session:
        units = session.execute(select(Unit.id, Unit.code, Unit.kind)).all()
        city = next(u for u in units if u.kind is UnitKind.city_office)
        districts = [u for u in units if u.kind is UnitKind.district_office]
        supervisor = Actor(label="supervisor", role=Role.supervisor, unit_id=city.id)
        late = board.late_units(session, actor=supervisor, now=NOW)
        cursors, after = [], None
        for _ in range(10):  # the first ten pages
            page = board.overdue(session, actor=supervisor, now=NOW, after=after)
            if page.next is None:
                break
            cursors.append(after := page.next)
        return Params(
            city=supervisor,
            districts=[Actor(label=d.code, role=Role.office, unit_id=d.id) for d in districts],
            district_codes=[d.code for d in districts],
            units=[u.unit for u in late],
            cursors=cursors,
            suggestions=int(session.scalar(select(func.count()).select_from(Suggestion)) or 0),
        )


def call(name: str, p: Params, rng: random.Random) -> Callable[[Session], Any]:
    """One call of a board query with parameters drawn for it: half on the whole network, half on
    a district office's own board."""
    actor = p.city if rng.random() < 0.5 else rng.choice(p.districts)
    if name == "stages":
        return lambda s: board.stages(s, actor=actor)
    if name == "late_units":
        return lambda s: board.late_units(s, actor=actor, now=NOW)
    if name == "suggestion_steps":
        sid = rng.randint(1, p.suggestions)
        return lambda s: board.suggestion_steps(
            s, actor=Actor(label="admin", role=Role.admin), suggestion_id=sid, now=NOW
        )
    kwargs: dict[str, Any] = rng.choice(
        [
            {},  # the first page
            {"after": rng.choice(p.cursors)} if p.cursors else {},  # a later page
            {"unit": rng.choice(p.units)} if p.units else {},
            {"district": rng.choice(p.district_codes), "actor": p.city},
        ]
    )
    kwargs.setdefault("actor", actor)
    return lambda s: board.overdue(s, now=NOW, **kwargs)


def timed(sessions: sessionmaker[Session], fn: Callable[[Session], Any]) -> float:
    started = time.perf_counter()
    with sessions() as session:  # a session per call, as a request has
        fn(session)
    return time.perf_counter() - started


def run(quick: bool) -> list[Figure]:
    big, small = (5_000, 500) if quick else (350_000, 35_000)
    runs = 5 if quick else 50
    sizes = {"big": big, "small": small}
    figures: list[Figure] = []
    with databases("board", list(sizes)) as urls:
        # The board reads no timers of completed steps: left out.
        seeded = seed_sizes(
            urls, sizes, lambda n: Volume(suggestions=n, closed_share=0.6, history_timers=False, seed=11)
        )
        for backend in BACKENDS:
            with sessions_by_size(urls, backend, sizes) as makers:
                got = {size: params(m) for size, m in makers.items()}
                for name in QUERIES:
                    samples: dict[str, list[float]] = {size: [] for size in sizes}
                    rng = {size: random.Random(f"{backend}-{name}") for size in sizes}  # the same draws
                    for size in sizes:  # warm: statements compiled, pages cached, as in a running API
                        timed(makers[size], call(name, got[size], random.Random(0)))
                    for _ in range(runs):
                        for size in sizes:  # interleaved, so both sizes see the same machine
                            samples[size].append(timed(makers[size], call(name, got[size], rng[size])))
                    figures.append(figure(backend, name, samples, seeded, runs))
    return figures


def figure(
    backend: str, name: str, samples: dict[str, list[float]], seeded: dict[str, Seeded], runs: int
) -> Figure:
    ms = {size: [1000 * s for s in values] for size, values in samples.items()}
    value, baseline = p95(ms["big"]), p95(ms["small"])
    big, small = (seeded[size].counts["suggestions"] for size in ("big", "small"))
    return Figure(
        key=f"board.{backend}.{name}",
        title=f"board {name} p95, {big:,} suggestions ({backend})",
        value=value,
        unit="ms",
        baseline=baseline,
        baseline_label=f"{small:,} suggestions",
        goal=f"p95 ≤ {GOAL_MS:g} ms",
        met=value <= GOAL_MS,
        details={
            "p50_ms": round(statistics.median(ms["big"]), 2),
            "p95_ms": round(value, 2),
            "max_ms": round(max(ms["big"]), 2),
            "baseline_p50_ms": round(statistics.median(ms["small"]), 2),
            "baseline_p95_ms": round(baseline, 2),
            "runs": runs,
            "suggestions": big,
            "open_suggestions": seeded["big"].counts["open_suggestions"],
            "steps": seeded["big"].counts["steps"],
            "open_steps": seeded["big"].counts["open_steps"],
            "overdue_steps": seeded["big"].counts["overdue_steps"],
            "baseline": "the same calls on a database a tenth the size, in the same run",
        },
    )
