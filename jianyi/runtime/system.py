"""The whole system on one machine: SMTP and SMS sinks, Prefect server, API and executor processes.

``jianyi up`` and the end-to-end tests start it the same way, so what the tests prove is what an
office runs. The API and the executor are child processes (``python -m jianyi api|executor``): the
executor can be killed mid-step and started again, as a crash would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from jianyi.runtime.ports import free_port
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.runtime.sms_sink import SmsSink
from jianyi.runtime.smtp_sink import SmtpSink

# Files a process of the system creates are its owner's alone: the database, the logs, the mail and
# SMS sinks hold proposers' personal data and check codes.
PRIVATE_UMASK = 0o077


def private(path: Path) -> None:
    """Make an existing file or directory its owner's alone (a data directory from before)."""
    if path.exists():
        path.chmod(0o700 if path.is_dir() else 0o600)


class System:
    def __init__(
        self,
        home: Path,
        *,
        api_port: int | None = None,
        prefect_api_url: str | None = None,
        prefect_port: int | None = None,
        prefect_ui: bool = True,
        smtp_port: int | None = None,
        sms_port: int | None = None,
        database_url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home.resolve()
        self.api_port = api_port or free_port()
        self.smtp_port = smtp_port or free_port()
        self.database_url = database_url or f"sqlite:///{self.home / 'jianyi.db'}"
        self.extra_env = dict(extra_env or {})
        self.prefect: PrefectServer | None = None
        self.prefect_api_url = prefect_api_url
        if prefect_api_url is None:
            self.prefect = PrefectServer(self.home / "prefect", port=prefect_port, ui=prefect_ui)
        self.sink = SmtpSink(self.home / "mail", port=self.smtp_port)
        # The SMS gateway proposers' text messages go to (JIANYI_SMS_GATEWAY_URL of the processes).
        self.sms = SmsSink(self.home / "sms", port=sms_port)
        self.api: subprocess.Popen[bytes] | None = None
        self.executor: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """The environment of every jianyi process of this system (and of the caller's own imports)."""
        assert self.prefect_api_url is not None, "start the Prefect server first"
        return {
            "JIANYI_HOME": str(self.home),
            "JIANYI_DATABASE_URL": self.database_url,
            "JIANYI_PORT": str(self.api_port),
            "JIANYI_SMTP_HOST": "127.0.0.1",
            "JIANYI_SMTP_PORT": str(self.smtp_port),
            "JIANYI_SMS_GATEWAY_URL": self.sms.url,
            "PREFECT_API_URL": self.prefect_api_url,
            # Client-side Prefect state (results, profiles) stays in the data directory, not in ~/.prefect.
            "PREFECT_HOME": str(self.home / "prefect-client"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",  # a log that survives a kill is the one that explains it
            **self.extra_env,
        }

    def start_services(self) -> None:
        """SMTP and SMS sinks and Prefect server: the real components the processes talk to."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.secure_home()
        self.sink.start()
        self.sms.start()
        if self.prefect is not None:
            self.prefect.start()
            self.prefect_api_url = self.prefect.api_url

    def secure_home(self) -> None:
        """The data directory, and the database file and logs already in it, private to their owner."""
        private(self.home)
        for path in self.home.glob("*.log"):
            private(path)
        if self.database_url.startswith("sqlite:///"):
            database = Path(self.database_url.removeprefix("sqlite:///"))
            for path in (database, *database.parent.glob(f"{database.name}-*")):  # -wal, -shm
                private(path)

    def spawn(
        self, command: str, log_name: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """``python -m jianyi COMMAND`` with this system's environment (plus ``env``), logging to a
        file; the child creates files private to their owner."""
        fd = os.open(self.home / log_name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        log = os.fdopen(fd, "ab")
        private(self.home / log_name)
        return subprocess.Popen(
            [sys.executable, "-m", "jianyi", command],
            env={**os.environ, **self.env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            umask=PRIVATE_UMASK,
        )

    def start_api(self, timeout: float = 60) -> None:
        self.api = self.spawn("api", "api.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(f"the API exited ({self.api.returncode}); see {self.home / 'api.log'}")
            try:
                if httpx.get(f"{self.api_url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer within {timeout} s; see {self.home / 'api.log'}")

    def start_executor(self) -> None:
        self.executor = self.spawn("executor", "executor.log")

    def kill_executor(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no cleanup, no graceful end of attempts."""
        if self.executor is not None and self.executor.poll() is None:
            self.executor.send_signal(signal.SIGKILL)
            self.executor.wait(10)
        self.executor = None

    def stop(self) -> None:
        for proc in (self.executor, self.api):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.executor = self.api = None
        if self.prefect is not None:
            self.prefect.stop()
        self.sink.stop()
        self.sms.stop()
