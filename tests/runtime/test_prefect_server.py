"""PrefectServer: a real `prefect server start`, on SQLite, with the UI off."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from jianyi.runtime.ports import free_port
from jianyi.runtime.prefect_server import PrefectServer, PrefectServerError


def test_server_env_has_jianyi_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An inherited setting must not leak into the server (it would pick another database).
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "sqlite+aiosqlite:////nowhere.db")
    server = PrefectServer(tmp_path, 4321, ui=True, events_retention=timedelta(days=2))
    env = server.server_env()
    assert env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"
    assert env["PREFECT_HOME"] == str(tmp_path / "home")
    assert env["PREFECT_SERVER_UI_ENABLED"] == "true"
    assert env["PREFECT_SERVER_EVENTS_RETENTION_PERIOD"] == "PT172800S"
    assert server.api_url == "http://127.0.0.1:4321/api"
    with pytest.raises(ValueError):
        PrefectServer(tmp_path, database_url="postgresql+psycopg://postgres@127.0.0.1/x")


def test_start_health_stop(tmp_path: Path) -> None:
    port = free_port()
    with PrefectServer(tmp_path, port, ui=False) as server:
        assert server.api_url == f"http://127.0.0.1:{port}/api"
        assert httpx.get(f"{server.api_url}/health", timeout=5).json() is True
        # The server really runs with our settings, not Prefect's defaults.
        settings = httpx.get(f"{server.api_url}/admin/settings", timeout=5).json()["server"]
        assert settings["analytics_enabled"] is False
        assert settings["ui"]["enabled"] is False
        services = settings["services"]
        for name in ("pause_expirations", "late_runs", "scheduler", "foreman"):
            assert services[name]["enabled"] is False, name
        assert (tmp_path / "prefect.db").exists()
        pid = server.pid
        assert pid is not None

    assert not server.is_running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.api_url}/health", timeout=2)
    assert "prefect server start" in server.log_path.read_text()


def test_start_fails_clearly_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = PrefectServer(tmp_path, taken.getsockname()[1])
        with pytest.raises(PrefectServerError, match=r"exited with code 1[\s\S]*already in use"):
            server.start()
    assert not server.is_running()
