"""A real Prefect server in a child process, for `jianyi up` and the end-to-end tests.

Each instance gets its own PREFECT_HOME and (by default) its own SQLite database, so
two servers — a developer's `jianyi up` and a test run — never share state.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

import httpx

from jianyi.runtime.ports import free_port
from jianyi.settings import get_settings

# Prefect's events vacuum (its default) and its orphan vacuum, which deletes once a day the logs and
# artifacts left by runs that no longer exist: those the executor's retention deletes.
VACUUM_SERVICES = {"PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,orphans"}

HOST = "127.0.0.1"
LOG_FILE_NAME = "prefect-server.log"
# Prefect's server needs an async driver: aiosqlite for SQLite, asyncpg for PostgreSQL.
_SUPPORTED_DB_PREFIXES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class PrefectServerError(RuntimeError):
    """The server exited or did not become healthy; the message carries its log's tail."""


def _exit_status(process: subprocess.Popen[bytes]) -> int | None:
    """The child's exit status once it has exited, else None — without reaping it.

    While the child is an unreaped zombie its pid, which is also its process-group id,
    cannot be reused, so `os.killpg` in `_kill` is sure to hit only our own processes.
    """
    if process.returncode is not None:
        return process.returncode
    try:
        result = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere: let Popen record that, and never killpg
        return process.wait()
    return None if result is None else result.si_status


def _iso_duration(period: timedelta) -> str:
    # Prefect parses this setting with pydantic's timedelta, which rejects a bare number
    # of seconds in a string ("604800") but accepts ISO 8601 ("PT604800S").
    return f"PT{int(period.total_seconds())}S"


class PrefectServer:
    """`prefect server start` on 127.0.0.1, with settings suited to jianyi's workload.

    Use as a context manager, or call `start()` / `stop()`.
    """

    def __init__(
        self,
        directory: Path | str,
        port: int | None = None,
        *,
        database_url: str | None = None,
        ui: bool = False,
        events_retention: timedelta = timedelta(days=7),
        startup_timeout: float = 90.0,
        stop_grace: float = 10.0,
        extra_env: Mapping[str, str] | None = None,
        role: Literal["all", "api", "services"] = "all",
        nice: int | None = None,
    ) -> None:
        """``role``: "all" is one process with the API and the background services (the default
        profile); the scale-out profile runs "api" replicas (``--no-services``) and one
        "services" process (``prefect server services start``), as Prefect documents.
        ``nice``: added to the server's niceness; by default JIANYI_BACKGROUND_NICE."""
        self.role = role
        self.nice = get_settings().background_nice if nice is None else nice
        self.directory = Path(directory).resolve()
        self.port = port if port is not None else free_port()
        if database_url is not None and not database_url.startswith(_SUPPORTED_DB_PREFIXES):
            raise ValueError(
                f"Prefect's server needs sqlite+aiosqlite:// or postgresql+asyncpg://, got {database_url!r}"
            )
        self.database_url = database_url or f"sqlite+aiosqlite:///{self.directory / 'prefect.db'}"
        self.ui = ui
        self.events_retention = events_retention
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.extra_env = dict(extra_env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- addresses -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """What clients put in PREFECT_API_URL."""
        return f"{self.url}/api"

    @property
    def home(self) -> Path:
        return self.directory / "home"

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE_NAME

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and _exit_status(self._process) is None

    # -- environment ---------------------------------------------------------------

    def server_env(self) -> dict[str, str]:
        """The child's environment: ours, minus any inherited PREFECT_* settings, plus these.

        Inherited PREFECT_* variables are dropped so that a test process pointing
        PREFECT_API_URL at another server, or a developer's profile, cannot change which
        database this server uses; `extra_env` is the way to add settings deliberately.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_HOME": str(self.home),
                # The CLI prints through rich; without a terminal it wraps at 80 columns,
                # which splits error messages in the log.
                "COLUMNS": "200",
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.database_url,
                # The UI reads the API address from here; it must be this server's.
                "PREFECT_API_URL": self.api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                # Loads every paused run every 5 s, a cost that grows with the suspended
                # suggestions. jianyi's deadlines are its own rules, not Prefect timeouts.
                "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
                # jianyi's executor starts runs itself; no schedules, work pools or workers,
                # so these services would only poll the database for nothing.
                "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
                "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
                "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
                # Every 20 s its subflow monitor reads every suspended run, row by row. jianyi has
                # no subflows, and a suspended run cancelled in the UI goes straight to Cancelled;
                # 5 minutes is ample for its other duty, ending runs stuck in Cancelling.
                "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS": "300",
                "PREFECT_SERVER_UI_ENABLED": "true" if self.ui else "false",
                "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": _iso_duration(self.events_retention),
                # The events vacuum, and the orphan vacuum for the logs of runs the executor's
                # retention deletes (jianyi/executor/retention.py).
                **VACUUM_SERVICES,
            }
        )
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        # `python -m prefect` with our own interpreter: works whether or not the venv's
        # bin/ is on PATH, and always runs the Prefect this process imports.
        prefect = [sys.executable, "-m", "prefect", "server"]
        if self.role == "services":
            return [*prefect, "services", "start"]
        api = [*prefect, "start", "--host", HOST, "--port", str(self.port)]
        return [*api, "--no-services"] if self.role == "api" else api

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        """Start the server and return once GET /api/health answers true."""
        if self.is_running():
            return self
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n===== jianyi: starting {' '.join(self.command())}\n".encode())
        self._log.flush()
        self._process = subprocess.Popen(
            self.command(),
            env=self.server_env(),
            cwd=self.directory,
            stdin=subprocess.DEVNULL,  # never prompt, even when `jianyi up` runs in a terminal
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group, so stop() can kill anything it spawned and a Ctrl-C
            # meant for the parent's terminal doesn't kill it before `stop()` runs.
            start_new_session=True,
            # Only jianyi's executor (and the UI) call it: on a busy machine the API runs first.
            preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self._kill()
            raise
        atexit.register(self.stop)  # don't leave a server behind if the caller forgets
        return self

    def _wait_healthy(self) -> None:
        assert self._process is not None
        if self.role == "services":  # no HTTP of its own: up once it has stayed up a few seconds
            time.sleep(3.0)
            code = _exit_status(self._process)
            if code is not None:
                raise PrefectServerError(f"Prefect services exited with code {code}.\n{self.log_tail()}")
            return
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = _exit_status(self._process)
                if code is not None:
                    raise PrefectServerError(
                        f"Prefect server exited with code {code} before it was healthy.\n{self.log_tail()}"
                    )
                try:
                    response = client.get(f"{self.api_url}/health")
                    if response.status_code == 200 and response.json() is True:
                        return
                    last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                except (httpx.HTTPError, ValueError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise PrefectServerError(
                        f"Prefect server on {self.url} not healthy after {self.startup_timeout:.0f} s "
                        f"(last: {last_error}).\n{self.log_tail()}"
                    )
                time.sleep(0.25)

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL after `stop_grace` seconds."""
        process = self._process
        if process is None:
            return
        atexit.unregister(self.stop)
        if _exit_status(process) is None:
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + self.stop_grace
            while _exit_status(process) is None and time.monotonic() < deadline:
                time.sleep(0.1)
        self._kill()

    def _kill(self) -> None:
        process = self._process
        if process is not None:
            # The whole group: also catches a child the server left behind. Only while the
            # leader is unreaped (see _exit_status), so the group id is still ours.
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{tail}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
