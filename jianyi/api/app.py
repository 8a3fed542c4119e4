"""The HTTP API (FastAPI). Domain errors carry their status; bodies never leak a traceback."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp

from jianyi.api.deps import SessionDep
from jianyi.api.gate import ConcurrencyGate
from jianyi.api.routes import board, communications, steps, suggestions, track, units
from jianyi.services.errors import JianyiError, field_errors


def _error(status: int, code: str, message: str, detail: object = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message": message, "detail": detail})


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JianyiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    response = _error(exc.status_code, exc.code, exc.message, exc.detail)
    if headers:
        response.headers.update(headers)
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = field_errors(exc.errors(), skip=("body", "query", "path"))
    return _error(422, "invalid_input", "; ".join(f"{f['field']}: {f['message']}" for f in fields), fields)


def create_app() -> FastAPI:
    app = FastAPI(
        title="jianyi 人民建议征集",
        version="0.1.0",
        description="Every citizen suggestion from receipt to policy, through the seven-step method (七步法).",
    )
    app.add_exception_handler(JianyiError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

    @app.get("/api/health", tags=["system"])
    def health(session: SessionDep) -> dict[str, str]:
        session.execute(text("select 1"))
        return {"status": "ok", "database": "ok"}

    for module in (units, suggestions, steps, communications, track, board):
        app.include_router(module.router)
    return app


def create_served_app() -> ASGIApp:
    """What ``jianyi api`` serves: the app behind its concurrency gate. A factory, so that each of
    uvicorn's worker processes builds its own."""
    return ConcurrencyGate(create_app())
