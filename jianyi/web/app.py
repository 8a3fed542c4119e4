"""How the pages join the API's app: their routes, the front-end files, the OpenAPI pages on local
files, the error pages, and CSRF protection of every form (asgi-csrf: a signed token in a cookie and
the same in the form's ``csrftoken`` field)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from asgi_csrf import asgi_csrf
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from jianyi.api.errors import PageError
from jianyi.errors import JianyiError
from jianyi.settings import get_settings
from jianyi.web import (
    accounts,
    admin,
    board,
    campaign_desk,
    campaigns,
    commendations,
    leader,
    letters,
    office,
    public,
    static,
    workbench,
)
from jianyi.web.errors import csrf_failed, pages_or
from jianyi.web.templating import templates

# Paths whose forms are protected even from a browser that has no cookie yet (a page's first POST).
ALWAYS_PROTECTED = frozenset({"/suggest", "/login", campaigns.SUGGEST})


def secret_key(home: Path) -> str:
    """The key that signs CSRF tokens, made once per data directory (0600) and shared by every API
    process: a token one worker signed is good at another, and after a restart."""
    path = home / "web-secret"
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _api_scope(scope: Scope) -> bool:
    # The JSON API authenticates with bearer tokens, not cookies: no CSRF token there.
    return str(scope["path"]).startswith("/api/")


def install(app: FastAPI) -> None:
    """Add the pages to ``app``; call it before the body guard, so that CSRF reads a bounded body."""
    for type_, handler in list(app.exception_handlers.items()):
        if type_ in (JianyiError, PageError, RequestValidationError, StarletteHTTPException, Exception):
            app.add_exception_handler(type_, pages_or(handler))
    app.mount("/static/web", static.own_files(), name="static-web")
    for router in (
        static.router,
        public.router,
        accounts.router,
        workbench.router,
        board.router,
        leader.router,
        campaign_desk.router,  # before campaigns': /campaigns/manage is not a campaign's id
        campaigns.router,
        commendations.router,
        office.router,
        letters.router,
        admin.router,
    ):
        app.include_router(router)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "docs.html.j2", {"title": app.title})

    @app.get("/redoc", include_in_schema=False, response_class=HTMLResponse)
    def redoc(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "redoc.html.j2", {"title": app.title})

    app.add_middleware(
        asgi_csrf,
        signing_secret=secret_key(get_settings().home),
        always_protect=ALWAYS_PROTECTED,
        skip_if_scope=_api_scope,
        send_csrf_failed=csrf_failed,
        cookie_samesite="Strict",
    )
    app.add_middleware(accounts.SignedIn)  # outside CSRF: request.state.official for every page
