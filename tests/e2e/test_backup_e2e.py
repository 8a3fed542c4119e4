"""A backup taken from a running system mid-load, restored into a fresh home: every suggestion resumes
there and reaches its outcome (`jianyi backup` / `jianyi restore` as an operator runs them)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from conftest import Running
from databases import create_officials, fresh_database
from sqlalchemy.orm import sessionmaker
from support import SCENARIOS, Play

from jianyi.db import make_engine
from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.runtime.system import System

PLAYED = [s for s in SCENARIOS if s.name in ("not_adopted", "complaint", "kept_with_rework_and_co_unit")]
ENV = {
    "JIANYI_DEPLOYMENT_NAME": "lifecycle-backup",
    "JIANYI_EXECUTOR_POLL_SECONDS": "0.2",
    "JIANYI_EXECUTOR_LEASE_SECONDS": "3",
    "JIANYI_DISPATCHER_POLL_SECONDS": "0.3",
    "JIANYI_REPORTS_SCHEDULED": "false",
}


def _cli(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **system.env()} if system.prefect_api_url else {**os.environ}
    env.update({"JIANYI_HOME": str(system.home), "JIANYI_DATABASE_URL": system.database_url})
    env.update(system.extra_env)  # JIANYI_PREFECT_DATABASE_URL, where the Prefect server has one
    return subprocess.run(
        [sys.executable, "-m", "jianyi", *args], env=env, capture_output=True, text=True, check=False
    )


def _start(request: pytest.FixtureRequest, system: System) -> None:
    system.start_services()
    request.addfinalizer(system.stop)
    system.start_api()
    system.start_executor()


def _play(running: Running, plays: list[Play], until: float) -> None:
    while not all(p.finished for p in plays):
        assert time.monotonic() < until, [(p.scenario.name, p.position) for p in plays]
        if not any(p.step(running) for p in plays):
            time.sleep(0.2)


def _empty_database(request: pytest.FixtureRequest, backend: str, directory: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory / 'jianyi.db'}"
    cluster: TemporaryPostgres = request.getfixturevalue("postgres")
    name = f"restored_{os.getpid()}"
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return cluster.url_for(name)


def _system(request: pytest.FixtureRequest, home: Path, database_url: str, prefect_url: str | None) -> System:
    """A system whose Prefect server keeps its SQLite file in the home, or (``prefect_url``) a server
    outside it on a PostgreSQL database, as in the scale-out profile."""
    if prefect_url is None:
        return System(home, database_url=database_url, prefect_ui=False, extra_env=ENV)
    server = PrefectServer(home.parent / f"prefect-{home.name}", database_url=prefect_url)
    request.addfinalizer(server.stop)
    env = {**ENV, "JIANYI_PREFECT_DATABASE_URL": prefect_url}
    return System(home, database_url=database_url, prefect_api_url=server.start().api_url, extra_env=env)


def _prefect_databases(request: pytest.FixtureRequest, backend: str) -> list[str | None]:
    """On PostgreSQL, Prefect's database there too: the one backed up and the empty one restored into."""
    if backend == "sqlite":
        return [None, None]
    cluster: TemporaryPostgres = request.getfixturevalue("postgres")
    urls: list[str | None] = []
    for name in (f"prefect_src_{os.getpid()}", f"prefect_dst_{os.getpid()}"):
        with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        urls.append(cluster.url_for(name, driver="asyncpg"))
    return urls


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backup_mid_load_restores_and_every_suggestion_finishes(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """On PostgreSQL both databases are there: each pg_dump'd, restored into empty ones."""
    url = fresh_database(request, backend, tmp_path)
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    users = create_officials(sessionmaker(bind=engine, expire_on_commit=False))
    prefect_urls = _prefect_databases(request, backend)
    first = _system(request, tmp_path / "home", url, prefect_urls[0])
    _start(request, first)
    running = Running(first, users, sessionmaker(bind=engine))

    plays: list[Play] = []
    for n, scenario in enumerate(PLAYED * 2):
        data = copy.deepcopy(scenario.suggestion)
        data["channel_ref"] = f"backup-{n}"
        plays.append(Play(scenario, running.submit(data)["id"]))
    # Some cases a few steps in, their last answers still being applied, others just received.
    until = time.monotonic() + 120
    for play in plays[:3]:
        for _ in range(2):
            running.wait_until(lambda p=play: p.finished or p.step(running), timeout=60, message="a step")
    late = [
        running.submit({**copy.deepcopy(PLAYED[0].suggestion), "channel_ref": f"late-{n}"})["id"]
        for n in range(2)
    ]
    plays += [Play(PLAYED[0], suggestion_id) for suggestion_id in late]

    taken = _cli(first, "backup", str(tmp_path / "backup"))
    assert taken.returncode == 0, taken.stderr
    manifest = tmp_path / "backup" / "manifest.json"
    assert manifest.stat().st_mode & 0o077 == 0
    kinds = {part["name"]: part["kind"] for part in json.loads(manifest.read_text())["parts"]}
    assert kinds["database"] == kinds["prefect-database"] == ("sqlite" if backend == "sqlite" else "pg_dump")
    first.stop()

    # A home that holds anything is refused, and what is in it is named.
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "jianyi.db").write_text("")
    refused = _cli(
        System(busy, database_url=f"sqlite:///{busy / 'other.db'}"), "restore", str(tmp_path / "backup")
    )
    assert refused.returncode == 6 and "jianyi.db" in refused.stderr, refused.stderr

    home = tmp_path / "restored"
    target = _empty_database(request, backend, tmp_path)
    env = {**ENV, "JIANYI_PREFECT_DATABASE_URL": prefect_urls[1]} if prefect_urls[1] else ENV
    restoring = System(home, database_url=target, prefect_ui=False, extra_env=env)
    restored = _cli(restoring, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    again = _cli(restoring, "restore", str(tmp_path / "backup"))
    assert again.returncode == 6, again.stderr

    second = _system(request, home, target, prefect_urls[1])
    _start(request, second)
    engine2 = make_engine(target)
    request.addfinalizer(engine2.dispose)
    there = Running(second, users, sessionmaker(bind=engine2))
    there.codes = running.codes
    _play(there, plays, until + 120)
    for play in plays:
        view = there.wait_until(
            lambda p=play: (v := there.view(p.suggestion_id))["outcome"] and v,
            timeout=60,
            message=f"suggestion {play.suggestion_id} to close",
        )
        assert view["outcome"] == play.scenario.outcome.value
        assert there.flow_run_end(view["flow_run_id"])["type"] == "COMPLETED"
