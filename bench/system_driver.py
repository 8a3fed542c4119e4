"""The real system started for a benchmark, its officials, and departments that work its steps.

``BenchSystem`` starts what ``jianyi up`` starts (SMTP and SMS sinks, a Prefect server, the API and
the executor as child processes) in a temporary directory, seeds units and calendar, and creates one
official per unit; ``cpu()`` reads each process's CPU from /proc. ``Departments`` complete, over the
HTTP API with their units' tokens, every step they owe as soon as it opens. Their scripts are the
SCENARIOS of tests/support.py re-cast onto a generated suggestion (its category, its lead department
for "transport", a second one for "edu"), so the work spreads over the departments as in the office.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import prefect
from sqlalchemy import Engine, and_, create_engine, select
from sqlalchemy.orm import aliased

from bench.generate import CATEGORIES, Generated
from bench.procs import tree_cpu_seconds
from jianyi.db import session_scope
from jianyi.migrate import upgrade
from jianyi.models import Step, Suggestion, Unit
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.rules.calendar import seed_from_chinese_calendar
from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.runtime.system import System
from jianyi.services import auth
from jianyi.services.network import seed_network

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

# Re-exported (as SCENARIOS): tests/ is on the path only once this module is imported.
from support import SCENARIOS as SCENARIOS  # noqa: E402 - tests/ is not a package
from support import Scenario  # noqa: E402

OFFICE = "city-office"
DEPARTMENTS = sorted({code for codes in CATEGORIES.values() for code in codes})
# The scripts' actors and values, as tests/support.py writes them, and what they become per suggestion.
SCRIPT_LEAD, SCRIPT_OTHER, SCRIPT_CATEGORY = "city-transport", "city-edu", "交通出行"


@dataclass(frozen=True)
class Move:
    """One human step of a script: its kind, who does it, and what they enter."""

    kind: StepKind
    unit: str | None  # the acting unit's code; None: the proposer (over the public tracking API)
    payload: dict[str, Any] | None  # None: the office lets the step lapse

    def owns(self, unit: str | None, alt_unit: str | None) -> bool:
        """Whether a step owed by ``unit`` (or ``alt_unit``) is this move's; as OpenStep.owed_by."""
        owners = {unit, alt_unit} - {None}
        return not owners or self.unit in owners


@dataclass
class Case:
    """A submitted suggestion and the script its units will play."""

    suggestion_id: int
    tracking_code: str
    check_code: str
    scenario: str
    outcome: str  # the outcome the script ends in
    moves: list[Move]


def _recast(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, list):
        return [_recast(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _recast(v, names) for k, v in value.items()}
    return names.get(value, value) if isinstance(value, str) else value


def script(scenario: Scenario, generated: Generated, number: int) -> list[Move]:
    """The scenario's steps played by the generated suggestion's own departments."""
    lead = generated.lead
    others = [d for d in DEPARTMENTS if d != lead]
    other = others[number % len(others)]
    names = {SCRIPT_LEAD: lead, SCRIPT_OTHER: other, SCRIPT_CATEGORY: generated.category}
    actors = {"office": OFFICE, "transport": lead, "edu": other, "proposer": None}
    moves = [Move(a.kind, actors[a.who], _recast(a.payload, names)) for a in scenario.actions]
    if "email" not in generated.data["proposer"]:  # a reply by e-mail would reach nobody: by SMS
        moves = [_reply_by_sms(m) if m.kind is StepKind.reply and m.payload else m for m in moves]
    return moves


def _reply_by_sms(move: Move) -> Move:
    assert move.payload is not None
    return replace(move, payload={**move.payload, "method": "sms"})


def _prefect_template() -> Path:
    """An empty Prefect server database at the installed Prefect's newest schema, made once."""
    path = Path(tempfile.gettempdir()) / f"jianyi-bench-prefect-{prefect.__version__}.db"
    if not path.exists():
        with tempfile.TemporaryDirectory() as scratch:
            server = PrefectServer(scratch).start()
            server.stop()
            partial = f"{path}.{os.getpid()}"
            # SQLite's backup, not a file copy: it includes what is still in the write-ahead log.
            with sqlite3.connect(Path(scratch) / "prefect.db") as source, sqlite3.connect(partial) as copy:
                source.backup(copy)
            os.replace(partial, path)  # whole or absent, for a concurrent reader
    return path


@dataclass
class BenchSystem:
    """A whole jianyi system for one benchmark; ``stop()`` ends every process it started."""

    name: str
    extra_env: dict[str, str] = field(default_factory=dict)
    # "postgresql": jianyi's database and the Prefect server's on one local PostgreSQL cluster (the
    # servers' own choice under load); "sqlite": each on its own SQLite file, as `jianyi up` runs.
    backend: str = "sqlite"
    home: Path = field(init=False)
    system: System = field(init=False)
    tokens: dict[str, str] = field(default_factory=dict)  # unit code → an official's bearer token
    extra: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # e.g. a Prefect worker
    postgres: TemporaryPostgres | None = None
    prefect: PrefectServer | None = None  # when started here (PostgreSQL), not by System
    _probe: Engine | None = None

    def start(self, *, executor: bool = True) -> BenchSystem:
        self.home = Path(tempfile.mkdtemp(prefix=f"jianyi-bench-{self.name}-"))
        database_url = prefect_api_url = None
        if self.backend == "postgresql":
            self.postgres = TemporaryPostgres().start()  # its own directory: the postgres user must reach it
            database_url = self.postgres.create_database("jianyi")
            self.postgres.create_database("prefect")
            prefect_url = self.postgres.url_for("prefect", driver="asyncpg")
            self.prefect = PrefectServer(self.home / "prefect", database_url=prefect_url).start()
            prefect_api_url = self.prefect.api_url
        else:  # a migrated empty database: a fresh one spends ~20 s in Prefect's migrations
            (self.home / "prefect").mkdir()
            shutil.copy(_prefect_template(), self.home / "prefect" / "prefect.db")
        self.system = System(
            self.home,
            prefect_ui=False,
            prefect_api_url=prefect_api_url,
            database_url=database_url,
            # No periodic reports: their catch-up at the executor's start would render PDFs mid-measurement.
            extra_env={"JIANYI_REPORTS_SCHEDULED": "false", **self.extra_env},
        )
        self.system.start_services()
        url = self.system.database_url
        upgrade(url)
        with session_scope(url) as session:
            seed_network(session)
            seed_from_chinese_calendar(session)
            for code in [OFFICE, *DEPARTMENTS]:
                role = Role.office if code == OFFICE else Role.department
                self.tokens[code] = auth.create_user(
                    session, name=f"bench {code}", role=role, unit_code=code
                )[1]
        self.system.start_api()
        if executor:
            self.system.start_executor()
        return self

    @property
    def url(self) -> str:
        return self.system.api_url

    def headers(self, unit: str = OFFICE) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[unit]}"}

    @property
    def probe(self) -> Engine:
        """The application database, read for the benchmark's bookkeeping (in its own process). A plain
        engine: jianyi's takes SQLite's write lock on every transaction, which a reader must not."""
        if self._probe is None:
            self._probe = create_engine(self.system.database_url)
        return self._probe

    def spawn(self, key: str, argv: Sequence[str], *, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Another process of the system (a worker, a baseline executor), stopped with the rest, in a
        process group of its own: stopping it stops the processes it started too."""
        log = open(self.log_path(key), "ab")  # noqa: SIM115 - owned by the child for its lifetime
        environ = {**os.environ, **self.system.env(), "PYTHONPATH": str(REPO), **env}
        self.extra[key] = subprocess.Popen(
            list(argv), env=environ, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self.extra[key]

    def log_path(self, key: str) -> Path:
        """The log of the API, the executor or a spawned process (``key``), in the system's home."""
        return self.home / f"{key}.log"

    def check_alive(self) -> None:
        """Raise, naming it and quoting its log's end, if a process of the system has exited: a
        driver waiting on it would otherwise wait minutes for a step that can never come."""
        prefect = self.prefect or self.system.prefect
        if prefect is not None and not prefect.is_running():
            raise RuntimeError(f"the Prefect server exited; see {prefect.log_path}")
        procs = {"api": self.system.api, "executor": self.system.executor, **self.extra}
        for key, proc in procs.items():
            if proc is not None and (code := proc.poll()) is not None:
                log = self.log_path(key)
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                raise RuntimeError(f"the {key} process exited with {code}; its log ends:\n{tail}")

    def stop_executor(self) -> None:
        """Stop the executor gracefully (SIGTERM: attempts under way reach their suspend first)."""
        if (proc := self.system.executor) is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(40)
        self.system.executor = None

    def pids(self) -> dict[str, int]:
        """The system's processes whose CPU a figure splits: executor, Prefect server, API, extras."""
        procs = {"executor": self.system.executor, "prefect": self.prefect or self.system.prefect}
        procs |= {"api": self.system.api}
        found = {k: pid for k, p in procs.items() if p is not None and (pid := p.pid) is not None}
        found.update({key: proc.pid for key, proc in self.extra.items() if proc.poll() is None})
        if self.postgres is not None:  # the postmaster, whose children are the backends
            found["postgres"] = int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        return found

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process with its live descendants (a server's workers)."""
        return {key: tree_cpu_seconds(pid) for key, pid in self.pids().items()}

    def stop(self) -> None:
        for proc in self.extra.values():
            if proc.poll() is None:  # its group is ours while its leader is unreaped
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        self.extra.clear()
        if self._probe is not None:
            self._probe.dispose()
        self.system.stop()
        for server in (self.prefect, self.postgres):
            if server is not None:
                server.stop()
        # Called from a group's `finally`: while the group's error propagates, exc_info names it. A
        # failed group keeps its logs and databases to look into.
        failed = sys.exc_info()[0] is not None
        if failed or os.environ.get("JIANYI_BENCH_KEEP"):
            print(f"   kept {self.home}" + (" (the group failed)" if failed else ""), flush=True)
        else:
            shutil.rmtree(self.home, ignore_errors=True)


@dataclass
class Sample:
    """One human step end to end: its completion answered, then the next wait visible via the API."""

    suggestion_id: int
    kind: str  # the step completed
    done_at: float  # monotonic time of the completion's HTTP response
    seen_at: float  # the next step open (or the suggestion closed), as its unit's API request shows

    @property
    def latency(self) -> float:
        return self.seen_at - self.done_at


LIVE = [StepState.open, StepState.submitted]  # a step not yet applied


@dataclass
class _Active:
    case: Case
    position: int = 0  # index of the next move
    last_step: int | None = None  # the step completed last: the next wait is ready once it is applied
    done_at: float | None = None
    in_hand: bool = False  # a unit is looking at it or completing it


class Departments:
    """The city's units at work: each completes the steps it owes, over the HTTP API with its token.

    A step is found by reading the database every ``tick`` (bookkeeping in the benchmark's own
    process, which costs the system nothing an official would not). The owing unit then opens the
    step (GET /api/steps/{id}; the proposer, the tracking page), when it counts as visible, and
    completes it (POST): one read and one write per step for the API, as in the office. ``play``
    works ``concurrency`` suggestions at once; when one closes, the next of the backlog is taken up.
    """

    def __init__(self, bench: BenchSystem, *, tick: float = 0.05, stuck_after: float = 120.0) -> None:
        self.bench = bench
        self.tick = tick
        self.stuck_after = stuck_after
        self.samples: list[Sample] = []
        self.completions: list[float] = []  # monotonic times of completion responses
        self.closed: dict[int, str] = {}  # suggestion id → outcome
        self.active: dict[int, _Active] = {}
        self.backlog = 0  # suggestions not yet taken up
        self.wait_closed = True

    async def play(self, cases: Sequence[Case], concurrency: int, *, wait_closed: bool = True) -> None:
        """Work ``cases`` to their end: each closed (seen via the API), or with ``wait_closed`` False,
        each with its script played."""
        self.wait_closed = wait_closed
        backlog = deque(cases)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with (
            httpx.AsyncClient(base_url=self.bench.url, timeout=60, limits=limits) as http,
            asyncio.TaskGroup() as tasks,
        ):
            while backlog or self.active:
                while backlog and len(self.active) < concurrency:
                    case = backlog.popleft()
                    self.active[case.suggestion_id] = _Active(case)
                self.backlog = len(backlog)
                for sid, step_id in await asyncio.to_thread(self._ready):
                    self.active[sid].in_hand = True
                    tasks.create_task(self._take(http, sid, step_id))
                await asyncio.sleep(self.tick)

    def _ready(self) -> list[tuple[int, int | None]]:
        """The waiting suggestions whose next step is ready: (id, step id; None when closed)."""
        self.bench.check_alive()
        now = time.monotonic()
        waiting = {sid: a for sid, a in self.active.items() if not a.in_hand}
        for sid, a in waiting.items():
            if a.done_at is not None and now - a.done_at > self.stuck_after:
                raise RuntimeError(f"suggestion {sid} ({a.case.scenario}) stuck after move {a.position}")
        if not waiting:
            return []
        unit, alt = aliased(Unit), aliased(Unit)
        query = (
            select(Suggestion.id, Suggestion.outcome, Step.id, Step.kind, Step.state, unit.code, alt.code)
            .select_from(Suggestion)
            .outerjoin(Step, and_(Step.suggestion_id == Suggestion.id, Step.state.in_(LIVE)))
            .outerjoin(unit, unit.id == Step.unit_id)
            .outerjoin(alt, alt.id == Step.alt_unit_id)
            .where(Suggestion.id.in_(list(waiting)))
        )
        with self.bench.probe.connect() as conn:
            rows = conn.execute(query).all()
        by_case: dict[int, list[Any]] = {}
        outcomes: dict[int, Any] = {}
        for sid, outcome, *step in rows:
            outcomes[sid] = outcome
            if step[0] is not None:
                by_case.setdefault(sid, []).append(step)
        ready: list[tuple[int, int | None]] = []
        for sid, a in waiting.items():
            steps = by_case.get(sid, [])
            if a.last_step is not None and any(s[0] == a.last_step for s in steps):
                continue  # the last completion is not applied yet: the next wait is not there
            if a.position >= len(a.case.moves):
                if outcomes.get(sid) is not None:
                    ready.append((sid, None))
                continue
            move = a.case.moves[a.position]
            for step_id, kind, state, code, alt_code in steps:
                if kind is move.kind and state is StepState.open and move.owns(code, alt_code):
                    ready.append((sid, step_id))
                    break
        return ready

    async def _take(self, http: httpx.AsyncClient, sid: int, step_id: int | None) -> None:
        a = self.active[sid]
        case = a.case
        if step_id is None:  # the script is played: the office sees the suggestion closed
            view = (await http.get(f"/api/suggestions/{sid}", headers=self.bench.headers())).json()
            if view["outcome"] is None:
                a.in_hand = False
                return
            self._seen(a, time.monotonic())
            self.closed[sid] = view["outcome"]
            del self.active[sid]
            return
        move = case.moves[a.position]
        track = f"/api/track/{case.tracking_code}"
        check = {"check": case.check_code}
        if move.unit is None and move.payload is not None:  # the proposer, on the tracking page
            response = await http.get(track, params=check)
            visible = response.status_code == 200 and response.json()["rating_open"]
        else:
            acting = move.unit or OFFICE
            response = await http.get(f"/api/steps/{step_id}", headers=self.bench.headers(acting))
            visible = response.status_code == 200 and response.json()["state"] == "open"
        if not visible:
            a.in_hand = False
            return
        self._seen(a, time.monotonic())
        if move.unit is None and move.payload is not None:
            response = await http.post(f"{track}/rating", params=check, json=move.payload)
        elif move.payload is None:
            response = await http.post(f"/api/steps/{step_id}/lapse", headers=self.bench.headers(OFFICE))
        else:
            headers = self.bench.headers(move.unit or OFFICE)
            response = await http.post(f"/api/steps/{step_id}/complete", json=move.payload, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{case.scenario} #{sid} {move.kind}: {response.status_code} {response.text}")
        a.done_at = time.monotonic()
        self.completions.append(a.done_at)
        a.position += 1
        a.last_step = step_id
        a.in_hand = False
        if a.position == len(case.moves) and not self.wait_closed:
            del self.active[sid]

    def _seen(self, a: _Active, at: float) -> None:
        if a.done_at is not None:
            kind = a.case.moves[a.position - 1].kind.value
            self.samples.append(Sample(a.case.suggestion_id, kind, a.done_at, at))
