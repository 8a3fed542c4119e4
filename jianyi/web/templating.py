"""The pages' one Jinja2 environment: HTML always escaped, undefined names an error, times shown in
Asia/Shanghai whatever the database stored (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from jianyi.models.enums import STAGE_LABELS, Stage
from jianyi.rules.calendar import SHANGHAI

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "web"


def local(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as Shanghai wall time (a naive one is UTC, as stored); a date as it is."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(SHANGHAI).strftime(fmt)
    return value.strftime("%Y-%m-%d")


# The stages a suggestion passes, in order, for the progress bar (closed is the end).
STAGES: list[tuple[str, str]] = [(s.value, STAGE_LABELS[s]) for s in Stage]

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every page is HTML, whatever the file's suffix
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["local"] = local
environment.globals["STAGES"] = STAGES
templates = Jinja2Templates(env=environment)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page, with what every page's layout reads (the signed-in official, the CSRF token)."""
    base = {"me": getattr(request.state, "official", None), "csrf": csrf_token(request)}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def csrf_token(request: Request) -> str:
    """The CSRF token of the form a page carries (asgi-csrf sets its cookie when it is asked for)."""
    make = request.scope.get("csrftoken")
    return str(make()) if callable(make) else ""
