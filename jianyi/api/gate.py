"""At most a few requests inside the API at once; the others wait their turn, in the event loop.

The handlers are synchronous: FastAPI runs each request's dependencies, its handler and its session's
teardown as separate calls in one shared pool of 40 threads. On SQLite a request takes the write lock
with its first statement (``BEGIN IMMEDIATE``, jianyi/db.py), when it authenticates, and keeps it
across those calls. In a burst of intakes (50 per second), the threads filled with requests waiting
for the lock (or for one of the 15 pooled connections) while the request holding the lock waited for
a thread to run its handler: every request stalled until SQLite's 30 s busy timeout failed them,
most with a 500. With fewer requests inside than there are connections and threads, the holder
always gets a thread; the writes were one at a time anyway.
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
