"""SmtpSink against a real SMTP client (aiosmtplib), as the outbox dispatcher uses it."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from jianyi.runtime.smtp_sink import SmtpSink

SUBJECT = "您的建议已受理（编号 JY-2026-000123）"


def _message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "人民建议征集办公室 <noreply@jianyi.localhost>"
    msg["To"] = "张三 <zhangsan@example.test>"
    msg["Subject"] = f"{SUBJECT} #{n}"
    msg.set_content(f"张三同志：您好！您的建议已受理。第{n}封。")
    msg.add_alternative(f"<p>张三同志：您好！您的建议<b>已受理</b>。第{n}封。</p>", subtype="html")
    return msg


def _send(sink: SmtpSink, n: int) -> None:
    asyncio.run(aiosmtplib.send(_message(n), hostname=sink.host, port=sink.port, timeout=5))


def test_stores_parses_and_survives_restart(tmp_path: Path) -> None:
    mailbox = tmp_path / "mailbox"
    with SmtpSink(mailbox) as sink:
        _send(sink, 1)
        [received] = sink.wait_for(1, timeout=5)

        # On disk: one .eml, the raw bytes as sent, subject RFC 2047-encoded on the wire.
        [eml] = sorted(mailbox.glob("*.eml"))
        raw = eml.read_bytes()
        assert b"Subject: =?utf-8?" in raw
        assert sink.received[0].path == eml
        assert sink.received[0].rcpt_tos == ("zhangsan@example.test",)
        assert sink.received[0].mail_from == "noreply@jianyi.localhost"

        # In memory: parsed, headers decoded, both alternatives there.
        assert sink.subjects() == [f"{SUBJECT} #1"]
        assert str(received["From"]) == "人民建议征集办公室 <noreply@jianyi.localhost>"
        plain = received.get_body(("plain",))
        html = received.get_body(("html",))
        assert plain is not None and "您的建议已受理" in plain.get_content()
        assert html is not None and "<b>已受理</b>" in html.get_content()

        # Down: the dispatcher's send must fail.
        port = sink.port
        sink.stop()
        with pytest.raises((aiosmtplib.SMTPException, OSError)):
            _send(sink, 2)

        # Up again on the same port: sending works and earlier mail is kept.
        sink.start()
        assert sink.port == port
        _send(sink, 3)
        sink.wait_for(2, timeout=5)
        assert sink.subjects() == [f"{SUBJECT} #1", f"{SUBJECT} #3"]
        assert len(list(mailbox.glob("*.eml"))) == 2
        assert not list(mailbox.glob("*.tmp"))


def test_wait_for_times_out_with_what_arrived(tmp_path: Path) -> None:
    with SmtpSink(tmp_path) as sink, pytest.raises(TimeoutError, match="got 0"):
        sink.wait_for(1, timeout=0.2)
