"""The outbox dispatcher: delivers queued messages, e-mail by SMTP and SMS through an HTTP gateway,
at least once, with retries.

A message is claimed by a conditional UPDATE (pending and due, or sending with an expired claim),
so two dispatchers never send it at the same time. The claim carries an expiry: a dispatcher
that dies mid-send leaves the message to be claimed again once it expires. That is also why
delivery is at-least-once (a crash between the other side's "OK" and our bookkeeping re-sends), and
why every message carries a stable key derived from its outbox id that receivers dedupe on: the
Message-ID of an e-mail, the Idempotency-Key of an SMS (jianyi.executor.transports).

Only the channels this dispatcher can deliver are claimed: with no SMS gateway configured, text
messages are left pending in the outbox, untouched (no attempt counted), for the office to see
and for a dispatcher with a gateway to send later.

Database work is synchronous SQLAlchemy run in a worker thread; SMTP (aiosmtplib) and the
SMS gateway (httpx) are async.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement

from jianyi.db import get_sessionmaker
from jianyi.executor.transports import (
    Attachment,
    DeliveryError,
    SmsTransport,
    SmtpTransport,
    Transport,
    check_gateway_url,
    sms_client,
)
from jianyi.models import OutboxMessage
from jianyi.models.base import utcnow
from jianyi.models.enums import OutboxChannel, OutboxState
from jianyi.settings import get_settings

log = logging.getLogger(__name__)

CLAIM_SECONDS = 60.0
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 2 s, 4 s, 8 s … at most 10 min."""
    exponent = min(max(attempts, 1), 20)  # cap the exponent: 2**20 s is far past the cap anyway
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** (exponent - 1), BACKOFF_CAP_SECONDS))


def _storable(text: str) -> str:
    """An error may quote the row it failed on: no NUL (PostgreSQL refuses it) nor lone surrogate."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class _Claimed:
    """What the sender needs, copied out of the session so no ORM object crosses threads."""

    id: int
    channel: OutboxChannel
    to_addr: str  # an e-mail address, or a phone number for an SMS
    subject: str
    body_text: str  # for an SMS, the text message itself
    body_html: str
    attempts: int
    claimed_until: datetime  # our claim token: bookkeeping only applies while the claim is ours
    attachments: tuple[Attachment, ...] = ()


class OutboxDispatcher:
    def __init__(
        self,
        *,
        url: str | None = None,
        sessionmaker: sessionmaker[Session] | None = None,
        host: str | None = None,
        port: int | None = None,
        timeout: float | None = None,
        mail_from: str | None = None,
        sms_gateway_url: str | None = None,
        sms_timeout: float | None = None,
        max_attempts: int | None = None,
        poll_seconds: float | None = None,
        batch_size: int = 16,
        concurrency: int = 8,
        claim_seconds: float = CLAIM_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        settings = get_settings()
        self._sessionmaker = sessionmaker or get_sessionmaker(url)
        self.host = host or settings.smtp_host
        self.port = port or settings.smtp_port
        self.timeout = timeout or settings.smtp_timeout_seconds
        self.mail_from = mail_from or settings.mail_from
        # No gateway (unset, or JIANYI_SMS_GATEWAY_URL empty): SMS rows are then never claimed.
        gateway = sms_gateway_url or settings.sms_gateway_url
        self.sms_gateway_url = check_gateway_url(gateway) if gateway else None
        self.sms_timeout = sms_timeout or settings.sms_timeout_seconds
        self.max_attempts = max_attempts or settings.dispatcher_max_attempts
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.dispatcher_poll_seconds
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.claim = timedelta(seconds=claim_seconds)
        self.clock = clock
        self.channels = [OutboxChannel.email]
        if self.sms_gateway_url is not None:
            self.channels.append(OutboxChannel.sms)
        # The last message of a batch is tried after ceil(batch / concurrency) deliveries at most;
        # its claim must outlast that, or a second dispatcher could take it and send it too.
        slowest = max(self.timeout, self.sms_timeout if self.sms_gateway_url else 0.0)
        if slowest * math.ceil(batch_size / concurrency) >= claim_seconds:
            raise ValueError(
                f"a batch of {batch_size} at {concurrency} at once with a {slowest} s timeout "
                f"can outlast the {claim_seconds} s claim: lower the batch or the timeout"
            )

    # --- database (sync, in a worker thread) ------------------------------------------------------

    def _claim(self, now: datetime) -> list[_Claimed]:
        due = and_(
            # Part of `due`, so the exclusive UPDATE below re-checks it too.
            OutboxMessage.channel.in_(self.channels),
            or_(
                and_(OutboxMessage.state == OutboxState.pending, OutboxMessage.next_attempt_at <= now),
                and_(OutboxMessage.state == OutboxState.sending, OutboxMessage.claimed_until < now),
            ),
        )
        until = now + self.claim
        claimed: list[_Claimed] = []
        with self._sessionmaker() as session, session.begin():
            candidates = session.scalars(
                select(OutboxMessage.id)
                .where(due)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch_size)
            ).all()
            for outbox_id in candidates:
                # Re-checking `due` in the UPDATE is what makes the claim exclusive: another
                # dispatcher that got here first has changed the row, and our rowcount is 0.
                result = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == outbox_id, due)
                    .values(state=OutboxState.sending, claimed_until=until)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                row = session.get_one(OutboxMessage, outbox_id, populate_existing=True)
                claimed.append(
                    _Claimed(
                        id=row.id,
                        channel=row.channel,
                        to_addr=row.to_addr,
                        subject=row.subject,
                        body_text=row.body_text,
                        body_html=row.body_html,
                        attempts=row.attempts,
                        claimed_until=until,
                        attachments=tuple(Attachment(**item) for item in row.attachments or ()),
                    )
                )
        return claimed

    def _mine(self, claimed: _Claimed) -> ColumnElement[bool]:
        return and_(
            OutboxMessage.id == claimed.id,
            OutboxMessage.state == OutboxState.sending,
            OutboxMessage.claimed_until == claimed.claimed_until,
        )

    def _mark_sent(self, claimed: _Claimed, now: datetime) -> None:
        with self._sessionmaker() as session, session.begin():
            session.execute(
                update(OutboxMessage)
                .where(self._mine(claimed))
                .values(
                    state=OutboxState.sent,
                    sent_at=now,
                    attempts=OutboxMessage.attempts + 1,
                    claimed_until=None,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )

    def _mark_failed(self, claimed: _Claimed, now: datetime, error: str, *, permanent: bool) -> None:
        attempts = claimed.attempts + 1
        give_up = permanent or attempts >= self.max_attempts
        with self._sessionmaker() as session, session.begin():
            session.execute(
                update(OutboxMessage)
                .where(self._mine(claimed))
                .values(
                    state=OutboxState.failed if give_up else OutboxState.pending,
                    attempts=attempts,
                    next_attempt_at=now if give_up else now + backoff(attempts),
                    claimed_until=None,
                    last_error=_storable(error[:2000]),
                )
                .execution_options(synchronize_session=False)
            )
        if give_up:
            log.error("outbox message %s failed for good after %s attempts: %s", claimed.id, attempts, error)
        else:
            log.warning("outbox message %s attempt %s failed: %s", claimed.id, attempts, error)

    # --- delivery (async) -------------------------------------------------------------------------

    async def _deliver(
        self, claimed: _Claimed, transport: Transport, clock: Callable[[], datetime], gate: asyncio.Semaphore
    ) -> bool:
        try:
            async with gate, asyncio.timeout(transport.timeout):
                # The transport's own timeouts are per step (an SMTP command, an HTTP read);
                # ours bounds the whole delivery, so the claim is sure to outlast it.
                await transport.send(claimed, clock())
        except DeliveryError as exc:
            await asyncio.to_thread(self._mark_failed, claimed, clock(), str(exc), permanent=exc.permanent)
            return False
        except TimeoutError as exc:
            error = f"no answer within {transport.timeout} s ({type(exc).__name__})"
            await asyncio.to_thread(self._mark_failed, claimed, clock(), error, permanent=False)
            return False
        except Exception as exc:  # whatever else one message causes fails that message, not the round
            log.exception("outbox message %s: unexpected error while sending", claimed.id)
            # A ValueError (a control character in an address, an unencodable text) comes from the
            # row itself, which no retry changes; anything else is retried like a refused connection.
            error = f"{type(exc).__name__}: {exc}"
            permanent = isinstance(exc, ValueError)
            await asyncio.to_thread(self._mark_failed, claimed, clock(), error, permanent=permanent)
            return False
        await asyncio.to_thread(self._mark_sent, claimed, clock())
        return True

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim the due messages and try each once; return how many were sent.

        `now` pins the time for this round (claim, backoff, sent_at); by default the clock is read.
        """
        clock = self.clock if now is None else (lambda: now)
        claimed = await asyncio.to_thread(self._claim, clock())
        if not claimed:
            return 0
        async with contextlib.AsyncExitStack() as stack:
            transports: dict[OutboxChannel, Transport] = {
                OutboxChannel.email: SmtpTransport(
                    host=self.host, port=self.port, timeout=self.timeout, mail_from=self.mail_from
                )
            }
            if self.sms_gateway_url is not None and any(c.channel is OutboxChannel.sms for c in claimed):
                # One HTTP client per round: it is bound to this event loop, and pools connections.
                client = await stack.enter_async_context(sms_client())
                transports[OutboxChannel.sms] = SmsTransport(
                    url=self.sms_gateway_url, timeout=self.sms_timeout, client=client
                )
            gate = asyncio.Semaphore(self.concurrency)  # a few deliveries at once, not a batch's worth
            # _claim only takes the channels in self.channels, each of which has its transport here.
            # return_exceptions: a failed bookkeeping write (the database) must not abandon the
            # other deliveries of the round half-way; the claim of that message expires and it is retried.
            results = await asyncio.gather(
                *(self._deliver(c, transports[c.channel], clock, gate) for c in claimed),
                return_exceptions=True,
            )
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors[1:]:
            log.error("outbox dispatcher: bookkeeping failed", exc_info=error)
        if errors:
            raise errors[0]
        return sum(r for r in results if r is True)

    async def run_forever(self, stop: asyncio.Event, *, deferred: Callable[[], bool] | None = None) -> None:
        """Poll until `stop` is set. A database hiccup, or any other error of a round, is logged and
        retried on the next poll: the loop ends only when stopped. While ``deferred()`` is true (the
        executor's intake burst), nothing is sent: the messages wait queued."""
        while not stop.is_set():
            sent = 0
            try:
                sent = 0 if deferred is not None and deferred() else await self.run_once()
            except SQLAlchemyError:
                log.exception("outbox dispatcher: database error; retrying")
            except Exception:  # the executor's other loops run beside this one: never end them all
                log.exception("outbox dispatcher: round failed; retrying")
            if sent:
                continue  # there may be more than one batch waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
