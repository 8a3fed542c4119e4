"""The outbox dispatcher's SMS channel against a real HTTP gateway on 127.0.0.1 (SmsSink).

On SQLite and PostgreSQL, migrated (the channel column comes from migration 0005). Time is pinned
with `run_once(now=...)`: backoff is checked by stepping it, never by sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.models import OutboxMessage
from jianyi.models.base import utcnow
from jianyi.models.enums import OutboxChannel, OutboxState
from jianyi.rules.messages import RenderedMail
from jianyi.runtime.sms_sink import SmsSink
from jianyi.runtime.smtp_sink import SmtpSink
from jianyi.services.outbox import queue_mail
from jianyi.settings import get_settings

PHONE = "13800000000"
TEXT = "【人民建议征集】您的建议已受理，跟踪编号 SH20260001，可凭查询码查看办理进度。"


@pytest.fixture(autouse=True)
def no_gateway_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings as on a machine with no SMS gateway configured, whatever the caller's environment."""
    monkeypatch.delenv("JIANYI_SMS_GATEWAY_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def sms(tmp_path: Path) -> Iterator[SmsSink]:
    sink = SmsSink(tmp_path / "sms")  # not started: each test starts it when the gateway should be up
    yield sink
    sink.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(tmp_path / "mail").start()
    yield sink
    sink.stop()


def _queue_sms(sessions: sessionmaker[Session], key: str = "ack:1", *, text: str = TEXT) -> int:
    with sessions() as session, session.begin():
        message_id = queue_mail(
            session,
            dedupe_key=key,
            suggestion_id=None,
            kind="acknowledgement",
            to_addr=PHONE,
            mail=RenderedMail(subject="", text=text, html=""),
            channel=OutboxChannel.sms,
        )
        assert message_id is not None
        return message_id


def _queue_email(sessions: sessionmaker[Session], key: str = "ack-mail:1") -> int:
    with sessions() as session, session.begin():
        message_id = queue_mail(
            session,
            dedupe_key=key,
            suggestion_id=None,
            kind="acknowledgement",
            to_addr="lizhang@example.org",
            mail=RenderedMail(subject="已收到您的建议", text="文本", html="<p>文本</p>"),
        )
        assert message_id is not None
        return message_id


def _row(sessions: sessionmaker[Session], outbox_id: int) -> OutboxMessage:
    with sessions() as session:
        return session.get_one(OutboxMessage, outbox_id)


def _dispatcher(
    sessions: sessionmaker[Session], sms: SmsSink | None, *, smtp_port: int = 1, sms_timeout: float = 5
) -> OutboxDispatcher:
    # smtp_port 1: nothing listens there; these tests send e-mail only where they say so.
    return OutboxDispatcher(
        sessionmaker=sessions,
        host="127.0.0.1",
        port=smtp_port,
        timeout=5,
        sms_gateway_url=sms.url if sms is not None else None,
        sms_timeout=sms_timeout,
    )


def _start() -> datetime:
    return utcnow() + timedelta(seconds=1)  # a little ahead of the wall clock: what was queued is due


def test_an_sms_is_delivered_once_with_its_idempotency_key(
    sessions: sessionmaker[Session], sms: SmsSink
) -> None:
    outbox_id = _queue_sms(sessions)
    sms.start()
    dispatcher = _dispatcher(sessions, sms)
    now = _start()

    assert asyncio.run(dispatcher.run_once(now=now)) == 1
    assert asyncio.run(dispatcher.run_once(now=now + timedelta(hours=1))) == 0  # nothing is sent twice

    [received] = sms.messages
    assert (received.id, received.to, received.text) == (f"outbox-{outbox_id}", PHONE, TEXT)
    assert received.idempotency_key == f"outbox-{outbox_id}"
    assert len(sms.requests) == 1
    row = _row(sessions, outbox_id)
    assert (row.state, row.attempts, row.sent_at, row.claimed_until, row.last_error) == (
        OutboxState.sent,
        1,
        now,
        None,
        None,
    )


@pytest.mark.parametrize("status", [503, 500, 429, 408])
def test_a_gateway_not_ready_is_retried_with_backoff_and_delivers_once(
    sessions: sessionmaker[Session], sms: SmsSink, status: int
) -> None:
    outbox_id = _queue_sms(sessions)
    sms.start()
    sms.fail_with = status
    dispatcher = _dispatcher(sessions, sms)
    now = _start()

    async def scenario() -> None:
        assert await dispatcher.run_once(now=now) == 0
        row = _row(sessions, outbox_id)
        assert (row.state, row.attempts) == (OutboxState.pending, 1)
        assert row.next_attempt_at == now + timedelta(seconds=2)
        assert row.last_error is not None and str(status) in row.last_error

        sms.fail_with = None  # the gateway recovers
        assert await dispatcher.run_once(now=now + timedelta(seconds=1)) == 0  # not due yet
        assert await dispatcher.run_once(now=now + timedelta(seconds=2)) == 1
        assert await dispatcher.run_once(now=now + timedelta(hours=1)) == 0

    asyncio.run(scenario())
    assert [r.status for r in sms.requests] == [status, 200]
    assert [m.id for m in sms.messages] == [f"outbox-{outbox_id}"]  # exactly once
    row = _row(sessions, outbox_id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.sent, 2, None)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_refused_message_fails_for_good(sessions: sessionmaker[Session], sms: SmsSink, status: int) -> None:
    outbox_id = _queue_sms(sessions)
    sms.start()
    sms.fail_with = status
    dispatcher = _dispatcher(sessions, sms)
    now = _start()

    assert asyncio.run(dispatcher.run_once(now=now)) == 0
    row = _row(sessions, outbox_id)
    assert (row.state, row.attempts, row.claimed_until) == (OutboxState.failed, 1, None)
    assert row.last_error is not None and str(status) in row.last_error

    sms.fail_with = None
    assert asyncio.run(dispatcher.run_once(now=now + timedelta(hours=1))) == 0  # waits for the office
    assert len(sms.requests) == 1 and sms.messages == []


def test_a_gateway_down_loses_nothing_and_delivers_once_when_back(
    sessions: sessionmaker[Session], sms: SmsSink
) -> None:
    outbox_id = _queue_sms(sessions)
    sms.start()
    sms.stop()  # connection refused on the very port the dispatcher points at
    dispatcher = _dispatcher(sessions, sms)
    now = _start()

    async def scenario() -> None:
        assert await dispatcher.run_once(now=now) == 0
        row = _row(sessions, outbox_id)
        assert (row.state, row.attempts) == (OutboxState.pending, 1)
        assert row.next_attempt_at == now + timedelta(seconds=2)
        assert row.last_error is not None and "ConnectError" in row.last_error

        assert await dispatcher.run_once(now=now + timedelta(seconds=2)) == 0  # still down
        assert _row(sessions, outbox_id).next_attempt_at == now + timedelta(seconds=6)

        sms.start()
        assert await dispatcher.run_once(now=now + timedelta(seconds=6)) == 1
        assert await dispatcher.run_once(now=now + timedelta(hours=1)) == 0

    asyncio.run(scenario())
    assert [m.id for m in sms.messages] == [f"outbox-{outbox_id}"]
    row = _row(sessions, outbox_id)
    assert (row.state, row.attempts) == (OutboxState.sent, 3)


def test_without_a_gateway_an_sms_stays_pending_while_mail_is_sent(
    sessions: sessionmaker[Session], sms: SmsSink, smtp: SmtpSink
) -> None:
    sms_id = _queue_sms(sessions)
    mail_id = _queue_email(sessions)
    without = _dispatcher(sessions, None, smtp_port=smtp.port)
    assert without.sms_gateway_url is None  # nothing configured in the settings either
    now = _start()

    assert asyncio.run(without.run_once(now=now)) == 1
    assert asyncio.run(without.run_once(now=now + timedelta(hours=1))) == 0
    assert [m["Message-ID"] for m in smtp.messages] == [f"<outbox-{mail_id}@jianyi.localhost>"]
    assert _row(sessions, mail_id).state is OutboxState.sent
    row = _row(sessions, sms_id)
    # Never claimed: no attempt counted, no error, no claim; the office sees it pending.
    assert (row.state, row.attempts, row.claimed_until, row.last_error) == (
        OutboxState.pending,
        0,
        None,
        None,
    )

    # Nothing was lost: once a gateway is configured, the message goes out.
    sms.start()
    assert asyncio.run(_dispatcher(sessions, sms).run_once(now=now + timedelta(hours=2))) == 1
    assert [m.id for m in sms.messages] == [f"outbox-{sms_id}"]
    assert len(smtp.messages) == 1


def test_mail_and_sms_go_out_in_one_round(
    sessions: sessionmaker[Session], sms: SmsSink, smtp: SmtpSink
) -> None:
    sms_ids = [_queue_sms(sessions, f"ack:{n}", text=f"{TEXT} #{n}") for n in range(3)]
    mail_id = _queue_email(sessions)
    sms.start()
    dispatcher = _dispatcher(sessions, sms, smtp_port=smtp.port)

    assert asyncio.run(dispatcher.run_once(now=_start())) == 4
    assert sorted(m.id for m in sms.messages) == sorted(f"outbox-{i}" for i in sms_ids)
    assert [m["Message-ID"] for m in smtp.messages] == [f"<outbox-{mail_id}@jianyi.localhost>"]


def test_a_silent_gateway_times_out_and_is_retried_later(sessions: sessionmaker[Session]) -> None:
    outbox_id = _queue_sms(sessions)
    now = _start()

    async def scenario() -> None:
        # Accepts the connection and never answers.
        silent = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        dispatcher = OutboxDispatcher(
            sessionmaker=sessions, sms_gateway_url=f"http://127.0.0.1:{port}/sms", sms_timeout=0.3
        )
        async with silent:
            assert await asyncio.wait_for(dispatcher.run_once(now=now), timeout=10) == 0

    asyncio.run(scenario())
    row = _row(sessions, outbox_id)
    assert (row.state, row.attempts) == (OutboxState.pending, 1)
    assert row.next_attempt_at == now + timedelta(seconds=2)


def test_a_gateway_url_no_request_could_go_to_is_refused_at_once(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="SMS gateway URL"):
        OutboxDispatcher(sessionmaker=sessions, sms_gateway_url="127.0.0.1:9/sms")
    with pytest.raises(ValueError, match="outlast"):
        OutboxDispatcher(
            sessionmaker=sessions, sms_gateway_url="http://127.0.0.1:9/sms", sms_timeout=60, timeout=5
        )
