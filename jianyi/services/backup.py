"""Backup and restore of a running system: both databases, the rules and the generated documents.

``take`` copies, while the system runs, the application database and the Prefect database (SQLite:
the online backup API, one consistent snapshot per file; PostgreSQL: ``pg_dump``, one consistent
transaction per database), the rule files and the generated reports into a new directory with a
``manifest.json`` (each part's file, size and SHA-256). The application database is copied first:
every flow run it names then exists in the Prefect copy, which is at most a moment newer (an attempt
replayed from there applies the case as the application database has it, exactly once).

``restore`` checks the manifest's checksums, refuses a data directory (or a PostgreSQL database)
that is not empty and names what is in it, and puts each part back where the settings say.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

from jianyi.errors import Conflict, InvalidInput
from jianyi.runtime.postgres import PostgresNotInstalled, find_bin_dir
from jianyi.settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class Part:
    name: str  # "database", "prefect-database", "rules", "reports"
    kind: str  # "sqlite", "pg_dump", "files"
    path: str  # relative to the backup directory
    bytes: int
    sha256: str


def _digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file, or of every file under a directory (names and contents)."""
    digest, size = hashlib.sha256(), 0
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    return size, digest.hexdigest()


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InvalidInput(f"database URL {url.render_as_string()} names no SQLite file")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it (so it is
    never on a command line others can read)."""
    plain = url.set(drivername="postgresql", password=None)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    try:
        return str(find_bin_dir() / name)
    except PostgresNotInstalled:
        found = shutil.which(name)
        if found is None:
            raise InvalidInput(f"{name} not found: install PostgreSQL's client programs") from None
        return found


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise Conflict(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-800:]}")


def _copy_database(url_text: str, target: Path, name: str) -> Part:
    url = make_url(url_text)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        if not source.is_file():
            raise InvalidInput(f"{name}: no SQLite file at {source}")
        dest = target / f"{name}.sqlite"
        # The online backup API: one read transaction, a consistent copy while others write.
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
            src.close()
        kind = "sqlite"
    elif url.get_backend_name() == "postgresql":
        dest = target / f"{name}.pgdump"
        dsn, env = _libpq(url)
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dest}", dsn], env, "pg_dump")
        kind = "pg_dump"
    else:
        raise InvalidInput(f"{name}: cannot back up a {url.get_backend_name()} database")
    dest.chmod(0o600)
    size, sha = _digest(dest)
    return Part(name, kind, dest.name, size, sha)


def _copy_tree(source: Path, target: Path, name: str) -> Part | None:
    if not source.is_dir():
        return None
    dest = target / name
    shutil.copytree(source, dest)
    size, sha = _digest(dest)
    return Part(name, "files", name, size, sha)


def take(destination: Path, *, settings: Settings) -> dict[str, object]:
    """Back up the system the settings describe into ``destination`` (new, or an empty directory)."""
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise Conflict(f"backup destination {destination} exists and is not an empty directory")
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    destination.chmod(0o700)  # the copies hold proposers' personal data
    parts = [
        _copy_database(settings.resolved_database_url, destination, "database"),
        _copy_database(settings.resolved_prefect_database_url, destination, "prefect-database"),
    ]
    home = settings.home.resolve()
    for source, name in ((settings.rules_dir, "rules"), (home / "reports", "reports")):
        part = _copy_tree(source, destination, name) if source is not None else None
        if part is not None:
            parts.append(part)
    manifest: dict[str, object] = {
        "format": FORMAT,
        "made_by": "jianyi",
        "taken_at": datetime.now(UTC).isoformat(),
        "home": str(home),
        "parts": [asdict(p) for p in parts],
    }
    path = destination / MANIFEST
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return manifest


def read_manifest(source: Path) -> list[Part]:
    """The backup's parts, each checked against its size and checksum."""
    path = source / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{source} is not a jianyi backup: no {MANIFEST}")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path}: unknown backup format {manifest.get('format')!r}")
    parts = [Part(**p) for p in manifest["parts"]]
    for part in parts:
        file = source / part.path
        if not file.exists():
            raise InvalidInput(f"backup part {part.name}: {file} is missing")
        if _digest(file) != (part.bytes, part.sha256):
            raise InvalidInput(f"backup part {part.name}: {file} does not match its checksum (damaged)")
    return parts


def _home_contents(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir()) if home.is_dir() else []


def _pg_tables(dsn: str, env: dict[str, str]) -> list[str]:
    with psycopg.connect(dsn, password=env.get("PGPASSWORD")) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return sorted(r[0] for r in rows)


def _check_target(part: Part, url_text: str, home: Path) -> None:
    """Refuse a target that holds something already, or of the other kind, naming it."""
    url = make_url(url_text)
    backend = url.get_backend_name()
    if part.kind == "sqlite":
        if backend != "sqlite":
            raise Conflict(f"{part.name}: the backup is a SQLite file but the target is {backend}")
        target = _sqlite_path(url)
        if target.exists():
            raise Conflict(f"{part.name}: {target} exists already; restore into a fresh one")
    else:
        if backend != "postgresql":
            raise Conflict(f"{part.name}: the backup is a PostgreSQL dump but the target is {backend}")
        dsn, env = _libpq(url)
        tables = _pg_tables(dsn, env)
        if tables:
            raise Conflict(
                f"{part.name}: database {url.database} is not empty "
                f"({len(tables)} tables: {', '.join(tables[:5])}); restore into an empty database"
            )


def _put_database(part: Part, source: Path, url_text: str) -> None:
    url = make_url(url_text)
    if part.kind == "sqlite":
        target = _sqlite_path(url)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(source / part.path, target)
        target.chmod(0o600)
        return
    dsn, env = _libpq(url)
    _run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            f"--dbname={dsn}",
            str(source / part.path),
        ],
        env,
        "pg_restore",
    )


def restore(source: Path, *, settings: Settings) -> dict[str, str]:
    """Restore the backup at ``source`` into the settings' (fresh) data directory and databases;
    where each part went."""
    parts = {p.name: p for p in read_manifest(source)}
    home = settings.home.resolve()
    present = _home_contents(home)
    if present:
        raise Conflict(
            f"data directory {home} is not empty ({', '.join(present[:8])}); restore into a fresh one"
        )
    urls = {
        "database": settings.resolved_database_url,
        "prefect-database": settings.resolved_prefect_database_url,
    }
    for name, url in urls.items():
        if name not in parts:
            raise InvalidInput(f"the backup has no {name}")
        _check_target(parts[name], url, home)
    rules = settings.rules_dir.resolve() if settings.rules_dir is not None else home / "rules"
    if "rules" in parts and rules.exists() and any(rules.iterdir()):
        raise Conflict(f"rules directory {rules} is not empty; restore into a fresh one")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    placed: dict[str, str] = {}
    for name, url in urls.items():
        _put_database(parts[name], source, url)
        placed[name] = make_url(url).render_as_string(hide_password=True)
    for name, target in (("rules", rules), ("reports", home / "reports")):
        if name in parts:
            shutil.copytree(source / parts[name].path, target, dirs_exist_ok=True)
            placed[name] = str(target)
    return placed
