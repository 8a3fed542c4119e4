"""Units of work on SQLite: writers take the write lock up front, readers take none."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from jianyi.db import get_engine, get_read_sessionmaker, get_sessionmaker, read_scope, session_scope
from jianyi.migrate import upgrade
from jianyi.models import Unit
from jianyi.services.network import seed_network


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'jianyi.db'}"
    upgrade(url)
    with session_scope(url) as session:
        seed_network(session)
    return url


def test_a_reader_reads_beside_a_writer_holding_the_lock(sqlite_url: str) -> None:
    with session_scope(sqlite_url) as writer:
        writer.execute(select(Unit.id)).all()  # BEGIN IMMEDIATE: the write lock is held from here
        started = time.monotonic()
        with read_scope(sqlite_url) as reader:
            units = reader.scalar(select(func.count(Unit.id)))
        # A second writer would wait for the lock (busy_timeout, 30 s); a reader answers at once.
        assert units and time.monotonic() - started < 5


def test_a_read_scope_never_keeps_what_it_did(sqlite_url: str) -> None:
    with read_scope(sqlite_url) as session:
        session.execute(update(Unit).values(name="changed"))
    with read_scope(sqlite_url) as session:
        assert "changed" not in set(session.scalars(select(Unit.name)))


def teardown_module() -> None:
    for cached in (get_engine, get_sessionmaker, get_read_sessionmaker):
        cached.cache_clear()
