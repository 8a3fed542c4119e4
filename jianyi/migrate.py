"""Schema migrations, run from code: an installed `jianyi` carries its migrations and migrates itself.

There is no alembic.ini; `make_config` points Alembic at the package's `migrations/` directory
and hands the database URL over in ``Config.attributes`` (no configparser escaping of '%').
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from jianyi.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaNotCurrent(RuntimeError):
    """The database is not at the newest migration: run `upgrade()` (the CLI's migrate command)."""

    def __init__(self, current: tuple[str, ...], heads: tuple[str, ...]) -> None:
        super().__init__(
            f"database schema is at {', '.join(current) or 'no revision'}, "
            f"the code expects {', '.join(heads)}: run the migrations"
        )
        self.current = current
        self.heads = heads


def _resolve(url: str | None) -> str:
    return url or get_settings().resolved_database_url


def make_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = _resolve(url)
    return config


def _sqlite_file(url: str) -> Path | None:
    """The database file of a plain SQLite URL; None for other backends and in-memory databases."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def upgrade(url: str | None = None, *, revision: str = "head") -> None:
    """Bring the database (default: the settings' one) up to `revision`."""
    resolved = _resolve(url)
    sqlite_file = _sqlite_file(resolved)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(make_config(resolved), revision)


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(make_config("sqlite://")).get_heads())


def current_revisions(url: str | None = None) -> tuple[str, ...]:
    resolved = _resolve(url)
    sqlite_file = _sqlite_file(resolved)
    if sqlite_file is not None and not sqlite_file.exists():
        return ()  # don't create an empty database file just by looking
    engine = create_engine(resolved, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def check_current(url: str | None = None) -> None:
    """Raise SchemaNotCurrent unless the database is at the newest migration."""
    current, heads = current_revisions(url), head_revisions()
    if set(current) != set(heads):
        raise SchemaNotCurrent(current, heads)


def autogenerate(message: str, *, rev_id: str) -> None:
    """Write a new migration from the difference between the models and the migrations so far.

    Compares against a scratch SQLite database brought to the current head, so no real
    database is needed (and none is touched).
    """
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'autogenerate.db'}"
        upgrade(url)
        config = make_config(url)
        # Format the new file with the project's ruff settings, so it is ruff-clean as written.
        config.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_fix")
        for name, args in (("ruff_format", "format"), ("ruff_fix", "check --fix --quiet")):
            config.set_section_option("post_write_hooks", f"{name}.type", "module")
            config.set_section_option("post_write_hooks", f"{name}.module", "ruff")
            config.set_section_option(
                "post_write_hooks", f"{name}.options", f"{args} REVISION_SCRIPT_FILENAME"
            )
        command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
