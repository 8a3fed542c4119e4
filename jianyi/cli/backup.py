"""``jianyi backup`` and ``jianyi restore``: a consistent copy of a running system, and a fresh home
made from one (jianyi.services.backup). Commands of the machine's operator: whoever can read the
data directory can copy it, so no token is asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from jianyi.cli.common import EXIT_CODES, emit, fail
from jianyi.errors import JianyiError
from jianyi.services import backup as backups
from jianyi.settings import Settings


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except JianyiError as exc:
        fail(exc.message, code=EXIT_CODES.get(exc.status_code, 1))


def backup(
    destination: Path = typer.Argument(..., help="a new (or empty) directory for the backup"),
) -> None:
    """Copy the application and Prefect databases, the rules and the generated documents of the
    system in JIANYI_HOME, while it runs, with a manifest of checksums."""
    with _refusals():
        manifest = backups.take(destination.resolve(), settings=Settings())
    emit({"backup": str(destination.resolve()), **manifest})


def restore(
    source: Path = typer.Argument(..., help="a directory `jianyi backup` made"),
) -> None:
    """Restore a backup into a fresh JIANYI_HOME (and an empty JIANYI_DATABASE_URL on PostgreSQL);
    refuses a data directory or database that holds anything. Start the system there afterwards."""
    with _refusals():
        placed = backups.restore(source.resolve(), settings=Settings())
    emit({"restored": str(source.resolve()), "into": placed})


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
