"""What every CLI command shares: the caller's identity, JSON output, and errors as exit codes.

An expected failure is one line on stderr and an exit code, never a traceback: a refusal, and a
database that cannot be used (none where the command looks, no schema yet, busy, unreachable).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from jianyi import refusals
from jianyi.db import session_scope
from jianyi.errors import JianyiError
from jianyi.services import auth
from jianyi.services.actors import Actor
from jianyi.settings import get_settings

# Exit codes by kind of refusal, so scripts can tell "forbidden" from "already done".
EXIT_CODES = {400: 2, 401: 3, 403: 4, 404: 5, 409: 6, 422: 7}
EXIT_DATABASE = 8  # the database cannot be used: missing, without schema, busy or unreachable
# What to do when the command finds no database, or not the system's.
DATABASE_HINT = (
    "set JIANYI_HOME to the data directory of the running system (or JIANYI_DATABASE_URL), "
    "or start it first with `make up`"
)


def fail(message: str, *, code: int = 1, detail: Any = None) -> NoReturn:
    fields = [d for d in detail if isinstance(d, dict) and "field" in d] if isinstance(detail, list) else []
    # With field errors, a headline and one line per field (the message repeats them all on one line).
    headline = message.split(": ", 1)[0] if fields else message
    typer.secho(f"error: {headline}", fg=typer.colors.RED, err=True)
    for item in fields:
        typer.secho(f"  {item['field']}: {item['message']}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def _where(url: str) -> str:
    path = _sqlite_file(url)
    return str(path) if path is not None else make_url(url).render_as_string(hide_password=True)


def database_trouble(exc: DBAPIError, url: str) -> str:
    """One line: what is wrong with the database, where it is, what to do."""
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    where, said = _where(url), reason.lower()
    if "unable to open" in said or "connect" in said or ('database "' in said and "does not exist" in said):
        return f"cannot open the database {where} ({reason}): {DATABASE_HINT}"
    if "no such table" in said or ("relation" in said and "does not exist" in said):
        return (
            f"the database {where} has no jianyi schema ({reason}): run `jianyi migrate`, or {DATABASE_HINT}"
        )
    if "locked" in said:
        return f"the database {where} is busy ({reason}): try again in a moment"
    return f"the database {where} failed: {reason}"


def require_database(url: str | None = None) -> None:
    """Refuse a SQLite file that does not exist, before opening it would create an empty one."""
    resolved = url or get_settings().resolved_database_url
    path = _sqlite_file(resolved)
    if path is not None and not path.is_file():
        fail(f"cannot open the database {path} (no such file): {DATABASE_HINT}", code=EXIT_DATABASE)


@contextmanager
def database_errors(url: str | None = None, *, must_exist: bool = True) -> Iterator[None]:
    """A database that cannot be used becomes one line and EXIT_DATABASE, not a traceback.
    ``must_exist=False`` for a command that creates it (``jianyi migrate``)."""
    if must_exist:
        require_database(url)
    try:
        yield
    except DBAPIError as exc:
        fail(database_trouble(exc, url or get_settings().resolved_database_url), code=EXIT_DATABASE)


@contextmanager
def domain_errors_as_exit_codes() -> Iterator[None]:
    """A domain error becomes its message and exit code; a refused change is audited first
    (jianyi.refusals), so the command's own transaction must have ended inside this block. A
    database that cannot be used is told in one line (``database_errors``)."""
    with database_errors():
        try:
            yield
        except JianyiError as exc:
            refusals.record(exc)
            fail(exc.message, code=EXIT_CODES.get(exc.status_code, 1), detail=exc.detail)


@contextmanager
def session() -> Iterator[Session]:
    """The command's one transaction: committed when the block ends, rolled back on any error
    (before a refusal is audited and the error becomes an exit code)."""
    with domain_errors_as_exit_codes(), session_scope() as db:
        yield db


def token_of(token: str | None) -> str | None:
    return token or os.environ.get("JIANYI_TOKEN")


def actor(db: Session, token: str | None) -> Actor:
    return auth.authenticate(db, token=token_of(token))


def emit(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(value, list):
        data: Any = [v.model_dump(mode="json") for v in value]
    elif isinstance(value, BaseModel):
        data = value.model_dump(mode="json")
    else:
        data = value
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


TokenOption = typer.Option(None, "--token", envvar="JIANYI_TOKEN", help="your bearer token (or JIANYI_TOKEN)")
