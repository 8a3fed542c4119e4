"""At most a few requests inside the API at once; the others wait their turn, in the event loop.

The handlers are synchronous: FastAPI runs each request's dependencies, handler and session teardown
as separate calls in one shared thread pool, and on SQLite a writing request holds the write lock
across those calls. With more requests inside than threads or pooled connections, the threads could
all fill with requests waiting for the lock while its holder waits for a thread: a deadlock until
SQLite's busy timeout. Fewer requests inside than connections and threads means the holder always
gets one.

A slot is held only while the request is worked on, never while a client is slow: the body is read
in full first (a body that stops arriving is answered 408, one too large 413), a request to the
officials' API without a bearer token is answered 401 at once, and the slot is given back when the
response starts. The public tracking pages have slots of their own, so that proposers (or anyone
guessing codes) cannot starve the officials' API, nor the officials them.
"""

from __future__ import annotations

import asyncio
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jianyi.api.body_limit import MAX_BODY_BYTES, TOO_LARGE, replay_body
from jianyi.api.errors import error_response
from jianyi.api.security import headers_for

# Both below the connection pool (SQLite's file pool holds 15, PostgreSQL's 30) and the 40 threads.
API_CONCURRENCY = 10
PUBLIC_CONCURRENCY = 3
# A body that makes no progress for this long, or is not complete after the longest, is answered 408.
BODY_IDLE_SECONDS = 10.0
BODY_TOTAL_SECONDS = 60.0

PUBLIC_PREFIXES = ("/track/", "/api/track/", "/api/public/", "/suggest")  # /api/public/: campaigns' pages
# Paths under /api/ that need no token.
OPEN_API_PATHS = frozenset({"/api/health"})


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ConcurrencyGate:
    def __init__(
        self,
        app: ASGIApp,
        limit: int = API_CONCURRENCY,
        *,
        public_limit: int = PUBLIC_CONCURRENCY,
        body_idle_seconds: float = BODY_IDLE_SECONDS,
        body_total_seconds: float = BODY_TOTAL_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.limit = limit
        self.public_limit = public_limit
        self.body_idle_seconds = body_idle_seconds
        self.body_total_seconds = body_total_seconds
        self.max_body_bytes = max_body_bytes
        # Made in the server's own event loop, on the first request.
        self._slots: asyncio.Semaphore | None = None
        self._public_slots: asyncio.Semaphore | None = None

    def _lane(self, path: str) -> asyncio.Semaphore:
        if self._slots is None or self._public_slots is None:
            self._slots = asyncio.Semaphore(self.limit)
            self._public_slots = asyncio.Semaphore(self.public_limit)
        return self._public_slots if path.startswith(PUBLIC_PREFIXES) else self._slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        try:
            if _needs_token(path) and not _has_bearer(scope):
                raise _Refused(401, "not_authenticated", "a bearer token is required")
            declared = _declared_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                raise _Refused(413, "payload_too_large", TOO_LARGE)
            body = await self._read_body(receive)
        except _Refused as refused:
            await _answer(scope, receive, send, refused)
            return
        if body is None:
            return  # the client went away
        await self._inside(scope, replay_body(body, receive), send)

    async def _inside(self, scope: Scope, receive: Receive, send: Send) -> None:
        slots = self._lane(scope["path"])
        extra = headers_for(scope["path"])
        arrived = time.perf_counter()
        await slots.acquire()
        entered = time.perf_counter()
        held = True

        async def send_and_release(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                # Every answer, the server's own 500 too, carries the security headers.
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
                # Time waiting for a slot, then worked on (Server-Timing: seen in a browser's tools).
                answered = time.perf_counter()
                waited, worked = 1000 * (entered - arrived), 1000 * (answered - entered)
                headers.append("Server-Timing", f"queue;dur={waited:.1f}, app;dur={worked:.1f}")
                # The work is done when the answer starts: a client slow to read it holds no slot.
                if held:
                    held = False
                    slots.release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_release)
        finally:
            if held:
                slots.release()

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None if the client disconnected; raises _Refused if it stalls, takes
        too long, or is too large."""
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.body_total_seconds
        while True:
            wait = min(self.body_idle_seconds, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait, 0.0))
            except TimeoutError:
                raise _Refused(408, "request_timeout", "the request body did not arrive in time") from None
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _Refused(413, "payload_too_large", TOO_LARGE)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _needs_token(path: str) -> bool:
    return path.startswith("/api/") and path not in OPEN_API_PATHS and not path.startswith(PUBLIC_PREFIXES)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _has_bearer(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            return scheme.lower() == b"bearer" and bool(credentials.strip())
    return False


async def _answer(scope: Scope, receive: Receive, send: Send, refused: _Refused) -> None:
    """An error in the API's shape, closing the connection (a body may still be on its way)."""
    headers = {**headers_for(scope["path"]), "connection": "close"}
    if refused.status == 401:
        headers["www-authenticate"] = "Bearer"
    await error_response(refused.status, refused.code, refused.message, headers=headers)(scope, receive, send)
