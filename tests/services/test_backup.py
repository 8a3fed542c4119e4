"""Backup and restore of the parts, without a running system: checksums, refusals, a round trip."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.db import make_engine
from jianyi.errors import Conflict, InvalidInput
from jianyi.models import Unit
from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.services import backup
from jianyi.settings import Settings


def _prefect_file(home: Path) -> None:
    (home / "prefect").mkdir(parents=True)
    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        db.execute("CREATE TABLE flow_run (id TEXT)")
        db.execute("INSERT INTO flow_run VALUES ('r-1')")
    (home / "reports" / "weekly").mkdir(parents=True)
    (home / "reports" / "weekly" / "2026-W48.pdf").write_bytes(b"%PDF-1.7 report")


def test_a_backup_round_trips_and_refuses_what_it_must(
    request: pytest.FixtureRequest, db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _prefect_file(home)
    taken = backup.take(tmp_path / "b", settings=Settings(home=home, database_url=db_url))
    names = {p["name"] for p in taken["parts"]}  # type: ignore[attr-defined]
    assert names == {"database", "prefect-database", "reports"}
    with pytest.raises(Conflict, match="not an empty directory"):
        backup.take(tmp_path / "b", settings=Settings(home=home, database_url=db_url))

    other = (
        "postgresql+psycopg://x@127.0.0.1:1/x"
        if db_url.startswith("sqlite")
        else "sqlite:///" + str(tmp_path / "x.db")
    )
    with pytest.raises(Conflict, match="the backup is a"):
        backup.restore(tmp_path / "b", settings=Settings(home=tmp_path / "wrong", database_url=other))
    assert not (tmp_path / "wrong").exists()  # nothing changed

    fresh = tmp_path / "fresh"
    target = f"sqlite:///{fresh / 'jianyi.db'}"
    if not db_url.startswith("sqlite"):
        cluster: TemporaryPostgres = request.getfixturevalue("postgres")
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "restored_unit"')
            conn.execute('CREATE DATABASE "restored_unit"')
        target = cluster.url_for("restored_unit")
    placed = backup.restore(tmp_path / "b", settings=Settings(home=fresh, database_url=target))
    assert set(placed) == {"database", "prefect-database", "reports"}
    assert (fresh / "reports" / "weekly" / "2026-W48.pdf").read_bytes() == b"%PDF-1.7 report"
    with sqlite3.connect(fresh / "prefect" / "prefect.db") as db:
        assert db.execute("SELECT id FROM flow_run").fetchall() == [("r-1",)]
    engine = make_engine(target)
    with Session(engine) as session, sessions() as before:
        assert session.scalar(select(func.count()).select_from(Unit)) == before.scalar(
            select(func.count()).select_from(Unit)
        )
    engine.dispose()
    with pytest.raises(Conflict, match="not empty"):
        backup.restore(tmp_path / "b", settings=Settings(home=fresh, database_url=target))


def test_a_damaged_backup_is_refused_naming_the_part(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    _prefect_file(home)
    backup.take(tmp_path / "b", settings=Settings(home=home, database_url=db_url))
    with (tmp_path / "b" / "prefect-database.sqlite").open("ab") as file:
        file.write(b"x")
    with pytest.raises(InvalidInput, match=r"prefect-database.*checksum"):
        backup.restore(tmp_path / "b", settings=Settings(home=tmp_path / "new", database_url=db_url))
    with pytest.raises(InvalidInput, match=r"no manifest\.json"):
        backup.restore(tmp_path, settings=Settings(home=tmp_path / "new", database_url=db_url))
