"""At most a few requests inside the API at once; the others wait their turn, in the event loop.

The handlers are synchronous: FastAPI runs each request's dependencies, handler and session teardown
as separate calls in one shared thread pool, and on SQLite a writing request holds the write lock
across those calls. With more requests inside than threads or pooled connections, the threads could
all fill with requests waiting for the lock while its holder waits for a thread: a deadlock until
SQLite's busy timeout. Fewer requests inside than connections and threads means the holder always
gets one.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

# Below the connection pool (SQLite's file pool holds 15, PostgreSQL's 30) and the 40 threads.
API_CONCURRENCY = 10


class ConcurrencyGate:
    def __init__(self, app: ASGIApp, limit: int = API_CONCURRENCY) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None  # made in the server's own event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)
