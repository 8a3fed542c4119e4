"""Units of work on SQLite: writers take the write lock up front, readers take none."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from jianyi import db
from jianyi.db import (
    forget_engines,
    read_scope,
    session_scope,
)
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


def test_writers_queue_for_the_lock_and_each_gets_it(sqlite_url: str) -> None:
    """Writers of this process and of another connection, all at once: every one commits."""
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with session_scope(sqlite_url) as session:
                session.execute(update(Unit).where(Unit.code == "city-office").values(name=f"w{n}"))
                time.sleep(0.02)  # hold the lock a while: the others must wait, not fail
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    with session_scope(sqlite_url) as holder:
        holder.execute(update(Unit).where(Unit.code == "city-office").values(name="holder"))
        for thread in threads:
            thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(30)
    assert errors == []
    with read_scope(sqlite_url) as session:
        assert session.scalar(select(Unit.name).where(Unit.code == "city-office")) in {
            f"w{n}" for n in range(8)
        }


def test_a_writer_that_never_gets_the_lock_fails_and_says_so(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.3)
    other = db.make_engine(sqlite_url)  # another process's connection, in effect
    try:
        with other.begin() as holding:
            holding.execute(update(Unit).values(name="held"))
            with (
                pytest.raises(OperationalError, match="database is locked"),
                session_scope(sqlite_url) as session,
            ):
                session.execute(select(Unit.id)).all()
    finally:
        other.dispose()


def teardown_module() -> None:
    forget_engines()


def test_one_engine_per_database_however_its_url_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The default and the explicit URL share one pool (on SQLite, one write-lock queue)."""
    from jianyi.settings import get_settings

    url = f"sqlite:///{tmp_path / 'one.db'}"
    monkeypatch.setenv("JIANYI_DATABASE_URL", url)
    get_settings.cache_clear()
    forget_engines()
    try:
        assert db.get_engine() is db.get_engine(url)
        assert db.get_sessionmaker().kw["bind"] is db.get_sessionmaker(url).kw["bind"] is db.get_engine()
    finally:
        db.get_engine().dispose()
        get_settings.cache_clear()
        forget_engines()
