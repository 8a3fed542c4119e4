"""The outbox dispatcher against a real SMTP server on 127.0.0.1 (aiosmtpd, via SmtpSink).

Time is an injected clock: backoff is checked by moving the clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jianyi.db import make_engine
from jianyi.executor.dispatcher import OutboxDispatcher, _storable, backoff
from jianyi.executor.transports import Outgoing, SmtpTransport
from jianyi.models import Base, OutboxMessage
from jianyi.models.base import utcnow
from jianyi.models.enums import OutboxState
from jianyi.rules.messages import MailContext, RenderedMail, render_mail
from jianyi.runtime.ports import free_port
from jianyi.runtime.postgres import PostgresNotInstalled, TemporaryPostgres
from jianyi.runtime.smtp_sink import SmtpSink
from jianyi.services.outbox import queue_mail

TRACKING_URL = "http://127.0.0.1:8700/track/SH2026{n:04d}?check=c0de"


class FakeClock:
    def __init__(self) -> None:
        # A little ahead of the wall clock, so messages queued just now are due.
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    try:
        cluster = TemporaryPostgres()
    except PostgresNotInstalled as exc:
        pytest.skip(f"PostgreSQL server binaries not installed: {exc}")
    with cluster:
        yield cluster


def _schema(url: str) -> str:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return _schema(f"sqlite:///{tmp_path / 'outbox.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return _schema(f"sqlite:///{tmp_path / 'outbox.db'}")
    cluster: TemporaryPostgres = request.getfixturevalue("postgres")
    return _schema(cluster.create_database(f"outbox_{uuid.uuid4().hex[:12]}"))


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(tmp_path / "mailbox")  # not started: each test starts it when SMTP should be up
    yield sink
    sink.stop()


def _queue(sessions: sessionmaker[Session], count: int, *, key: str = "ack") -> list[int]:
    ids: list[int] = []
    with sessions() as session, session.begin():
        for n in range(1, count + 1):
            mail = render_mail(
                "acknowledgement",
                MailContext(
                    proposer_name="李明",
                    tracking_code=f"SH2026{n:04d}",
                    check_code="c0de",
                    title=f"关于第{n}条公交线路的建议",
                    tracking_url=TRACKING_URL.format(n=n),
                ),
            )
            message_id = queue_mail(
                session,
                dedupe_key=f"{key}:{n}",
                suggestion_id=None,
                kind="acknowledgement",
                to_addr=f"proposer{n}@example.org",
                mail=mail,
            )
            assert message_id is not None
            ids.append(message_id)
    return ids


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _dispatcher(
    sessions: sessionmaker[Session],
    port: int,
    clock: FakeClock,
    *,
    max_attempts: int | None = None,
    batch_size: int = 50,
) -> OutboxDispatcher:
    return OutboxDispatcher(
        sessionmaker=sessions,
        host="127.0.0.1",
        port=port,
        timeout=5,
        clock=clock,
        max_attempts=max_attempts,
        batch_size=batch_size,
    )


def test_each_message_arrives_once_well_formed(sessions: sessionmaker[Session], sink: SmtpSink) -> None:
    ids = _queue(sessions, 3)
    sink.start()
    dispatcher = _dispatcher(sessions, sink.port, FakeClock())

    assert asyncio.run(dispatcher.run_once()) == 3
    assert asyncio.run(dispatcher.run_once()) == 0  # nothing is sent twice
    assert len(sink.messages) == 3

    rows = _rows(sessions)
    assert [(r.state, r.attempts) for r in rows] == [(OutboxState.sent, 1)] * 3
    assert all(r.sent_at is not None and r.claimed_until is None for r in rows)

    received = {m["Message-ID"]: m for m in sink.messages}
    assert set(received) == {f"<outbox-{i}@jianyi.localhost>" for i in ids}
    first = received[f"<outbox-{ids[0]}@jianyi.localhost>"]
    assert first["Subject"] == "已收到您的建议（跟踪编号 SH20260001）"
    assert first["To"] == "proposer1@example.org"
    assert first["From"] == "人民建议征集办公室 <noreply@jianyi.localhost>"
    assert first.get_content_type() == "multipart/alternative"
    text, html = first.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == "utf-8"
    assert TRACKING_URL.format(n=1) in text.get_content() and "当天受理" in text.get_content()
    assert "当天受理" in html.get_content()
    # On the wire the message is 7-bit: RFC 2047 headers, base64 bodies, no SMTPUTF8 needed.
    raw = sink.received[0].path.read_bytes()
    assert raw.isascii() and b"=?utf-8?" in raw


def test_smtp_down_loses_nothing_backs_off_and_delivers_once_when_back(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    _queue(sessions, 3)
    clock = FakeClock()
    dispatcher = _dispatcher(sessions, sink.port, clock)

    async def scenario() -> None:
        assert await dispatcher.run_once() == 0  # SMTP is down
        rows = _rows(sessions)
        assert [(r.state, r.attempts) for r in rows] == [(OutboxState.pending, 1)] * 3
        assert all(r.next_attempt_at == clock.now + timedelta(seconds=2) for r in rows)
        assert all(r.last_error for r in rows)

        clock.advance(1)  # not due yet: untouched
        assert await dispatcher.run_once() == 0
        assert [r.attempts for r in _rows(sessions)] == [1, 1, 1]

        clock.advance(1)
        assert await dispatcher.run_once() == 0
        rows = _rows(sessions)
        assert [r.attempts for r in rows] == [2, 2, 2]
        assert all(r.next_attempt_at == clock.now + timedelta(seconds=4) for r in rows)

        clock.advance(4)
        assert await dispatcher.run_once() == 0
        assert all(r.next_attempt_at == clock.now + timedelta(seconds=8) for r in _rows(sessions))

        sink.start()
        clock.advance(7)
        assert await dispatcher.run_once() == 0  # up, but not due for another second
        clock.advance(1)
        assert await dispatcher.run_once() == 3
        clock.advance(3600)
        assert await dispatcher.run_once() == 0

    asyncio.run(scenario())
    assert len(sink.messages) == 3
    assert len({m["Message-ID"] for m in sink.messages}) == 3
    rows = _rows(sessions)
    assert [(r.state, r.attempts, r.last_error) for r in rows] == [(OutboxState.sent, 4, None)] * 3


def test_backoff_doubles_from_two_seconds_up_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 12)] == [
        2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600,
    ]  # fmt: skip


def test_gives_up_after_the_configured_attempts(sessions: sessionmaker[Session], sink: SmtpSink) -> None:
    _queue(sessions, 1)
    clock = FakeClock()
    dispatcher = _dispatcher(sessions, sink.port, clock, max_attempts=3)

    async def scenario() -> None:
        for _ in range(5):
            await dispatcher.run_once()
            clock.advance(600)

    asyncio.run(scenario())
    [row] = _rows(sessions)
    assert (row.state, row.attempts) == (OutboxState.failed, 3)
    sink.start()
    assert asyncio.run(dispatcher.run_once()) == 0  # a failed message waits for the office
    assert sink.messages == []


class _RefuseRecipients:
    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        return "550 5.1.1 mailbox unavailable"


def test_a_refused_address_fails_at_once(sessions: sessionmaker[Session]) -> None:
    _queue(sessions, 1)
    controller = Controller(_RefuseRecipients(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        assert asyncio.run(_dispatcher(sessions, controller.port, FakeClock()).run_once()) == 0
    finally:
        controller.stop()
    [row] = _rows(sessions)
    assert (row.state, row.attempts) == (OutboxState.failed, 1)
    assert row.last_error is not None and "550" in row.last_error


def test_a_malformed_address_fails_at_once_without_blocking_the_rest(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    bad, good = _queue(sessions, 2)
    with sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == bad)
            .values(to_addr="x@example.org\r\nBcc: everyone@example.org")
        )
    sink.start()
    assert asyncio.run(_dispatcher(sessions, sink.port, FakeClock()).run_once()) == 1
    rows = {r.id: r for r in _rows(sessions)}
    assert (rows[bad].state, rows[bad].attempts) == (OutboxState.failed, 1)
    assert rows[good].state is OutboxState.sent
    assert [m["To"] for m in sink.messages] == ["proposer2@example.org"]


def _set_address(sessions: sessionmaker[Session], outbox_id: int, to_addr: str) -> None:
    with sessions() as session, session.begin():
        session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(to_addr=to_addr))


def test_a_control_character_in_an_address_fails_that_message_alone(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    """aiosmtplib refuses the RCPT command with a ValueError: that message fails for good, at once."""
    bad, good = _queue(sessions, 2)
    _set_address(sessions, bad, "a\u0001b@example.com")
    sink.start()
    assert asyncio.run(_dispatcher(sessions, sink.port, FakeClock()).run_once()) == 1
    rows = {r.id: r for r in _rows(sessions)}
    assert (rows[bad].state, rows[bad].attempts) == (OutboxState.failed, 1)
    assert rows[bad].last_error is not None and "prohibited control character" in rows[bad].last_error
    assert rows[good].state is OutboxState.sent
    assert [m["To"] for m in sink.messages] == ["proposer2@example.org"]


def test_run_forever_outlives_a_message_that_cannot_be_sent(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    [bad] = _queue(sessions, 1, key="bad")
    _set_address(sessions, bad, "a\u0001b@example.com")
    sink.start()
    dispatcher = OutboxDispatcher(sessionmaker=sessions, host="127.0.0.1", port=sink.port, poll_seconds=0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run_forever(stop))
        await asyncio.sleep(0.3)
        assert not task.done()
        await asyncio.to_thread(_queue, sessions, 2)  # queued after the bad one was tried
        await asyncio.to_thread(sink.wait_for, 2, 10.0)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert [r.state for r in _rows(sessions)] == [OutboxState.failed, OutboxState.sent, OutboxState.sent]


def test_an_error_quoting_its_row_is_stored_as_text_any_database_takes() -> None:
    assert _storable("bad: a\x00b\ud800@例.org") == "bad: a\\x00b\\ud800@例.org"


def test_an_unexpected_error_is_retried_then_fails_after_the_configured_attempts(
    sessions: sessionmaker[Session], sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only SMTP and socket errors: any error of one message is that message's, with backoff."""
    bad, good = _queue(sessions, 2)
    send = SmtpTransport.send

    async def flaky(self: SmtpTransport, message: Outgoing, now: datetime) -> None:
        if message.id == bad:
            raise RuntimeError("a transport bug")
        await send(self, message, now)

    monkeypatch.setattr(SmtpTransport, "send", flaky)
    sink.start()
    clock = FakeClock()
    dispatcher = _dispatcher(sessions, sink.port, clock, max_attempts=2)
    assert asyncio.run(dispatcher.run_once()) == 1
    rows = {r.id: r for r in _rows(sessions)}
    assert (rows[bad].state, rows[bad].attempts) == (OutboxState.pending, 1)
    assert rows[bad].next_attempt_at == clock.now + timedelta(seconds=2)
    assert rows[good].state is OutboxState.sent
    clock.advance(2)
    assert asyncio.run(dispatcher.run_once()) == 0
    [row] = [r for r in _rows(sessions) if r.id == bad]
    assert (row.state, row.attempts, row.last_error) == (
        OutboxState.failed,
        2,
        "RuntimeError: a transport bug",
    )


def test_a_subject_longer_than_its_column_is_cut_and_sent(any_db_url: str, sink: SmtpSink) -> None:
    """A notice's subject carries a 300-character title and more: PostgreSQL refused the row, and with
    it the whole sweep that queued it, at every sweep."""
    engine = make_engine(any_db_url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with sessions() as session, session.begin():
            mail = RenderedMail(
                subject="督办通知：" + "题" * 300 + "（SH20260001）", text="正文", html="<p>正文</p>"
            )
            queue_mail(
                session,
                dedupe_key="notice:1",
                suggestion_id=None,
                kind="notice",
                to_addr="a@b.org",
                mail=mail,
            )
        sink.start()
        assert asyncio.run(_dispatcher(sessions, sink.port, FakeClock()).run_once()) == 1
        [row] = _rows(sessions)
    finally:
        engine.dispose()
    assert len(row.subject) == 300 and row.subject.endswith("…")
    assert sink.messages[0]["Subject"] == row.subject


def test_a_crashed_dispatchers_claim_expires_and_the_message_is_sent_once(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    [outbox_id] = _queue(sessions, 1)
    clock = FakeClock()
    # Another dispatcher claimed the message and died before sending it.
    with sessions() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(state=OutboxState.sending, claimed_until=clock.now + timedelta(seconds=60))
        )
    sink.start()
    dispatcher = _dispatcher(sessions, sink.port, clock)
    clock.advance(30)
    assert asyncio.run(dispatcher.run_once()) == 0  # the claim still holds
    clock.advance(31)
    assert asyncio.run(dispatcher.run_once()) == 1
    assert asyncio.run(dispatcher.run_once()) == 0
    assert [m["Message-ID"] for m in sink.messages] == [f"<outbox-{outbox_id}@jianyi.localhost>"]


def test_two_dispatchers_never_send_one_message_twice(any_db_url: str, sink: SmtpSink) -> None:
    engines = [make_engine(any_db_url), make_engine(any_db_url)]  # as two processes would have
    first, second = (sessionmaker(bind=e, expire_on_commit=False) for e in engines)
    ids = _queue(first, 60)
    sink.start()
    clock = FakeClock()
    dispatchers = [_dispatcher(s, sink.port, clock, batch_size=7) for s in (first, second)]

    async def race() -> list[int]:
        # Each round both claim at once, from the same candidates; each starts first every other round.
        sent = [0, 0]
        for n in range(30):
            order = (0, 1) if n % 2 == 0 else (1, 0)
            got = await asyncio.gather(*(dispatchers[i].run_once() for i in order))
            for i, count in zip(order, got, strict=True):
                sent[i] += count
            if sum(sent) == len(ids):
                break
        return sent

    try:
        sent = asyncio.run(race())
        rows = _rows(first)
    finally:
        for engine in engines:
            engine.dispose()
    # Which of the two wins each claim is the scheduler's choice (one may win them all): what may never
    # happen is a message claimed by both, which the sink would have received twice.
    assert sum(sent) == 60
    message_ids = [m["Message-ID"] for m in sink.messages]
    assert sorted(message_ids) == sorted(f"<outbox-{i}@jianyi.localhost>" for i in ids)
    assert all((r.state, r.attempts) == (OutboxState.sent, 1) for r in rows)


def test_a_second_queue_under_the_same_key_sends_nothing_more(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    _queue(sessions, 2, key="reply:7")
    _queue(sessions, 2, key="reply:7")  # the same causes again, e.g. a retried flow task
    sink.start()
    assert asyncio.run(_dispatcher(sessions, sink.port, FakeClock()).run_once()) == 2
    assert len(_rows(sessions)) == 2 and len(sink.messages) == 2


def test_run_forever_sends_what_is_queued_until_stopped(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    sink.start()
    dispatcher = OutboxDispatcher(sessionmaker=sessions, host="127.0.0.1", port=sink.port, poll_seconds=0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run_forever(stop))
        await asyncio.to_thread(_queue, sessions, 2)
        await asyncio.to_thread(sink.wait_for, 2, 10.0)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert [r.state for r in _rows(sessions)] == [OutboxState.sent] * 2


def test_while_deferred_nothing_is_sent_and_everything_is_once_let_go(
    sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    """The executor defers deliveries during an intake burst: the messages wait queued, untouched."""
    sink.start()
    dispatcher = OutboxDispatcher(sessionmaker=sessions, host="127.0.0.1", port=sink.port, poll_seconds=0.05)
    deferred = True

    async def scenario() -> None:
        nonlocal deferred
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run_forever(stop, deferred=lambda: deferred))
        await asyncio.to_thread(_queue, sessions, 2)
        await asyncio.sleep(0.5)  # ten polls
        assert sink.messages == []
        assert [(r.state, r.attempts) for r in _rows(sessions)] == [(OutboxState.pending, 0)] * 2
        deferred = False
        await asyncio.to_thread(sink.wait_for, 2, 10.0)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert [r.state for r in _rows(sessions)] == [OutboxState.sent] * 2


def test_a_silent_server_times_out_and_is_retried_later(sessions: sessionmaker[Session]) -> None:
    _queue(sessions, 1)
    clock = FakeClock()

    async def scenario() -> None:
        # Accepts the connection and never says a word (no 220 greeting).
        silent = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        dispatcher = OutboxDispatcher(
            sessionmaker=sessions, host="127.0.0.1", port=port, timeout=0.3, clock=clock
        )
        async with silent:
            assert await asyncio.wait_for(dispatcher.run_once(), timeout=5) == 0

    asyncio.run(scenario())
    [row] = _rows(sessions)
    assert (row.state, row.attempts) == (OutboxState.pending, 1)
    assert row.next_attempt_at == clock.now + timedelta(seconds=2)


def test_a_claim_shorter_than_a_batch_is_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError, match="outlast"):
        OutboxDispatcher(sessionmaker=sessions, timeout=10, batch_size=50, concurrency=8, claim_seconds=60)
