"""How errors become responses: domain errors carry their status; bodies never leak a traceback.

A refused change (e.g. a step completion by another unit) is audited here, after the request's
transaction was rolled back (the session dependency ends before these handlers run).
"""

from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from jianyi import refusals
from jianyi.errors import JianyiError, field_errors


class PageError(Exception):
    """A domain error of a page's form (the public tracking page): answered as HTML, not JSON."""

    def __init__(self, error: JianyiError) -> None:
        super().__init__(error.message)
        self.error = error


def _error(status: int, code: str, message: str, detail: object = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message": message, "detail": detail})


async def _audit_refusal(error: JianyiError) -> None:
    if error.refusal is not None:
        await run_in_threadpool(refusals.record, error)


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JianyiError)
    await _audit_refusal(exc)
    response = _error(exc.status_code, exc.code, exc.message, exc.detail)
    if exc.status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def page_error(_request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageError)
    await _audit_refusal(exc.error)
    return HTMLResponse(f"<p>{escape(exc.error.message)}</p>", status_code=exc.error.status_code)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = field_errors(exc.errors(), skip=("body", "query", "path"))
    return _error(422, "invalid_input", "; ".join(f"{f['field']}: {f['message']}" for f in fields), fields)
