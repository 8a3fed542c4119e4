"""Engine and sessions of the application database.

One owner of each transaction: services only ``flush()``; the request dependency, the CLI
command or the executor's unit of work commits (``session_scope``) or rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from jianyi.settings import get_settings

READ_ONLY = "jianyi_read_only"  # an execution option: this transaction only reads


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the executor writes; busy_timeout makes writers queue
    # instead of failing with "database is locked" when the API and the executor write at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling starts transactions late; BEGIN IMMEDIATE on every
        # transaction that may write takes the write lock up front, so read-then-write races become
        # waits, not errors. Read-only ones (``read_scope``, the API's GETs) take no lock: in WAL
        # mode they read beside the writer, instead of queueing behind every attempt and completion.
        event.listen(
            engine,
            "begin",
            lambda conn: conn.exec_driver_sql(
                "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
            ),
        )

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    settings = get_settings()
    return make_engine(url or settings.resolved_database_url, echo=settings.sql_echo)


@lru_cache(maxsize=4)
def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@lru_cache(maxsize=4)
def get_read_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    """Sessions for units of work that only read (same pool, no write lock on SQLite)."""
    return sessionmaker(bind=get_engine(url).execution_options(**{READ_ONLY: True}), expire_on_commit=False)


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
