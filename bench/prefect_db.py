"""The Prefect database per finished suggestion, before and after retention.

K suggestions are played to their end over the HTTP API along tests/support.py's scenarios (cycling),
as tests/e2e plays them. The Prefect server's SQLite database is measured after VACUUM (of a copy)
before and after them, then after each step of retention:
1. events: their rows aged 8 days, Prefect's events vacuum (what its db_vacuum service runs hourly)
   deletes those older than PREFECT_SERVER_EVENTS_RETENTION_PERIOD (7 days in jianyi);
2. runs: jianyi's retention job (jianyi/executor/retention.py, run with its clock 31 days ahead)
   deletes through the API the Completed runs of suggestions closed more than 30 days ago;
   (the server deletes their logs a moment later, in the background);
3. leftovers: Prefect's orphan vacuum (daily with PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,orphans)
   deletes logs and artifacts of runs that no longer exist, had the background deletion been lost.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient

from bench import suspended_seed as seed
from jianyi.executor import retention
from jianyi.models.base import utcnow
from jianyi.models.enums import StepKind

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import SCENARIOS, OpenStep, Play


@contextmanager
def connect(path: Path, timeout: float = 60) -> Iterator[sqlite3.Connection]:
    """A connection closed on leaving (sqlite3's own context manager only commits): one left open
    would keep the WAL in use and refuse the seeder's switch out of WAL mode."""
    db = sqlite3.connect(path, timeout=timeout)
    try:
        with db:
            yield db
    finally:
        db.close()


# Runs Prefect's own retention (the functions its db_vacuum service schedules) on a live database.
VACUUM_SCRIPT = """
import asyncio, sys
from prefect.server.database import provide_database_interface
from prefect.server.services import db_vacuum

async def main() -> None:
    db = provide_database_interface()
    for name in sys.argv[1:]:
        await getattr(db_vacuum, name)(db=db)

asyncio.run(main())
"""


class Api:
    """The Driver of tests/support.py over the HTTP API, as tests/e2e drives it."""

    def __init__(self, office: seed.Office) -> None:
        self.office = office
        self.codes: dict[int, tuple[str, str]] = {}

    def submit(self, data: dict[str, Any]) -> int:
        response = self.office.http.post("/api/suggestions", json=data, headers=self.office.headers())
        response.raise_for_status()
        body = response.json()
        self.codes[body["id"]] = (body["tracking_code"], body["check_code"])
        return int(body["id"])

    def view(self, suggestion_id: int) -> dict[str, Any]:
        response = self.office.http.get(f"/api/suggestions/{suggestion_id}", headers=self.office.headers())
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def open_steps(self, suggestion_id: int) -> list[OpenStep]:
        return [
            OpenStep(s["id"], StepKind(s["kind"]), frozenset({s["unit"], s["alt_unit"]}))
            for s in self.view(suggestion_id)["open_steps"]
            if s["state"] == "open"
        ]

    def complete(self, who: str, suggestion_id: int, step_id: int, payload: dict[str, Any] | None) -> None:
        http = self.office.http
        if who == "proposer":
            code, check = self.codes[suggestion_id]
            response = http.post(f"/api/track/{code}/rating", params={"check": check}, json=payload)
        elif payload is None:
            response = http.post(f"/api/steps/{step_id}/lapse", headers=self.office.headers(who))
        else:
            response = http.post(
                f"/api/steps/{step_id}/complete", json=payload, headers=self.office.headers(who)
            )
        response.raise_for_status()


def play_to_the_end(office: seed.Office, k: int, timeout: float = 600) -> dict[str, str]:
    """K suggestions along the scenarios (cycling), played side by side; flow run id → scenario, all Completed."""
    api = Api(office)
    plays = [
        Play(SCENARIOS[i % len(SCENARIOS)], api.submit(SCENARIOS[i % len(SCENARIOS)].suggestion))
        for i in range(k)
    ]
    deadline = time.monotonic() + timeout
    while not all(p.finished for p in plays):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sum(not p.finished for p in plays)} of {k} scenarios unfinished")
        if not any(p.step(api) for p in plays if not p.finished):
            time.sleep(0.2)
    runs = {str(api.view(p.suggestion_id)["flow_run_id"]): p.scenario.name for p in plays}
    for run_id in runs:
        seed.wait_until(partial(_completed, office, run_id), 60, f"run {run_id} completed")
    return runs


def _completed(office: seed.Office, run_id: str) -> bool:
    return seed.flow_run_state(office, run_id) == "COMPLETED"


def quiet(db_path: Path, timeout: float = 60) -> None:
    """Wait until the server has written everything (events and logs arrive in batches)."""
    tables = ("events", "event_resources", "log", "flow_run_state", "task_run_state")
    last: tuple[int, ...] = ()
    stable_since = time.monotonic()
    deadline = stable_since + timeout
    while time.monotonic() < deadline:
        with connect(db_path) as db:
            counts = tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)
        if counts != last:
            last, stable_since = counts, time.monotonic()
        elif time.monotonic() - stable_since >= 6:
            return
        time.sleep(1)


def vacuumed(db_path: Path) -> tuple[int, dict[str, int]]:
    """Size of the database after VACUUM (of a copy: the live file is left alone), and bytes per table."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy.db"
        with connect(db_path) as db:
            db.execute("VACUUM INTO ?", [str(copy)])
        with connect(copy) as db:
            owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE name IS NOT NULL"))
            per_table: dict[str, int] = {}
            for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                per_table[owner.get(name, name)] = per_table.get(owner.get(name, name), 0) + size
        return copy.stat().st_size, per_table


def age_events(db_path: Path, since: str, days: int) -> None:
    """Move the events since then into the past, as if that many days had gone by."""
    stamp = f"strftime('%Y-%m-%d %H:%M:%f000', occurred, '-{days} days')"
    with connect(db_path, timeout=60) as db:
        for table in ("events", "event_resources"):
            db.execute(f"UPDATE {table} SET occurred = {stamp} WHERE occurred >= ?", [since])


def prune(office: seed.Office, run_id: str, days: int) -> int:
    """jianyi's retention job, its clock ``days`` ahead; how many runs it deleted."""

    async def job() -> int:
        assert office.system.prefect_api_url is not None
        async with PrefectClient(office.system.prefect_api_url) as client:
            deployment_id = (await client.read_flow_run(UUID(run_id))).deployment_id
            assert deployment_id is not None
            pruned = await retention.prune_finished_runs(
                client,
                deployment_id=deployment_id,
                now=utcnow() + timedelta(days=days),
                database_url=office.system.database_url,
            )
        return len(pruned)

    return asyncio.run(job())


def prefect_vacuum(db_path: Path, *functions: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    with tempfile.TemporaryDirectory() as home:
        env |= {
            "PREFECT_HOME": home,
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{db_path}",
            "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": "PT604800S",  # jianyi's PrefectServer default: 7 days
        }
        subprocess.run([sys.executable, "-c", VACUUM_SCRIPT, *functions], env=env, check=True, timeout=300)


def run_kb(db_path: Path, run_id: str) -> float:
    """The bytes of one flow run's rows (every column, no index or page overhead): what each case costs."""
    total = 0
    with connect(db_path) as db:
        for table, key in (("flow_run", "id"), ("flow_run_state", "flow_run_id"), ("flow_run_input", "flow_run_id"),
                           ("task_run", "flow_run_id"), ("log", "flow_run_id"), ("task_run_state", "task_run_id")):  # fmt: skip
            columns = " + ".join(
                f'coalesce(length(CAST("{c[1]}" AS BLOB)), 0)'
                for c in db.execute(f"PRAGMA table_info({table})")
            )
            where = (
                f"{key} = ?"
                if table != "task_run_state"
                else "task_run_id IN (SELECT id FROM task_run WHERE flow_run_id = ?)"
            )
            total += db.execute(
                f"SELECT coalesce(sum({columns}), 0) FROM {table} WHERE {where}", [run_id]
            ).fetchone()[0]
    return round(total / 1024, 1)


@dataclass
class DbGrowth:
    k: int
    sizes: dict[str, int] = field(default_factory=dict)  # stage → bytes after VACUUM
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    runs_kb: dict[str, float] = field(default_factory=dict)  # scenario (run) → KB of its rows, events aside
    pruned: int = 0  # runs the retention job deleted

    def per_suggestion_kb(self, stage: str) -> float:
        return (self.sizes[stage] - self.sizes["before"]) / self.k / 1024

    def table_kb(self, stage: str) -> dict[str, float]:
        before = self.tables["before"]
        grown = {t: (b - before.get(t, 0)) / self.k / 1024 for t, b in self.tables[stage].items()}
        return {t: round(v, 1) for t, v in sorted(grown.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.05}


def finished_suggestions(office: seed.Office, k: int) -> DbGrowth:
    assert office.system.prefect is not None
    db_path = office.system.prefect.directory / "prefect.db"
    growth = DbGrowth(k)
    quiet(db_path)  # the template's last events and logs arrive a few seconds after its run suspends
    growth.sizes["before"], growth.tables["before"] = vacuumed(db_path)
    with connect(db_path) as db:  # the server's own clock and format, not ours
        since = db.execute("SELECT strftime('%Y-%m-%d %H:%M:%f000', 'now')").fetchone()[0]
    runs = play_to_the_end(office, k)
    quiet(db_path)
    growth.sizes["finished"], growth.tables["finished"] = vacuumed(db_path)
    # Eight days on: their events are past the 7-day retention; the events vacuum deletes them.
    age_events(db_path, since, days=8)
    prefect_vacuum(db_path, "vacuum_events_with_retention_overrides", "vacuum_old_events")
    growth.sizes["events_retention"], growth.tables["events_retention"] = vacuumed(db_path)
    growth.runs_kb = {f"{name} ({run_id[:8]})": run_kb(db_path, run_id) for run_id, name in runs.items()}
    # A month on: the retention job deletes their runs, then the orphan vacuum their logs.
    growth.pruned = prune(office, next(iter(runs)), days=31)
    growth.sizes["runs_pruned"], growth.tables["runs_pruned"] = vacuumed(db_path)
    prefect_vacuum(db_path, "vacuum_orphaned_logs", "vacuum_orphaned_artifacts")
    growth.sizes["orphans_vacuumed"], growth.tables["orphans_vacuumed"] = vacuumed(db_path)
    return growth
