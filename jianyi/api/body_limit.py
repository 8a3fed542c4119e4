"""What any request body must be before a route reads it, answered in the API's error shape.

- At most ``MAX_BODY_BYTES`` (413): each input field has its own length limit (jianyi/models); this
  bounds what reaches the parsers at all. A declared Content-Length over the cap is refused at once,
  a chunked body as it arrives.
- A JSON body holds text that can be stored (422 naming ``(body)``): no lone surrogate (``"\\ud800"``
  is valid JSON but no valid Unicode: SQLite and PostgreSQL both fail to store it) and no NUL
  (PostgreSQL's text and jsonb refuse it). Whatever the route, these never reach a service.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException  # FastAPI passes its own on from a body read; any other becomes a 400
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jianyi.api.errors import error_response

# Far above the largest valid input (a suggestion of 50,000 characters, JSON-escaped), far below
# what would strain the process.
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"the request body is larger than {MAX_BODY_BYTES} bytes"
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyGuard:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await error_response(413, "payload_too_large", TOO_LARGE)(scope, receive, send)
            return
        if not _is_json(scope):  # a form (the tracking page): its parser reads it, counted
            await self.app(scope, self._counted(receive), send)
            return
        body = await self._read(receive)
        if body is None:
            await error_response(413, "payload_too_large", TOO_LARGE)(scope, receive, send)
            return
        problem = unstorable_text(body)
        if problem is not None:
            message = f"not valid JSON text: {problem}"
            field = {"field": "(body)", "message": message}
            await error_response(422, "invalid_input", f"(body): {message}", [field])(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the cap."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: the route reads an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _counted(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Raised inside the route's body read: the app's error handlers answer it.
                    raise HTTPException(413, TOO_LARGE)
            return message

        return counted


def replay_body(body: bytes, receive: Receive) -> Receive:
    """The body already read, as one message; then the client's own (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay


def unstorable_text(body: bytes) -> str | None:
    """What in a JSON body no database can store, or None (also for a body that is not JSON at all:
    the route answers that)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    stack: list[Any] = [document]
    while stack:  # not recursive: a deeply nested body must not exhaust the stack here
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "contains U+0000 (NUL)"
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as exc:
                    return f"contains a lone surrogate U+{ord(item[exc.start]):04X}"
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return True  # no content type: FastAPI parses the body as JSON


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before the app sees it
    return None
