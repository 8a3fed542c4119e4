"""The packaged migrations build the models' schema, audit_log append-only, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from jianyi.migrate import (
    SchemaNotCurrent,
    check_current,
    current_revisions,
    head_revisions,
    make_config,
    upgrade,
)
from jianyi.models import Base
from jianyi.runtime.postgres import PostgresNotInstalled, TemporaryPostgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    try:
        cluster = TemporaryPostgres()
    except PostgresNotInstalled as exc:
        pytest.skip(f"PostgreSQL server binaries not installed: {exc}")
    with cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database; for SQLite in a directory that does not exist yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'not-yet' / 'jianyi.db'}"
    cluster: TemporaryPostgres = request.getfixturevalue("postgres")
    return cluster.create_database(f"migrations_{uuid.uuid4().hex[:12]}")


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.NullPool)


def test_upgrade_builds_the_models_schema(empty_url: str) -> None:
    upgrade(empty_url)
    engine = _engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    # A diff here means the models changed without a migration: regenerate or add one.
    assert diffs == []


def test_check_current_follows_the_revision(empty_url: str) -> None:
    with pytest.raises(SchemaNotCurrent, match="no revision"):
        check_current(empty_url)
    upgrade(empty_url)
    check_current(empty_url)
    assert current_revisions(empty_url) == head_revisions()


def test_upgrade_twice_is_a_no_op_and_downgrade_round_trips(empty_url: str) -> None:
    upgrade(empty_url)
    upgrade(empty_url)
    command.downgrade(make_config(empty_url), "base")
    engine = _engine(empty_url)
    try:
        tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert tables == set()
    upgrade(empty_url)
    check_current(empty_url)


def test_audit_log_is_append_only(empty_url: str) -> None:
    upgrade(empty_url)
    engine = _engine(empty_url)
    insert = sa.text(
        "INSERT INTO audit_log (at, actor_label, action, detail) "
        "VALUES (CURRENT_TIMESTAMP, 'flow', 'test.entry', '{}')"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert)
            conn.execute(insert)  # appending stays allowed
        refused = ["UPDATE audit_log SET action = 'rewritten'", "DELETE FROM audit_log"]
        if engine.dialect.name == "postgresql":
            refused.append("TRUNCATE audit_log")  # TRUNCATE skips row triggers: guarded on its own
        for statement in refused:
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(statement))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT action FROM audit_log")).scalars().all()
    finally:
        engine.dispose()
    assert rows == ["test.entry", "test.entry"]
