"""The scale-out profile: Prefect's documented multi-server layout, plus several of our own processes.

When one machine's single server is outgrown, Prefect documents this shape: PostgreSQL for its
database, Redis for the events between its processes, several API replicas behind a load balancer,
and the background services in a process of their own. jianyi adds its own replicas beside it:
several API processes (behind the same load balancer) and several executors, which already share
work safely through the application database (run claims, ``SKIP LOCKED`` sweeps, outbox claims).

Here every piece runs on 127.0.0.1 on one machine, so the profile can be started, measured and shown
(``jianyi up --scale-out``); in production each piece goes to its own host, and only the URLs change.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from jianyi.runtime.daemons import HOST, Nginx, Redis
from jianyi.runtime.ports import free_port
from jianyi.runtime.postgres import TemporaryPostgres
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.runtime.system import System


class ScaleOut:
    def __init__(
        self,
        home: Path,
        *,
        prefect_apis: int = 2,
        apis: int = 2,
        executors: int = 2,
        port: int | None = None,
        prefect_port: int | None = None,
        ui: bool = True,
        keep_data: bool = True,
    ) -> None:
        """``keep_data``: PostgreSQL's data under ``home`` survives a stop (``jianyi up``); without,
        a throwaway cluster in the system's temp directory (tests, benchmarks)."""
        if min(prefect_apis, apis, executors) < 1:
            raise ValueError("at least one Prefect API, one jianyi API and one executor")
        self.home = home.resolve()
        self.port = port or free_port()  # jianyi's API, through the load balancer
        self.prefect_port = prefect_port or free_port()  # Prefect's API and UI, through the load balancer
        self.postgres = (
            TemporaryPostgres(self.home / "postgres", remove_on_stop=False)
            if keep_data
            else TemporaryPostgres(remove_on_stop=True)
        )
        self.redis = Redis(self.home / "redis")
        self.prefect_servers = [
            PrefectServer(self.home / f"prefect-api-{n}", role="api", ui=ui)
            for n in range(1, prefect_apis + 1)
        ]
        self.prefect_services = PrefectServer(self.home / "prefect-services", role="services")
        self.api_ports = [free_port() for _ in range(apis)]
        self.executor_count = executors
        self.balancer = Nginx(
            self.home / "nginx",
            {self.prefect_port: [s.port for s in self.prefect_servers], self.port: self.api_ports},
        )
        self.system: System | None = None
        self.apis: list[subprocess.Popen[bytes]] = []
        self.executors: list[subprocess.Popen[bytes]] = []

    @property
    def prefect_api_url(self) -> str:
        return f"http://{HOST}:{self.prefect_port}/api"

    def _prefect_env(self) -> dict[str, str]:
        """Prefect's settings for several server processes sharing one database (its scaling guide)."""
        return {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.postgres.url_for("prefect", "asyncpg"),
            "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
            "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
            "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
            "PREFECT_REDIS_MESSAGING_URL": f"{self.redis.url}/0",
            "PREFECT_SERVER_DOCKET_URL": f"{self.redis.url}/1",
            "PREFECT_UI_API_URL": self.prefect_api_url,  # the UI talks to the balancer, not its replica
        }

    def start_services(self) -> System:
        """PostgreSQL, Redis, the Prefect servers and services, the load balancer, the SMTP/SMS sinks."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.postgres.start()
        self.postgres.create_database("prefect")
        app_url = self.postgres.create_database("jianyi")
        self.redis.start()
        env = self._prefect_env()
        for n, server in enumerate(self.prefect_servers):
            # The first replica migrates Prefect's schema; the others must not race it.
            server.extra_env.update(
                env | ({} if n == 0 else {"PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false"})
            )
            server.database_url = env["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
            server.start()
        self.prefect_services.extra_env.update(env)
        self.prefect_services.database_url = env["PREFECT_SERVER_DATABASE_CONNECTION_URL"]
        self.prefect_services.start()
        self.balancer.start()
        self.system = System(
            self.home, api_port=self.port, prefect_api_url=self.prefect_api_url, database_url=app_url
        )
        self.system.start_services()  # the sinks; Prefect is ours, not the System's
        return self.system

    def start_apis(self, timeout: float = 60) -> None:
        assert self.system is not None, "start_services first"
        for n, port in enumerate(self.api_ports, start=1):
            self.apis.append(self.system.spawn("api", f"api-{n}.log", {"JIANYI_PORT": str(port)}))
        deadline = time.monotonic() + timeout
        for port, process in zip(self.api_ports, self.apis, strict=True):
            while not _healthy(f"http://{HOST}:{port}/api/health"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API on port {port} did not start; see {self.home}/api-*.log")
                time.sleep(0.2)

    def start_executors(self) -> None:
        assert self.system is not None, "start_services first"
        for n in range(1, self.executor_count + 1):
            # PostgreSQL takes concurrent writers: no limit on an executor's writes to Prefect.
            env = {"JIANYI_EXECUTOR_PREFECT_WRITES": "0"}
            self.executors.append(self.system.spawn("executor", f"executor-{n}.log", env))

    def pids(self) -> dict[str, int]:
        """Every process of the profile by role, for measuring what each costs."""
        found: dict[str, int | None] = {
            **{f"prefect-api-{n}": s.pid for n, s in enumerate(self.prefect_servers, start=1)},
            "prefect-services": self.prefect_services.pid,
            "redis": self.redis.pid,
            "nginx": self.balancer.pid,
            **{f"api-{n}": p.pid for n, p in enumerate(self.apis, start=1)},
            **{f"executor-{n}": p.pid for n, p in enumerate(self.executors, start=1)},
        }
        return {name: pid for name, pid in found.items() if pid is not None}

    def stop(self) -> None:
        for process in [*self.executors, *self.apis]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.executors, *self.apis]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.executors, self.apis = [], []
        if self.system is not None:
            self.system.stop()
        self.balancer.stop()
        self.prefect_services.stop()
        for server in self.prefect_servers:
            server.stop()
        self.redis.stop()
        self.postgres.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
