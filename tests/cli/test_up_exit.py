"""`jianyi up` (and so `make up`) exits non-zero when the system it started dies, or does not start:
it used to exit 0 after "the executor exited (1); stopping"."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jianyi.cli import up
from jianyi.cli.main import app
from jianyi.runtime.prefect_server import PrefectServerError
from jianyi.settings import get_settings


class FakeSystem:
    """The processes `up` watches, without Prefect, sinks or a database: the executor dies at once."""

    fail_to_start: Exception | None = None

    def __init__(self, home: Path, **_: Any) -> None:
        self.home = home
        self.database_url = f"sqlite:///{home / 'jianyi.db'}"
        self.api_url = "http://127.0.0.1:1"
        self.prefect_api_url = "http://127.0.0.1:2/api"
        self.sms = type("Sms", (), {"log_path": home / "sms.jsonl"})()
        self.api: subprocess.Popen[bytes] | None = None
        self.executor: subprocess.Popen[bytes] | None = None

    def start_services(self) -> None:
        if self.fail_to_start is not None:
            raise self.fail_to_start

    def start_api(self) -> None:
        self.api = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def start_executor(self) -> None:
        self.executor = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])

    def stop(self) -> None:
        for proc in (self.api, self.executor):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def fake_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeSystem]]:
    @contextmanager
    def no_session(_url: str | None = None) -> Iterator[None]:
        yield None

    monkeypatch.setenv("JIANYI_HOME", str(tmp_path))
    get_settings.cache_clear()
    monkeypatch.setattr(up, "System", FakeSystem)
    monkeypatch.setattr(up, "upgrade", lambda _url: None)
    monkeypatch.setattr(up, "session_scope", no_session)
    monkeypatch.setattr(up, "seed_network", lambda _session: 0)
    monkeypatch.setattr(up, "seed_from_chinese_calendar", lambda _session: 0)
    office = {"role": "office", "unit": "city-office", "token": "t"}
    monkeypatch.setattr(up, "_demo_users", lambda _home, _url: {"王处长": office})
    monkeypatch.setattr(up, "_show_demo", lambda _system, _token: None)
    monkeypatch.setattr(signal, "signal", lambda *_args: None)  # leave pytest's SIGTERM alone
    FakeSystem.fail_to_start = None
    yield FakeSystem
    get_settings.cache_clear()


def test_up_exits_non_zero_when_a_process_it_watches_dies(fake_up: type[FakeSystem]) -> None:
    result = CliRunner().invoke(app, ["up"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert "the executor exited (1); stopping" in result.stdout
    assert result.stderr.strip().startswith("error: jianyi stopped: the executor exited (1)")


def test_up_that_cannot_start_says_why_in_its_terms_and_exits_non_zero(fake_up: type[FakeSystem]) -> None:
    fake_up.fail_to_start = PrefectServerError("the Prefect server did not answer within 60 s")
    result = CliRunner().invoke(app, ["up"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
    assert result.stderr.strip() == "error: jianyi stopped: the Prefect server did not answer within 60 s"
    assert "Traceback" not in result.output
