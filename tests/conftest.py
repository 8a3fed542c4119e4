"""Shared fixtures: real databases (SQLite files and a throwaway PostgreSQL cluster), migrated once
per session into a seeded template and cloned per test, and the officials the scenarios act as."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import BACKENDS, Users, create_officials, fresh_database, seed_template
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from jianyi.db import make_engine
from jianyi.runtime.postgres import PostgresNotInstalled, TemporaryPostgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    try:
        cluster = TemporaryPostgres().start()
    except PostgresNotInstalled as exc:
        if os.environ.get("CI"):
            raise  # CI installs PostgreSQL (.ci/run): missing there is a failure, not a skip
        pytest.skip(f"PostgreSQL server binaries not installed: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    seed_template(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: TemporaryPostgres) -> str:
    seed_template(postgres.create_database("jianyi_template"))
    return "jianyi_template"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database(request, request.param, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture
def users(sessions: sessionmaker[Session]) -> Users:
    return create_officials(sessions)


@pytest.fixture
def cli_on(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI in-process against this test's database (settings, engine and sessions are cached)."""
    from jianyi.db import forget_engines
    from jianyi.settings import get_settings

    def clear() -> None:
        get_settings.cache_clear()
        forget_engines()

    monkeypatch.setenv("JIANYI_DATABASE_URL", db_url)
    clear()
    yield
    clear()
