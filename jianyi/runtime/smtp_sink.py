"""A real SMTP server on 127.0.0.1 that keeps every message it receives.

`jianyi up` points the outbox dispatcher at it so a developer can read what proposers
would get; the tests use it to check the mail and, by stopping it, to make SMTP fail.
Each message is written to the mailbox directory as a .eml file and kept in memory.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from jianyi.runtime.ports import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMail:
    """One message as received: parsed, with its SMTP envelope and where it was saved."""

    message: EmailMessage
    mail_from: str
    rcpt_tos: tuple[str, ...]
    path: Path


class _MailboxHandler:
    """aiosmtpd handler; runs on the controller's thread, hence the lock in SmtpSink."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # The bytes exactly as sent (aiosmtpd only un-dot-stuffs them).
        raw = envelope.original_content or b""
        self._sink._store(raw, envelope.mail_from or "", tuple(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd's Controller on a fixed port, restartable: `stop()` then `start()` again."""

    def __init__(self, mailbox: Path | str, port: int | None = None, *, ready_timeout: float = 10.0) -> None:
        self.mailbox = Path(mailbox)
        # Chosen once, so a restart after stop() listens where the dispatcher already points.
        self._port = port if port is not None else free_port()
        self.ready_timeout = ready_timeout
        self._controller: Controller | None = None
        self._received: list[ReceivedMail] = []
        self._changed = threading.Condition()
        self._counter = itertools.count(1)

    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return HOST

    def is_running(self) -> bool:
        return self._controller is not None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        if self._controller is not None:
            return self
        self.mailbox.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.mailbox.chmod(0o700)  # the mail holds proposers' addresses and check codes
        # A new Controller each time: stop() closes its event loop, so one can't restart.
        # asyncio sets SO_REUSEADDR, so the port is free again at once after stop().
        controller = Controller(
            _MailboxHandler(self),
            hostname=HOST,
            port=self._port,
            ready_timeout=self.ready_timeout,
            # SMTPUTF8 stays off, as on many real relays: mail must go out RFC 2047 / MIME
            # encoded, and a sender that relies on SMTPUTF8 fails here, not in production.
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening; messages already received stay in memory and on disk."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

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

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: tuple[str, ...]) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        with self._changed:
            # Timestamp first so `ls` sorts by arrival; the counter breaks ties within a
            # microsecond and across restarts of the same sink.
            path = self.mailbox / f"{stamp}-{next(self._counter):06d}.eml"
            # Write then rename: anything watching the mailbox never reads half a message.
            tmp = path.with_suffix(".eml.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # its owner's alone
            with os.fdopen(fd, "wb") as out:
                out.write(raw)
            os.replace(tmp, path)
            # policy.default gives EmailMessage, whose headers come back decoded
            # (RFC 2047 "=?utf-8?b?...?=" subjects read as the Chinese text).
            message = email.message_from_bytes(raw, policy=email.policy.default)
            self._received.append(ReceivedMail(message, mail_from, rcpt_tos, path))
            self._changed.notify_all()

    @property
    def received(self) -> list[ReceivedMail]:
        """A snapshot, safe to iterate while more mail arrives."""
        with self._changed:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._changed:
            return [r.message for r in self._received]

    def subjects(self) -> list[str]:
        """Decoded Subject of every message received, in order of arrival."""
        return [str(m.get("Subject", "")) for m in self.messages]

    def clear(self) -> None:
        """Forget the messages in memory (the .eml files stay)."""
        with self._changed:
            self._received.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until at least `count` messages have arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [str(r.message.get("Subject", "")) for r in self._received]
                    raise TimeoutError(
                        f"expected {count} message(s) within {timeout} s, got "
                        f"{len(self._received)}: {subjects}"
                    )
                self._changed.wait(remaining)
            return [r.message for r in self._received]
