"""The HTTP API (FastAPI). Each request is one unit of work, owned by its session dependency
(api/deps.py); errors become responses in api/errors.py."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from jianyi.api import openapi
from jianyi.api.body_limit import BodyGuard
from jianyi.api.deps import SessionDep
from jianyi.api.errors import (
    PageError,
    domain_error,
    http_error,
    page_error,
    server_error,
    validation_error,
)
from jianyi.api.gate import ConcurrencyGate
from jianyi.api.routes import (
    board,
    campaigns,
    commendations,
    communications,
    digests,
    figures,
    personal_data,
    reports,
    steps,
    suggestions,
    track,
    units,
)
from jianyi.api.security import SecurityHeaders
from jianyi.errors import JianyiError
from jianyi.services.figures.snapshots import FigureSnapshots
from jianyi.settings import get_settings
from jianyi.web import app as web


def create_app() -> FastAPI:
    app = FastAPI(
        title="jianyi 人民建议征集",
        version="0.1.0",
        description="Every citizen suggestion from receipt to policy, through the seven-step method (七步法).",
        docs_url=None,  # served by jianyi/web on local files, not a CDN
        redoc_url=None,
    )
    # The figures' snapshots: this app's own (a new app, as in each test, starts with none).
    app.state.figure_snapshots = FigureSnapshots(max_age=get_settings().figures_max_age_seconds)
    app.add_exception_handler(JianyiError, domain_error)
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    # Routing's and body parsing's own errors (404, 405, 400) and bugs (500): the same body as ours.
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
    web.install(app)  # the pages: before the body guard, which must wrap their CSRF check
    app.add_middleware(BodyGuard)
    app.add_middleware(SecurityHeaders)  # CSP, no framing, nosniff, no Referer: api/security.py

    @app.get("/api/health", tags=["system"])
    def health(session: SessionDep) -> dict[str, str]:
        session.execute(text("select 1"))
        return {"status": "ok", "database": "ok"}

    for module in (units, suggestions, steps, communications, track, board, reports, digests, campaigns):
        app.include_router(module.router)
    app.include_router(campaigns.public)
    app.include_router(commendations.router)
    app.include_router(commendations.public)
    app.include_router(figures.router)
    app.include_router(personal_data.router)
    openapi.install(app)
    return app


def create_served_app() -> ASGIApp:
    """What ``jianyi api`` serves: the app behind its concurrency gate. A factory, so that each of
    uvicorn's worker processes builds its own."""
    return ConcurrencyGate(create_app())
