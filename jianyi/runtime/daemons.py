"""Redis and nginx as child processes on 127.0.0.1: what Prefect's documented scale-out needs
beside PostgreSQL (Redis for the events between server processes, a load balancer in front of
several API replicas). Debian's packages (`apt-get install redis-server nginx`); nothing downloaded.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Self

from jianyi.runtime.ports import free_port

HOST = "127.0.0.1"


class DaemonError(RuntimeError):
    """Not installed, or exited / not listening in time (with the tail of its log)."""


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class _Daemon:
    """A foreground server process with a log file, up once its ports accept connections."""

    program = ""
    package = ""

    def __init__(self, directory: Path, *, startup_timeout: float = 30.0) -> None:
        self.directory = directory.resolve()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.program}.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _binary(self) -> str:
        found = shutil.which(self.program) or shutil.which(self.program, path="/usr/sbin:/usr/bin")
        if found is None:
            raise DaemonError(f"{self.program} is not installed: apt-get install -y {self.package}")
        return found

    def command(self) -> list[str]:
        raise NotImplementedError

    def ports(self) -> Sequence[int]:
        raise NotImplementedError

    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = self.command()
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.startup_timeout
        while not all(_listening(p) for p in self.ports()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise DaemonError(
                    f"{' '.join(command)} did not start listening on {list(self.ports())}:\n{tail}"
                )
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class Redis(_Daemon):
    """A throwaway redis-server: no persistence, loopback only."""

    program = "redis-server"
    package = "redis-server"

    def __init__(self, directory: Path, port: int | None = None) -> None:
        super().__init__(directory)
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [
            self._binary(),
            "--bind", HOST, "--port", str(self.port), "--dir", str(self.directory),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
        ]  # fmt: skip

    def ports(self) -> Sequence[int]:
        return [self.port]


class Nginx(_Daemon):
    """nginx as a round-robin HTTP load balancer: each listening port to its upstream ports."""

    program = "nginx"
    package = "nginx"

    def __init__(self, directory: Path, routes: Mapping[int, Sequence[int]]) -> None:
        super().__init__(directory)
        self.routes = dict(routes)

    def config(self) -> str:
        d = self.directory
        blocks = []
        for n, (listen, upstreams) in enumerate(self.routes.items()):
            servers = "".join(f"    server {HOST}:{p};\n" for p in upstreams)
            blocks.append(
                f"  upstream pool{n} {{\n{servers}    keepalive 32;\n  }}\n"
                f"  server {{\n    listen {HOST}:{listen};\n"
                "    location / {\n"
                f"      proxy_pass http://pool{n};\n"
                "      proxy_http_version 1.1;\n"
                # Prefect's clients and UI use websockets for events and logs.
                "      proxy_set_header Upgrade $http_upgrade;\n"
                '      proxy_set_header Connection "upgrade";\n'
                "      proxy_set_header Host $host;\n"
                "      proxy_read_timeout 3600s;\n"
                "    }\n  }\n"
            )
        temp = "".join(
            f"  {name}_temp_path {d / name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"worker_processes 1;\npid {d / 'nginx.pid'};\nerror_log {d / 'error.log'} warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n  access_log off;\n{temp}  client_max_body_size 50m;\n{''.join(blocks)}}}\n"
        )

    def command(self) -> list[str]:
        path = self.directory / "nginx.conf"
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_text(self.config(), encoding="utf-8")
        return [self._binary(), "-p", str(self.directory), "-c", str(path), "-g", "daemon off;"]

    def ports(self) -> Sequence[int]:
        return list(self.routes)
