"""web: the officials' pages under load, beside the JSON API for the same data (PostgreSQL).

The issue's goal: "with 350,000 suggestions seeded and 20 concurrent officials browsing while the
throughput load runs, the workbench, step page, board and tracking page server time p95 ≤ 300 ms,
printed beside the JSON API for the same data". The suggestions (``bench.seed_volume``, quick: 3,000)
are seeded into a temporary PostgreSQL database and the API runs as ``python -m jianyi api`` does.
20 officials sign in through the login form (httpx clients keeping their session cookie and CSRF
token): 12 department clerks of the units owing the most open steps, 8 of the city office. Each in
turn opens a page and then the API's answer for the same data (interleaved, so both see the same
load): a clerk its workbench (``/api/steps``) and one of its open steps (``/api/steps/{id}``), the
office the board (``/api/figures``) and a suggestion's tracking page (``/api/track/{code}``). All the
while two more clients complete open opinions through the API (writes under the reads), together
``WRITES_PER_SECOND``: the throughput load, at the pace of human steps the engine carries. Between
rounds an official reads for 1–3 s (``THINK_SECONDS``), as people browsing do; without it the 20
clients saturate the 2 cores and every page's time is mostly its wait in the queue. Each official's
first round is not counted: it fills the server's caches (the board's figures snapshot, the
database's buffers) as the first visitors after a start do.

Each figure is a page's p95 on 127.0.0.1 (request sent to response read, loopback included), its
baseline the JSON API's p95 for the same data in the same run. No executor or Prefect server runs:
completed steps are stored, not carried on (what a page reads is the same).
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.report import Figure
from bench.seed_volume import Volume, prepare, seed
from bench.volume_databases import p95
from jianyi.db import make_engine
from jianyi.models import Step, Suggestion, Unit
from jianyi.models.enums import Role, StepKind, StepState, UnitKind
from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.runtime.system import System
from jianyi.services import accounts, auth

GOAL_MS = 300.0
PAGES = ("workbench", "step", "board", "tracking")
CLERKS, OFFICE = 12, 8  # 20 officials browsing at once
WRITERS = 2  # clients completing opinions meanwhile
WRITES_PER_SECOND = 15.0  # all writers together: the throughput benchmark's human steps a second
THINK_SECONDS = (1.0, 3.0)  # an official reads a page before opening the next (uniform, per official)
PASSWORD = "bench password 2026"
OPINION = {"decision": "not_adopt", "reasons": "经研究暂不采纳。", "consultation": "电话沟通。"}


@dataclass
class Official:
    login: str
    token: str
    role: Role
    steps: list[int] = field(default_factory=list)  # a clerk's open steps


@dataclass
class Load:
    officials: list[Official]
    tracked: list[tuple[str, str]]  # (tracking code, check code)
    opinions: list[tuple[str, int]]  # (a clerk's API token, an open opinion of its unit)


def officials(url: str, rng: random.Random) -> Load:
    """Accounts with passwords and API tokens for the units owing the most open steps and the city
    office; the steps they open and the suggestions tracked."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            busy = session.execute(
                select(Unit.code, Unit.id)
                .join(Step, Step.unit_id == Unit.id)
                .where(Step.state == StepState.open, Unit.kind == UnitKind.city_department)
                .group_by(Unit.code, Unit.id)
                .order_by(func.count().desc())
                .limit(CLERKS)
            ).all()
            city = session.scalar(select(Unit.code).where(Unit.kind == UnitKind.city_office))
            chosen = [(code, uid, Role.department) for code, uid in busy] + [
                (city, None, Role.office)
            ] * OFFICE
            result, opinions = [], []
            for n, (code, unit_id, role) in enumerate(chosen):
                user, token = auth.create_user(session, name=f"压测{n}", role=role, unit_code=code)
                accounts.set_password(session, user_id=user.id, login=f"bench{n}", password=PASSWORD)
                steps: list[int] = []
                if unit_id is not None:
                    open_steps = select(Step.id, Step.kind).where(
                        Step.unit_id == unit_id, Step.state == StepState.open
                    )
                    rows = session.execute(open_steps.order_by(Step.id).limit(400)).all()
                    steps = [sid for sid, _ in rows]
                    opinions += [(token, sid) for sid, kind in rows if kind is StepKind.opinion]
                result.append(Official(f"bench{n}", token, role, steps))
            session.commit()
            tracked = list(
                session.execute(
                    select(Suggestion.tracking_code, Suggestion.check_code)
                    .order_by(Suggestion.id)
                    .limit(2000)
                ).tuples()
            )
    finally:
        engine.dispose()
    rng.shuffle(opinions)
    return Load(result, tracked, opinions)


async def sign_in(client: httpx.AsyncClient, login: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
    assert token, "no CSRF token on the login form"
    answer = await client.post(
        "/login", data={"login": login, "password": PASSWORD, "csrftoken": token.group(1)}
    )
    assert answer.status_code == 303, f"login refused: {answer.status_code}"


Samples = dict[tuple[str, str], list[float]]  # (page, "html" | "json") → seconds
SERVER_TIMING = re.compile(r"queue;dur=([0-9.]+), app;dur=([0-9.]+)")


async def timed(
    client: httpx.AsyncClient, path: str, key: tuple[str, str], samples: Samples, errors: list[str]
) -> None:
    """The time from request sent to response read; the server's own account of it (Server-Timing:
    waiting for a slot, then worked on) under the keys' "queue:" and "app:" twins."""
    started = time.perf_counter()
    answer = await client.get(path)
    samples[key].append(time.perf_counter() - started)
    if answer.status_code != 200:
        errors.append(f"{answer.status_code} {path}")
    if timing := SERVER_TIMING.fullmatch(answer.headers.get("server-timing", "")):
        page, kind = key
        samples[(page, f"queue:{kind}")].append(float(timing.group(1)) / 1000)
        samples[(page, f"app:{kind}")].append(float(timing.group(2)) / 1000)


async def browse(
    url: str,
    who: Official,
    load: Load,
    rounds: int,
    period: str,
    seed: int,
    samples: Samples,
    errors: list[str],
) -> None:
    rng = random.Random(seed)
    # Idle connections are dropped before the server's keep-alive (5 s) can close one under a request.
    limits = httpx.Limits(keepalive_expiry=1.0)
    bearer = {"Authorization": f"Bearer {who.token}"}
    async with (
        httpx.AsyncClient(base_url=url, timeout=60, follow_redirects=False, limits=limits) as page,
        httpx.AsyncClient(base_url=url, timeout=60, headers=bearer, limits=limits) as api,
    ):
        await sign_in(page, who.login)
        for n in range(rounds + 1):  # the first round warms the caches and is not counted
            kept = samples if n else defaultdict(list)
            if who.role is Role.department:
                await timed(page, "/workbench", ("workbench", "html"), kept, errors)
                await timed(api, "/api/steps", ("workbench", "json"), kept, errors)
                if who.steps:
                    step = rng.choice(who.steps)
                    await timed(page, f"/steps/{step}", ("step", "html"), kept, errors)
                    await timed(api, f"/api/steps/{step}", ("step", "json"), kept, errors)
            else:
                await timed(page, f"/board?period={period}", ("board", "html"), kept, errors)
                await timed(api, f"/api/figures?period={period}", ("board", "json"), kept, errors)
                code, check = rng.choice(load.tracked)
                await timed(page, f"/track/{code}?check={check}", ("tracking", "html"), kept, errors)
                await timed(api, f"/api/track/{code}?check={check}", ("tracking", "json"), kept, errors)
            await asyncio.sleep(rng.uniform(*THINK_SECONDS))


async def complete(url: str, opinions: list[tuple[str, int]], stop: asyncio.Event, done: list[int]) -> None:
    """Complete open opinions through the API, one writer's share of ``WRITES_PER_SECOND``, until
    the browsing ends (a refusal is not counted)."""
    interval = WRITERS / WRITES_PER_SECOND
    due = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for token, step in opinions:
            if stop.is_set():
                return
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due = max(due, time.monotonic()) + interval
            answer = await client.post(
                f"/api/steps/{step}/complete", json=OPINION, headers={"Authorization": f"Bearer {token}"}
            )
            if answer.status_code == 200:
                done.append(step)


async def drive(url: str, load: Load, rounds: int, period: str) -> tuple[Samples, list[str], int, float]:
    samples: Samples = defaultdict(list)
    errors: list[str] = []
    done: list[int] = []
    stop = asyncio.Event()
    writers = [
        asyncio.create_task(complete(url, load.opinions[i::WRITERS], stop, done)) for i in range(WRITERS)
    ]
    started = time.monotonic()
    await asyncio.gather(
        *(browse(url, who, load, rounds, period, n, samples, errors) for n, who in enumerate(load.officials))
    )
    seconds = time.monotonic() - started
    stop.set()
    await asyncio.gather(*writers)
    return samples, errors, len(done), seconds


def run(quick: bool) -> list[Figure]:
    count, rounds = (3_000, 3) if quick else (350_000, 25)
    with tempfile.TemporaryDirectory(prefix="jianyi-bench-web-") as directory:
        cluster = TemporaryPostgres().start()
        system: System | None = None
        try:
            url = cluster.create_database("web")
            prepare(url)
            seeded = seed([url], Volume(suggestions=count, closed_share=0.6, history_timers=False, seed=13))
            print(f"   seeded {dict(seeded.counts)} in {seeded.seconds:.0f} s", flush=True)
            load = officials(url, random.Random(13))
            # No Prefect server: nothing here starts or resumes a flow run.
            system = System(Path(directory), prefect_api_url="http://127.0.0.1:9/api", database_url=url)
            system.start_services()
            system.start_api()
            period = time.strftime("%Y-%m")
            samples, errors, completed, seconds = asyncio.run(drive(system.api_url, load, rounds, period))
        finally:
            if system is not None:
                system.stop()
            cluster.stop()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[:5]}")
    return [figure(page, samples, count, completed, seconds) for page in PAGES]


def figure(page: str, samples: Samples, count: int, completed: int, seconds: float) -> Figure:
    html = [1000 * s for s in samples[(page, "html")]]
    json = [1000 * s for s in samples[(page, "json")]]
    value, baseline = p95(html), p95(json)
    return Figure(
        key=f"web.postgresql.{page}",
        title=f"web {page} page p95, {CLERKS + OFFICE} officials browsing, {count:,} suggestions",
        value=value,
        unit="ms",
        baseline=baseline,
        baseline_label="the JSON API, same data",
        goal=f"p95 ≤ {GOAL_MS:g} ms",
        met=value <= GOAL_MS,
        details={
            "p50_ms": round(statistics.median(html), 2),
            "p95_ms": round(value, 2),
            "max_ms": round(max(html), 2),
            "json_p50_ms": round(statistics.median(json), 2),
            "json_p95_ms": round(baseline, 2),
            # The server's own account (Server-Timing): worked on, and waiting for one of its slots.
            "app_p95_ms": round(p95([1000 * s for s in samples[(page, "app:html")]] or [0.0]), 2),
            "queue_p95_ms": round(p95([1000 * s for s in samples[(page, "queue:html")]] or [0.0]), 2),
            "json_app_p95_ms": round(p95([1000 * s for s in samples[(page, "app:json")]] or [0.0]), 2),
            "requests": len(html),
            "suggestions": count,
            "officials": CLERKS + OFFICE,
            "opinions_completed_meanwhile": completed,
            "writes_per_second_asked": WRITES_PER_SECOND,
            "browsing_seconds": round(seconds, 1),
            "think_seconds": list(THINK_SECONDS),
            "baseline": "the JSON API for the same data, interleaved with the pages in the same run",
        },
    )
