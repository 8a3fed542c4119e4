"""How errors become responses: every error the API answers has one body, ``ErrorBody``, whether a
domain error, a request that fails validation, malformed JSON, an unknown route, a wrong method, a
body over the size cap or a bug; bodies never leak a traceback.

A refused change (e.g. a step completion by another unit) is audited here, after the request's
transaction was rolled back (the session dependency ends before these handlers run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from jianyi import refusals
from jianyi.errors import JianyiError, field_errors

# An error answer echoes field names, which a client chooses: it stays small whatever was sent.
MAX_FIELDS = 50
MAX_FIELD_CHARS = 200
MAX_MESSAGE_CHARS = 2000

# The code of an error that no domain error names (routing, body parsing, the server).
CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
}

# What each status means here, for the OpenAPI document (jianyi/api/openapi.py).
DESCRIPTIONS = {
    400: "the body could not be read",
    401: "no token, or an unknown one",
    403: "the caller's role or unit may not do this",
    404: "no such record (or route)",
    405: "the route does not take this method",
    408: "the request body did not arrive in time",
    409: "the record is no longer in a state that allows this (e.g. the step is already done)",
    413: "the request body is over the size cap",
    422: "a field, parameter or the body is invalid: `detail` names each",
    429: "too many requests from this client: try again later",
    500: "the request failed on the server and was rolled back",
}


class FieldError(BaseModel):
    field: str = Field(
        description="the field or parameter, dotted for a nested one; `(body)` for the whole body"
    )
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer (4xx and 5xx)."""

    code: str = Field(description="what kind of error: " + ", ".join(sorted(set(CODES.values()))))
    message: str = Field(description="for people: what went wrong")
    detail: list[FieldError] = Field(
        default_factory=list, description="one entry per bad field or parameter (422); otherwise empty"
    )


class PageError(Exception):
    """A domain error of a page's form (the public tracking page): answered as HTML, not JSON."""

    def __init__(self, error: JianyiError) -> None:
        super().__init__(error.message)
        self.error = error


def _cut(text: str, limit: int) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    # An echoed lone surrogate could not be encoded as UTF-8: shown escaped instead.
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _fields(detail: object) -> list[dict[str, str]]:
    """A domain error's detail as the body's field list (anything else a domain error carries is dropped)."""
    if not isinstance(detail, list):
        return []
    return [
        {"field": str(d.get("field", "(body)")), "message": str(d.get("message", ""))}
        for d in detail
        if isinstance(d, Mapping)
    ]


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Iterable[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    entries = list(fields)
    shown = [
        {"field": _cut(f["field"], MAX_FIELD_CHARS), "message": _cut(f["message"], MAX_FIELD_CHARS * 2)}
        for f in entries[:MAX_FIELDS]
    ]
    if len(entries) > MAX_FIELDS:
        message = f"{message} (and {len(entries) - MAX_FIELDS} more)"
    body = ErrorBody.model_validate(
        {"code": code, "message": _cut(message, MAX_MESSAGE_CHARS), "detail": shown}
    )
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's own error answers for the OpenAPI document (``responses=``); the ones every route of
    its kind has are added by jianyi/api/openapi.py."""
    return {status: {"model": ErrorBody, "description": DESCRIPTIONS[status]} for status in statuses}


async def _audit_refusal(error: JianyiError) -> None:
    if error.refusal is not None:
        await run_in_threadpool(refusals.record, error)


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JianyiError)
    await _audit_refusal(exc)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return error_response(exc.status_code, exc.code, exc.message, _fields(exc.detail), headers)


async def page_error(_request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageError)
    await _audit_refusal(exc.error)
    return HTMLResponse(f"<p>{escape(exc.error.message)}</p>", status_code=exc.error.status_code)


def _validation_fields(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    fields: list[dict[str, str]] = []
    other: list[Mapping[str, Any]] = []
    for err in errors:
        if err.get("type") == "json_invalid":  # FastAPI's location is the character position
            reason = (err.get("ctx") or {}).get("error", "malformed")
            position = err["loc"][-1] if err.get("loc") else "?"
            fields.append({"field": "(body)", "message": f"not valid JSON: {reason} at character {position}"})
        else:
            other.append(err)
    return fields + field_errors(other, skip=("body", "query", "path", "header"))


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = _validation_fields(exc.errors())
    return error_response(
        422, "invalid_input", "; ".join(f"{f['field']}: {f['message']}" for f in fields), fields
    )


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own errors (unknown route, wrong method, unreadable body) in our shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError):
        # FastAPI answers a body that is not UTF-8 with a bare 400; it is malformed JSON like any other.
        field = {"field": "(body)", "message": f"not valid JSON: not UTF-8 ({exc.__cause__})"}
        return error_response(422, "invalid_input", f"(body): {field['message']}", [field])
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "error"
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    code = CODES.get(exc.status_code, phrase.lower().replace(" ", "_").replace("-", "_"))
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def server_error(_request: Request, _exc: Exception) -> JSONResponse:
    """A bug: the server logs it (Starlette re-raises it after this answer); the client learns only
    that the request failed."""
    return error_response(500, "internal_error", "internal error: the request failed and was rolled back")
