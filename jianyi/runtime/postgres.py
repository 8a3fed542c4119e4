"""A throwaway PostgreSQL cluster on 127.0.0.1, for tests and production-like local runs.

It uses the server binaries Debian's `postgresql` package installs under
/usr/lib/postgresql/<version>/bin; nothing is downloaded.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import psycopg
from psycopg import sql

from jianyi.runtime.ports import free_port

HOST = "127.0.0.1"
SUPERUSER = "postgres"
POSTGRES_ROOT = Path("/usr/lib/postgresql")
_DRIVERS = ("psycopg", "asyncpg")
# Unix socket paths are limited to 107 bytes; leave room for "/.s.PGSQL.NNNNN".
_MAX_SOCKET_DIR = 80

# Durability is worthless for a throwaway cluster; these make it several times faster.
_CONFIG = """
# --- jianyi.runtime.postgres ---
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""


class PostgresError(RuntimeError):
    """initdb or pg_ctl failed; the message carries their output or the server log's tail."""


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); "9.6" -> (9, 6). Sorting as text would put 9 after 15.
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name))


def find_bin_dir() -> Path:
    """The bin/ directory of the newest installed PostgreSQL server that has initdb and pg_ctl."""
    candidates = [
        d for d in POSTGRES_ROOT.glob("*/bin") if (d / "initdb").is_file() and (d / "pg_ctl").is_file()
    ]
    if not candidates:
        raise PostgresNotInstalled(
            f"No PostgreSQL server binaries under {POSTGRES_ROOT}/*/bin (initdb, pg_ctl). "
            "Install them with: apt-get update && apt-get install -y postgresql"
        )
    return max(candidates, key=_version_key)


class TemporaryPostgres:
    """initdb + pg_ctl in a directory of its own; trust auth for the `postgres` superuser.

    With no `directory`, a fresh one under the system temp dir is made. `stop()` removes
    the directory unless `remove_on_stop=False`; a kept directory is reused by the next
    `start()` without initdb.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        port: int | None = None,
        *,
        bin_dir: Path | str | None = None,
        remove_on_stop: bool = True,
        startup_timeout: int = 60,
    ) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir is not None else find_bin_dir()
        self._given_directory = Path(directory).resolve() if directory is not None else None
        self.port = port if port is not None else free_port()
        self.remove_on_stop = remove_on_stop
        self.startup_timeout = startup_timeout
        self.directory: Path | None = self._given_directory
        self._extra_socket_dir: Path | None = None
        self._running = False
        self._prepared = False  # only ever remove a directory that start() prepared

    # -- paths and addresses -------------------------------------------------------

    def _dir(self) -> Path:
        if self.directory is None:
            raise PostgresError("the cluster has not been started")
        return self.directory

    @property
    def data_dir(self) -> Path:
        return self._dir() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._extra_socket_dir or self._dir() / "socket"

    @property
    def log_path(self) -> Path:
        return self._dir() / "postgres.log"

    def url_for(self, name: str, driver: str = "psycopg") -> str:
        """SQLAlchemy URL of database `name`: driver "psycopg" for jianyi, "asyncpg" for Prefect."""
        if driver not in _DRIVERS:
            raise ValueError(f"driver must be one of {_DRIVERS}, got {driver!r}")
        return f"postgresql+{driver}://{SUPERUSER}@{HOST}:{self.port}/{name}"

    def dsn(self, name: str = "postgres") -> str:
        """libpq connection string, for psycopg.connect or psql."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{name}"

    # -- running the server binaries -----------------------------------------------

    def _as_owner(self, args: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root, and CI and the dev machines run as root:
        # run it as the `postgres` OS user that Debian's package creates.
        if os.geteuid() == 0:
            return ["runuser", "-u", SUPERUSER, "--", *args]
        return args

    def _run(self, args: list[str], what: str) -> None:
        result = subprocess.run(
            self._as_owner(args),
            cwd=self._dir(),  # a cwd the postgres user can read, so initdb doesn't warn
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(
                f"{what} failed (exit {result.returncode}): {' '.join(args)}\n"
                f"{result.stdout}{result.stderr}{self._log_tail()}"
            )

    def _prepare_directory(self) -> None:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="jianyi-pg-"))
        self._prepared = True
        self.directory.mkdir(parents=True, exist_ok=True)
        if len(str(self._dir() / "socket")) > _MAX_SOCKET_DIR:
            self._extra_socket_dir = Path(tempfile.mkdtemp(prefix="jianyi-pgsock-"))
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(SUPERUSER)
            except KeyError as exc:
                raise PostgresNotInstalled(
                    f"running as root but there is no {SUPERUSER!r} OS user to run PostgreSQL as"
                ) from exc
            # Only these two: everything inside is created by the postgres user itself.
            for path in (self._dir(), self.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            # A directory under a root-only parent (pytest's tmp_path is under a 0700
            # dir) cannot be reached by the postgres user however it is owned.
            probe = subprocess.run(self._as_owner(["test", "-w", str(self._dir())]), check=False)
            if probe.returncode != 0:
                raise PostgresError(
                    f"the {SUPERUSER!r} OS user cannot write {self._dir()}: a parent directory "
                    "is not searchable by it; pick a directory elsewhere (the default is fine)"
                )

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return  # a kept cluster: reuse it
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D", str(self.data_dir),
                "-A", "trust",
                "-U", SUPERUSER,
                "-E", "UTF8",
                "--locale=C",  # always present, unlike xx_XX.UTF-8 locales on a bare machine
                "--no-sync",
            ],
            "initdb",
        )  # fmt: skip
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(_CONFIG)

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        """initdb if needed, then start the server and wait until it accepts connections."""
        if self._running:
            return self
        try:
            self._prepare_directory()
            self._initdb()
            self._pg_ctl_start()
        except BaseException:
            self.stop()  # removes what it made, unless kept; the error carries the log
            raise
        self._running = True
        atexit.register(self.stop)  # don't leave a postmaster behind if the caller forgets
        return self

    def _pg_ctl_start(self) -> None:
        # Port and socket dir go on the command line, not in postgresql.conf, so that a
        # kept cluster can be started again on another free port.
        options = f"-p {self.port} -k '{self.socket_dir}'"
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "start", "-w",
                "-t", str(self.startup_timeout),
                "-D", str(self.data_dir),
                "-l", str(self.log_path),
                "-o", options,
            ],
            "pg_ctl start",
        )  # fmt: skip

    def stop(self) -> None:
        """Fast shutdown (disconnects clients), then remove the directory unless kept."""
        if self.directory is None or not self._prepared:
            return
        atexit.unregister(self.stop)
        self._running = False
        # postmaster.pid also covers a start that timed out while the server came up.
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(PostgresError):  # already gone: nothing to stop
                self._run(
                    [str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)],
                    "pg_ctl stop",
                )
        if self._extra_socket_dir is not None:
            shutil.rmtree(self._extra_socket_dir, ignore_errors=True)
            self._extra_socket_dir = None
        if self.remove_on_stop:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = self._given_directory
            self._prepared = False

    def restart(self, *, mode: Literal["fast", "immediate"] = "fast", down: float = 0.0) -> None:
        """Stop the server, ``fast`` (clients disconnected, a checkpoint) or ``immediate`` (as a
        crash: recovery from the WAL at start), stay down ``down`` seconds, start it on the same port."""
        self._run(
            [str(self.bin_dir / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data_dir)], "pg_ctl stop"
        )
        time.sleep(down)
        self._pg_ctl_start()

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` (if missing); returns its psycopg SQLAlchemy URL."""
        # CREATE DATABASE cannot run inside a transaction block, hence autocommit.
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def _log_tail(self, lines: int = 30) -> str:
        if self.directory is None:
            return ""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, PermissionError):
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"\n--- last {lines} lines of {self.log_path} ---\n{tail}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
