"""A real SMS gateway on 127.0.0.1 that keeps every text message it accepts.

The counterpart of the SMTP sink: `jianyi up` points the outbox dispatcher at it so a developer
can read what proposers would get on their phones, and the tests use it to check the messages and,
by stopping it or setting `fail_with`, to make the gateway fail. It speaks what the dispatcher
speaks: ``POST /sms`` with JSON ``{"id", "to", "text"}`` and an ``Idempotency-Key`` header.

It dedupes nothing on purpose (a real gateway would, on the key): the tests must see it if the
dispatcher sends one message twice. Each accepted message is kept in memory and appended as one
JSON line to ``messages.jsonl`` in its directory.
"""

from __future__ import annotations

import json
import logging
import os
import socketserver
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from jianyi.runtime.ports import free_port

HOST = "127.0.0.1"
PATH = "/sms"
MAX_BODY = 64 * 1024  # a text message is short; a larger body is a broken client, not an SMS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedSms:
    """One request as received, with the status the sink answered."""

    id: str
    to: str
    text: str
    idempotency_key: str | None
    status: int
    received_at: str  # ISO 8601, UTC


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client stuck mid-request must not keep stop() waiting

    def __init__(self, sink: SmsSink) -> None:
        self.sink = sink
        super().__init__((HOST, sink.port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN (a reverse DNS query) only to fill in
        # server_name; skip it, so starting never waits on a resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0: one request per connection, so nothing lingers on a connection after stop().
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sms sink: " + format, *args)  # not to stderr, as the base class does

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if self.path != PATH:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}; POST {PATH}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": "a JSON body of at most 64 KiB is required"})
            return
        try:
            payload = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": f"not JSON: {exc}"})
            return
        fields = ("id", "to", "text")
        if not isinstance(payload, dict) or not all(isinstance(payload.get(f), str) for f in fields):
            self._answer(HTTPStatus.BAD_REQUEST, {"error": 'expected {"id": str, "to": str, "text": str}'})
            return
        # Read once: a test may change fail_with from its own thread at any time.
        status = int(self.server.sink.fail_with or HTTPStatus.OK)
        self.server.sink._store(
            ReceivedSms(
                id=payload["id"],
                to=payload["to"],
                text=payload["text"],
                idempotency_key=self.headers.get("Idempotency-Key"),
                status=status,
                received_at=datetime.now(UTC).isoformat(),
            )
        )
        if 200 <= status < 300:
            self._answer(status, {"id": payload["id"], "status": "accepted"})
        else:
            self._answer(status, {"error": f"failing with {status} as configured"})


class SmsSink:
    """A ThreadingHTTPServer on a fixed port, restartable: `stop()` then `start()` again."""

    def __init__(self, directory: Path | str, port: int | None = None) -> None:
        self.directory = Path(directory)
        # Chosen once, so a restart after stop() listens where the dispatcher already points.
        self._port = port if port is not None else free_port()
        # Answer every request with this status instead of accepting it (e.g. 503, 400); None accepts.
        self.fail_with: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[ReceivedSms] = []
        self._changed = threading.Condition()

    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port}{PATH}"

    @property
    def log_path(self) -> Path:
        return self.directory / "messages.jsonl"

    def is_running(self) -> bool:
        return self._server is not None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)  # the messages hold proposers' numbers and check codes
        # A new server each time: server_close() releases its socket for good. HTTPServer sets
        # SO_REUSEADDR, so the port is free again at once after stop().
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sms-sink", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop listening; messages already received stay in memory and on disk."""
        if self._server is not None:
            self._server.shutdown()  # returns once serve_forever has left its loop
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- storage -------------------------------------------------------------------

    def _store(self, sms: ReceivedSms) -> None:
        with self._changed:
            if 200 <= sms.status < 300:
                # One line per message, written whole under the lock: a reader never sees half a line.
                fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with open(fd, "a", encoding="utf-8") as log_file:
                    log_file.write(json.dumps(asdict(sms), ensure_ascii=False) + "\n")
            self._requests.append(sms)
            self._changed.notify_all()

    @property
    def requests(self) -> list[ReceivedSms]:
        """Every well-formed request, accepted or answered with `fail_with`, in order of arrival."""
        with self._changed:
            return list(self._requests)

    @property
    def messages(self) -> list[ReceivedSms]:
        """The messages accepted (answered 2xx), in order of arrival: what phones would get."""
        with self._changed:
            return self._accepted()

    def _accepted(self) -> list[ReceivedSms]:
        return [r for r in self._requests if 200 <= r.status < 300]

    def clear(self) -> None:
        """Forget the requests in memory (messages.jsonl stays)."""
        with self._changed:
            self._requests.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedSms]:
        """Block until at least `count` messages have been accepted; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(accepted := self._accepted()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {count} SMS within {timeout} s, got {len(accepted)}: "
                        f"{[(m.to, m.text) for m in accepted]}"
                    )
                self._changed.wait(remaining)
            return accepted
