"""Slow and careless clients cannot hold the API's request slots (issue 14, item 2).

Against a real uvicorn server on 127.0.0.1, with raw sockets that send headers and part of a body
and then stall: the officials' API and the public pages still answer at once, and each stalled
request is answered 408 when its body stops arriving. Then, on the gate itself: the public pages
and the officials' API have separate slots, and a slot is given back when the answer starts.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from jianyi.api.app import create_app
from jianyi.api.gate import API_CONCURRENCY, PUBLIC_CONCURRENCY, ConcurrencyGate
from jianyi.runtime.ports import free_port

IDLE, TOTAL = 2.0, 5.0


@pytest.fixture
def served(cli_on: None) -> Iterator[int]:
    """The API behind its gate (short body timeouts) in a real uvicorn server; yields its port."""
    port = free_port()
    gate = ConcurrencyGate(create_app(), body_idle_seconds=IDLE, body_total_seconds=TOTAL)
    server = uvicorn.Server(
        uvicorn.Config(gate, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(15)


def _stall(port: int, path: str, *, token: bool = True) -> socket.socket:
    """Headers and the start of a 1000-byte body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n" + ("Authorization: Bearer not-checked-yet\r\n" if token else "") + "\r\n"
    )
    sock.sendall(head.encode() + b'{"title": "')
    return sock


def _answer(sock: socket.socket, timeout: float) -> bytes:
    """What the server sent until it closed the connection (or the timeout)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    sock.close()
    return data


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_stalled_bodies_hold_no_slot_and_time_out(served: int) -> None:
    stalled = [_stall(served, "/api/suggestions") for _ in range(2 * API_CONCURRENCY)]
    stalled += [
        _stall(served, "/api/track/JY0000UNKNOWN/rating?check=1", token=False)
        for _ in range(2 * PUBLIC_CONCURRENCY)
    ]
    time.sleep(0.2)  # every one of them is in, waiting for its body
    base = f"http://127.0.0.1:{served}"
    started = time.monotonic()
    assert httpx.get(f"{base}/api/health", timeout=IDLE / 2).status_code == 200
    assert (
        httpx.get(f"{base}/api/track/JY0000UNKNOWN", params={"check": "1"}, timeout=IDLE / 2).status_code
        == 404
    )
    assert (
        httpx.get(f"{base}/track/JY0000UNKNOWN", params={"check": "1"}, timeout=IDLE / 2).status_code == 404
    )
    assert time.monotonic() - started < IDLE  # answered while the stalled bodies still wait

    for sock in stalled:
        answer = _answer(sock, timeout=IDLE + 3)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"request_timeout"' in answer and b"nosniff" in answer


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_trickling_body_is_cut_off(served: int) -> None:
    sock = _stall(served, "/api/suggestions")
    started = time.monotonic()
    sock.settimeout(0.5)
    answer = b""
    while time.monotonic() - started < TOTAL + 3:
        try:
            sock.sendall(b" ")  # a byte now and then: never idle for long
            answer += sock.recv(65536)
            break
        except TimeoutError:
            continue
        except OSError:
            break
    answer += _answer(sock, timeout=2)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert TOTAL - 0.5 < time.monotonic() - started < TOTAL + 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_token_is_answered_before_the_body(served: int) -> None:
    sock = _stall(served, "/api/suggestions", token=False)
    started = time.monotonic()
    answer = _answer(sock, timeout=IDLE + 3)
    assert answer.startswith(b"HTTP/1.1 401") and b'"not_authenticated"' in answer
    assert time.monotonic() - started < IDLE / 2


def _request(path: str) -> Scope:
    return {"type": "http", "method": "GET", "path": path, "headers": [(b"authorization", b"Bearer t")]}


async def _empty() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Blocking:
    """An app whose tracking requests wait for ``release``; other requests answer at once, or (the
    slow reader) wait after their answer started."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.answered: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].startswith("/api/track/"):
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/api/slow-reader":
            await self.release.wait()  # e.g. a client slow to read a long answer
        await send({"type": "http.response.body", "body": b"{}"})
        self.answered.append(scope["path"])


async def _send(_message: Message) -> None:
    return None


def test_the_public_pages_cannot_starve_the_officials_api() -> None:
    async def scenario() -> list[str]:
        app = _Blocking()
        gate = ConcurrencyGate(app, limit=2, public_limit=2)
        public = [asyncio.create_task(gate(_request(f"/api/track/JY{n}"), _empty, _send)) for n in range(6)]
        await asyncio.sleep(0.05)
        await asyncio.wait_for(gate(_request("/api/units"), _empty, _send), timeout=1)
        answered_first = list(app.answered)
        app.release.set()
        await asyncio.gather(*public)
        return answered_first

    assert asyncio.run(scenario()) == ["/api/units"]


def test_a_slot_is_given_back_when_the_answer_starts() -> None:
    async def scenario() -> list[str]:
        app = _Blocking()
        gate = ConcurrencyGate(app, limit=1)
        slow = asyncio.create_task(gate(_request("/api/slow-reader"), _empty, _send))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(gate(_request("/api/units"), _empty, _send), timeout=1)
        answered_first = list(app.answered)
        app.release.set()
        await slow
        return answered_first

    assert asyncio.run(scenario()) == ["/api/units"]


def test_every_answer_says_how_long_it_queued_and_was_worked_on() -> None:
    """Server-Timing: the wait for a slot (here behind a request holding the only one) and the work."""
    sent: list[Message] = []

    async def keep(message: Message) -> None:
        sent.append(message)

    async def scenario() -> None:
        app = _Blocking()
        gate = ConcurrencyGate(app, limit=1, public_limit=1)
        first = asyncio.create_task(gate(_request("/api/track/JY1"), _empty, _send))
        queued = asyncio.create_task(gate(_request("/api/track/JY2"), _empty, keep))
        await asyncio.sleep(0.05)
        app.release.set()
        await asyncio.gather(first, queued)

    asyncio.run(scenario())
    start = next(m for m in sent if m["type"] == "http.response.start")
    timing = dict(start["headers"])[b"server-timing"].decode()
    match = re.fullmatch(r"queue;dur=([0-9.]+), app;dur=([0-9.]+)", timing)
    assert match and float(match.group(1)) > 0, timing  # it waited for the first to finish
