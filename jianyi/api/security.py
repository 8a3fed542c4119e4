"""Security headers on every response, and an access log that never records a secret.

Every response carries a Content-Security-Policy without inline or foreign scripts (the pages load
only jianyi's own files; the OpenAPI pages may style inline), may not be framed, is not
content-sniffed, and sends no Referer (the tracking page's address holds the check code). Tracking
answers are not cached.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jianyi.services.check_codes import redact

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# /docs and /redoc: Swagger UI and ReDoc from local files (jianyi/web/static.py); both style their
# pages inline, and ReDoc runs a worker from a blob.
_DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; frame-ancestors 'none'"
)
_DOCS_PATHS: Final = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_TRACKING_PREFIXES: Final = ("/track/", "/api/track/", "/suggest")

HEADERS: Final[dict[str, str]] = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def headers_for(path: str) -> dict[str, str]:
    headers = dict(HEADERS)
    if path in _DOCS_PATHS:
        headers["content-security-policy"] = _DOCS_CSP
    if path.startswith(_TRACKING_PREFIXES):
        headers["cache-control"] = "no-store"
    return headers


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response (an answer's own win)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RedactSecrets(logging.Filter):
    """Masks check codes and tokens in URLs' query strings (check=…, token=…) in a log record: the
    access log would otherwise keep every proposer's check code."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """Uvicorn's logging configuration with the access log's secrets masked (``jianyi api``)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": "jianyi.api.security.RedactSecrets"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_secrets")
    return config
