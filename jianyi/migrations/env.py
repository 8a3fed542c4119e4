"""Alembic environment, configured in code by `jianyi.migrate` (there is no alembic.ini).

The database comes from ``config.attributes``: either an open ``connection`` (tests) or a
``url``. Migrations render the project's column types as plain SQLAlchemy types, so an old
migration never imports application code that may have changed since it was written.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.pool import NullPool

import jianyi.models  # noqa: F401  (registers every table on Base.metadata)
from jianyi.models.base import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    if type_ != "type":
        return False
    # UTCDateTime is a TypeDecorator over DateTime: the column is a plain DateTime in the database.
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    # Alembic's default rendering, JSONB(astext_type=Text()), names Text without importing it.
    if isinstance(obj, postgresql.JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB()"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        # pysqlite runs DDL outside any transaction; take over BEGIN so that a failed migration
        # on SQLite rolls back whole, as it does on PostgreSQL.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

    return engine


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: use jianyi.migrate, which passes one")
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run them against a database")
run_migrations_online()
