"""How the outbox dispatcher hands one message over: by SMTP (e-mail) or to the SMS gateway (HTTP).

A transport either returns (the other side took the message) or raises DeliveryError, saying
whether a retry could help. Claiming, bookkeeping and backoff stay in the dispatcher, shared by
both channels; a transport knows nothing of the database.

Delivery is at-least-once, so each transport gives the other side a key that is stable across
retries: the Message-ID header for e-mail, the Idempotency-Key header (and the message "id") for SMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib
import httpx

MESSAGE_ID_DOMAIN = "jianyi.localhost"
# Client errors that say "not now" rather than "never": request timeout and rate limiting.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})


class Outgoing(Protocol):
    """The fields of a claimed outbox message a transport reads (the dispatcher's _Claimed)."""

    @property
    def id(self) -> int: ...
    @property
    def to_addr(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body_text(self) -> str: ...
    @property
    def body_html(self) -> str: ...
    @property
    def attachments(self) -> tuple[Attachment, ...]: ...


@dataclass(frozen=True)
class Attachment:
    """A file sent with a mail (a report's PDF), read from disk when the mail is built."""

    path: str
    filename: str
    content_type: str = "application/octet-stream"


class DeliveryError(Exception):
    """The message was not delivered; `permanent` when no retry can change that (a bad address)."""

    def __init__(self, error: str, *, permanent: bool) -> None:
        super().__init__(error)
        self.permanent = permanent


class Transport(Protocol):
    # The dispatcher bounds a whole delivery by this, on top of the transport's own timeouts.
    timeout: float

    async def send(self, message: Outgoing, now: datetime) -> None: ...


def delivery_key(outbox_id: int) -> str:
    """The key both channels derive from the outbox id: what a receiver dedupes on."""
    return f"outbox-{outbox_id}"


# --- e-mail ---------------------------------------------------------------------------------------


def message_id(outbox_id: int) -> str:
    return f"<{delivery_key(outbox_id)}@{MESSAGE_ID_DOMAIN}>"


def build_email(message: Outgoing, *, mail_from: str, now: datetime) -> EmailMessage:
    msg = EmailMessage()  # default policy: RFC 2047 headers, UTF-8 bodies
    msg["From"] = mail_from
    msg["To"] = message.to_addr
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(message.id)
    # base64 keeps Chinese text 7-bit clean for any relay, with no 8BITMIME/SMTPUTF8 needed.
    msg.set_content(message.body_text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(message.body_html, subtype="html", charset="utf-8", cte="base64")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        # Raises OSError if the file is gone: the transport reports it as a delivery error.
        data = Path(attachment.path).read_bytes()
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename
        )
    return msg


def _is_permanent_smtp(exc: Exception) -> bool:
    """A 5xx answer (bad address, refused recipient) will not get better by retrying."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refused.code < 600 for refused in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


class SmtpTransport:
    def __init__(self, *, host: str, port: int, timeout: float, mail_from: str) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.mail_from = mail_from

    async def send(self, message: Outgoing, now: datetime) -> None:
        try:
            email = build_email(message, mail_from=self.mail_from, now=now)
        except ValueError as exc:  # e.g. a line break in the address: no retry can fix that
            raise DeliveryError(f"cannot build the message: {exc}", permanent=True) from exc
        except OSError as exc:  # an attachment not readable (yet): retried with the backoff
            raise DeliveryError(f"cannot read an attachment: {exc}", permanent=False) from exc
        try:
            # aiosmtplib's own timeout is per command; the dispatcher's bounds the whole conversation.
            await aiosmtplib.send(email, hostname=self.host, port=self.port, timeout=self.timeout)
        except (aiosmtplib.SMTPException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise DeliveryError(error, permanent=_is_permanent_smtp(exc)) from exc


# --- SMS ------------------------------------------------------------------------------------------


def check_gateway_url(url: str) -> str:
    """Refuse at start-up a URL no request could go to, rather than failing every message later."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid SMS gateway URL {url!r}: {exc}") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ValueError(f"the SMS gateway URL must be http(s)://host/…, not {url!r}")
    return url


def sms_payload(message: Outgoing) -> dict[str, str]:
    return {"id": delivery_key(message.id), "to": message.to_addr, "text": message.body_text}


class SmsTransport:
    """POSTs one JSON message per SMS to the gateway; 2xx means the gateway has taken it."""

    def __init__(self, *, url: str, timeout: float, client: httpx.AsyncClient) -> None:
        self.url = url
        self.timeout = timeout
        self._client = client  # opened by the dispatcher for one round: clients are bound to a loop

    async def send(self, message: Outgoing, now: datetime) -> None:
        key = delivery_key(message.id)
        try:
            response = await self._client.post(
                self.url, json=sms_payload(message), headers={"Idempotency-Key": key}, timeout=self.timeout
            )
        except httpx.HTTPError as exc:  # refused, reset, timed out: the gateway may be back soon
            raise DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        error = f"SMS gateway answered {status}: {response.text[:500]}"
        # A 4xx (bad number, malformed request) is the SMS twin of an SMTP 5xx: it will be refused again.
        # Anything else (5xx, 408, 429, and a 3xx that only a configuration change can fix) is retried.
        permanent = 400 <= status < 500 and status not in RETRYABLE_CLIENT_STATUSES
        raise DeliveryError(error, permanent=permanent)


def sms_client() -> httpx.AsyncClient:
    # trust_env=False: the gateway URL is explicit; an HTTP(S)_PROXY in the environment must not
    # silently route text messages (and proposers' phone numbers) through another host.
    # No redirects either: a gateway that redirects is misconfigured, and the 3xx is retried.
    return httpx.AsyncClient(trust_env=False, follow_redirects=False)
