"""Engine and sessions of the application database.

One owner of each transaction: services only ``flush()``; the request dependency, the CLI
command or the executor's unit of work commits (``session_scope``) or rolls back.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from jianyi.settings import get_settings

READ_ONLY = "jianyi_read_only"  # an execution option: this transaction only reads

LOCK_WAIT_SECONDS = 30.0  # a writer waits this long for SQLite's write lock, then fails "database is locked"
_POLL_FIRST, _POLL_MAX = 0.0005, 0.004  # seconds between asks for the write lock: doubling, then capped


def _busy_timeout() -> str:
    return f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the executor writes; busy_timeout makes the rare statement that
    # meets a lock mid-transaction (a checkpoint) wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(_busy_timeout())
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _WriteLockQueue:
    """How this process's writers take SQLite's write lock: promptly, and one asker at a time.

    SQLite's own busy handler sleeps up to 100 ms between tries, long enough to sleep through one
    release after another. Here one thread of the process asks every 0.5 to 4 ms, and the process's
    other writers queue behind it on a Python lock (docs/architecture.md, "The SQLite write lock").
    """

    def __init__(self) -> None:
        self._asking = threading.Lock()

    def begin(self, conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        if not self._asking.acquire(timeout=LOCK_WAIT_SECONDS):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        try:
            self._take(conn.connection.driver_connection, deadline)
        finally:
            self._asking.release()

    @staticmethod
    def _take(sqlite: Any, deadline: float) -> None:
        sqlite.execute("PRAGMA busy_timeout=0")  # SQLite answers at once; the waiting is done here
        try:
            delay = _POLL_FIRST
            while True:
                try:
                    sqlite.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
                time.sleep(delay)
                delay = min(2 * delay, _POLL_MAX)
        finally:
            sqlite.execute(_busy_timeout())


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": LOCK_WAIT_SECONDS}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling starts transactions late; BEGIN IMMEDIATE on every
        # transaction that may write takes the write lock up front, so read-then-write races become
        # waits, not errors. Read-only ones (``read_scope``, the API's GETs) take no lock: in WAL
        # mode they read beside the writer, instead of queueing behind every attempt and completion.
        event.listen(engine, "begin", _WriteLockQueue().begin)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    # No JIT: PostgreSQL's estimates for the figures' grouped joins run to billions of rows, so each
    # would be compiled (hundreds of ms) to save nothing; every query here reads indexes.
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={} if "options" in make_url(url).query else {"options": "-c jit=off"},
    )


def get_engine(url: str | None = None) -> Engine:
    """The process's engine for ``url`` (default: the settings' database): one pool, and on SQLite
    one write-lock queue, per database whichever way the URL was given."""
    return _engine(_resolved(url))


def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    return _sessionmaker(_resolved(url))


def get_read_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    """Sessions for units of work that only read (same pool, no write lock on SQLite)."""
    return _read_sessionmaker(_resolved(url))


def forget_engines() -> None:
    """Drop the cached engines and session factories (tests that point the settings elsewhere)."""
    for cached in (_engine, _sessionmaker, _read_sessionmaker):
        cached.cache_clear()


def _resolved(url: str | None) -> str:
    return url or get_settings().resolved_database_url


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url, echo=get_settings().sql_echo)


@lru_cache(maxsize=4)
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=_engine(url), expire_on_commit=False)


@lru_cache(maxsize=4)
def _read_sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=_engine(url).execution_options(**{READ_ONLY: True}), expire_on_commit=False)


_one_writer = threading.Lock()


def writer_turn(url: str | None = None) -> AbstractContextManager[object]:
    """Hold this around a unit of work that writes, on a hot path: on SQLite one at a time per process.

    SQLite writes one transaction at a time anyway, and threads that work at once share the GIL, so
    the one holding the write lock would hold it longer. PostgreSQL writes side by side: no turn.
    """
    if (url or get_settings().resolved_database_url).startswith("sqlite"):
        return _one_writer
    return nullcontext()


@contextmanager
def read_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work that only reads: rolled back at the end, whatever it did."""
    session = get_read_sessionmaker(url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dialect_insert(session: Session) -> Callable[[Any], Any]:
    """The session's dialect's INSERT, the one with ON CONFLICT (SQLAlchemy has no portable one)."""
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
