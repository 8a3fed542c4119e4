"""What every CLI command shares: the caller's identity, JSON output, and errors as exit codes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from jianyi import refusals
from jianyi.db import session_scope
from jianyi.errors import JianyiError
from jianyi.services import auth
from jianyi.services.actors import Actor

# Exit codes by kind of refusal, so scripts can tell "forbidden" from "already done".
EXIT_CODES = {400: 2, 401: 3, 403: 4, 404: 5, 409: 6, 422: 7}


def fail(message: str, *, code: int = 1, detail: Any = None) -> NoReturn:
    fields = [d for d in detail if isinstance(d, dict) and "field" in d] if isinstance(detail, list) else []
    # With field errors, a headline and one line per field (the message repeats them all on one line).
    headline = message.split(": ", 1)[0] if fields else message
    typer.secho(f"error: {headline}", fg=typer.colors.RED, err=True)
    for item in fields:
        typer.secho(f"  {item['field']}: {item['message']}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def domain_errors_as_exit_codes() -> Iterator[None]:
    """A domain error becomes its message and exit code; a refused change is audited first
    (jianyi.refusals), so the command's own transaction must have ended inside this block."""
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


def emit(value: BaseModel | list[BaseModel] | dict[str, Any]) -> None:
    if isinstance(value, list):
        data: Any = [v.model_dump(mode="json") for v in value]
    elif isinstance(value, BaseModel):
        data = value.model_dump(mode="json")
    else:
        data = value
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


TokenOption = typer.Option(None, "--token", envvar="JIANYI_TOKEN", help="your bearer token (or JIANYI_TOKEN)")
