"""TemporaryPostgres: a real cluster, reached through SQLAlchemy with psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from jianyi.runtime import postgres as postgres_module
from jianyi.runtime.postgres import PostgresNotInstalled, TemporaryPostgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    try:
        cluster = TemporaryPostgres()
    except PostgresNotInstalled as exc:
        pytest.skip(f"PostgreSQL server binaries not installed: {exc}")
    with cluster:
        yield cluster


def test_create_database_and_query(postgres: TemporaryPostgres) -> None:
    url = postgres.create_database("jianyi_test")
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port}/jianyi_test"
    # Idempotent: a second call must not fail with "already exists".
    assert postgres.create_database("jianyi_test") == url

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            settings: dict[str, str] = dict(
                conn.execute(
                    sa.text(
                        "select name, setting from pg_settings where name in "
                        "('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses')"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert settings == {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "listen_addresses": "127.0.0.1",
    }


def test_url_for_drivers(postgres: TemporaryPostgres) -> None:
    assert (
        postgres.url_for("p", driver="asyncpg")
        == f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/p"
    )
    with pytest.raises(ValueError):
        postgres.url_for("p", driver="psycopg2")


def test_stop_removes_the_directory() -> None:
    try:
        cluster = TemporaryPostgres()
    except PostgresNotInstalled as exc:
        pytest.skip(f"PostgreSQL server binaries not installed: {exc}")
    cluster.start()
    directory = cluster.directory
    assert directory is not None and (directory / "data" / "PG_VERSION").exists()
    cluster.stop()
    assert not directory.exists()


def test_no_binaries_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_module, "POSTGRES_ROOT", tmp_path)
    with pytest.raises(PostgresNotInstalled, match="apt-get install -y postgresql"):
        TemporaryPostgres()
