"""SmsSink against a real HTTP client (httpx), as the outbox dispatcher talks to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jianyi.runtime.sms_sink import SmsSink

TEXT = "【人民建议征集】您的建议已受理，跟踪编号 SH20260001。"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must not stand between us and 127.0.0.1.
    with httpx.Client(trust_env=False, timeout=5) as client:
        yield client


def _post(client: httpx.Client, sink: SmsSink, n: int) -> httpx.Response:
    return client.post(
        sink.url,
        json={"id": f"outbox-{n}", "to": "13800000000", "text": f"{TEXT} #{n}"},
        headers={"Idempotency-Key": f"outbox-{n}"},
    )


def test_receives_stores_and_survives_restart(tmp_path: Path, client: httpx.Client) -> None:
    directory = tmp_path / "sms"
    with SmsSink(directory) as sink:
        assert sink.url == f"http://127.0.0.1:{sink.port}/sms"
        response = _post(client, sink, 1)
        assert response.status_code == 200
        assert response.json() == {"id": "outbox-1", "status": "accepted"}
        [received] = sink.wait_for(1, timeout=5)
        assert (received.id, received.to, received.text) == ("outbox-1", "13800000000", f"{TEXT} #1")
        assert received.idempotency_key == "outbox-1"

        # Down: the dispatcher's request must fail to connect.
        port = sink.port
        sink.stop()
        with pytest.raises(httpx.ConnectError):
            _post(client, sink, 2)

        # Up again on the same port: earlier messages are kept.
        sink.start()
        assert sink.port == port
        assert _post(client, sink, 3).status_code == 200
        # Nothing is deduped: the same message twice is kept twice (the dispatcher must not send it so).
        assert _post(client, sink, 3).status_code == 200
        assert [m.id for m in sink.wait_for(3, timeout=5)] == ["outbox-1", "outbox-3", "outbox-3"]

    # On disk: one JSON line per accepted message, the Chinese text as written.
    lines = (directory / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["outbox-1", "outbox-3", "outbox-3"]
    assert TEXT in lines[0]


@pytest.mark.parametrize("status", [503, 429, 400])
def test_answers_the_configured_failure_and_accepts_again_when_cleared(
    tmp_path: Path, client: httpx.Client, status: int
) -> None:
    with SmsSink(tmp_path) as sink:
        sink.fail_with = status
        assert _post(client, sink, 1).status_code == status
        assert sink.messages == []  # refused: nothing a phone would get
        assert [(r.id, r.status, r.idempotency_key) for r in sink.requests] == [
            ("outbox-1", status, "outbox-1")
        ]

        sink.fail_with = None
        assert _post(client, sink, 1).status_code == 200
        assert [m.id for m in sink.wait_for(1, timeout=5)] == ["outbox-1"]
        assert [r.status for r in sink.requests] == [status, 200]
    assert len((tmp_path / "messages.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_refuses_what_is_not_an_sms(tmp_path: Path, client: httpx.Client) -> None:
    with SmsSink(tmp_path) as sink:
        assert client.post(sink.url, content=b"not json").status_code == 400
        assert client.post(sink.url, json={"to": "13800000000"}).status_code == 400
        assert client.post(sink.url.replace("/sms", "/other"), json={}).status_code == 404
        assert sink.requests == []


def test_wait_for_times_out_with_what_arrived(tmp_path: Path) -> None:
    with SmsSink(tmp_path) as sink, pytest.raises(TimeoutError, match="got 0"):
        sink.wait_for(1, timeout=0.2)
