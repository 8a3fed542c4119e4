"""End-to-end fixtures: a real Prefect server, and per system a real API and executor (child
processes), a real SMTP server on 127.0.0.1, and an application database on SQLite or PostgreSQL."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from databases import Users, create_officials, fresh_database
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION, OpenStep

from jianyi.db import make_engine
from jianyi.models.enums import StepKind
from jianyi.runtime.prefect_server import PrefectServer
from jianyi.runtime.system import System

_systems = itertools.count()
MAIL_KINDS_BY_SUBJECT = {
    "已收到您的建议": "acknowledgement",
    "您的建议已有答复": "reply",
    "您的建议办理结果": "outcome",
    "您的建议已与同类建议合并办理": "merged",
    "您的诉求已转投诉求决渠道办理": "redirected",
    "您的建议入选": "commendation",
}


def mail_kind(message: EmailMessage) -> str:
    subject = str(message["Subject"])
    return next(kind for prefix, kind in MAIL_KINDS_BY_SUBJECT.items() if subject.startswith(prefix))


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    server = PrefectServer(tmp_path_factory.mktemp("prefect"), ui=False).start()
    yield server
    server.stop()


class Running:
    """A started system and the ways a test talks to it."""

    def __init__(self, system: System, users: Users, sessions: sessionmaker[Session]) -> None:
        self.system = system
        self.users = users
        self.sessions = sessions
        self.http = httpx.Client(base_url=system.api_url, timeout=30)
        self.codes: dict[int, tuple[str, str]] = {}  # suggestion id → (tracking code, check code)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.users.tokens[who]}"}

    def submit(self, data: dict[str, Any] | None = None, who: str = "office") -> dict[str, Any]:
        response = self.http.post("/api/suggestions", json=data or SUGGESTION, headers=self.headers(who))
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        if body["check_code"]:
            self.codes[body["id"]] = (body["tracking_code"], body["check_code"])
        return body

    def view(self, suggestion_id: int, who: str = "office") -> dict[str, Any]:
        response = self.http.get(f"/api/suggestions/{suggestion_id}", headers=self.headers(who))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # The Driver protocol of tests/support.py, through the HTTP API.
    def open_steps(self, suggestion_id: int) -> list[OpenStep]:
        return [
            OpenStep(s["id"], StepKind(s["kind"]), frozenset({s["unit"], s["alt_unit"]}))
            for s in self.view(suggestion_id)["open_steps"]
            if s["state"] == "open"
        ]

    def complete(self, who: str, suggestion_id: int, step_id: int, payload: dict[str, Any] | None) -> None:
        if who == "proposer":
            code, check = self.codes[suggestion_id]
            response = self.http.post(f"/api/track/{code}/rating", params={"check": check}, json=payload)
        elif payload is None:
            response = self.http.post(f"/api/steps/{step_id}/lapse", headers=self.headers(who))
        else:
            response = self.http.post(
                f"/api/steps/{step_id}/complete", json=payload, headers=self.headers(who)
            )
        assert response.status_code == 200, response.text

    def wait_until(self, what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
        """Poll until ``what`` gives something truthy (the executor works asynchronously)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = what()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s: {message}")

    def flow_run_end(self, flow_run_id: str, timeout: float = 30) -> dict[str, Any]:
        """The flow run's final state. The case closes in the last task's transaction; the run itself
        reaches Completed a moment later, once the flow function returns and Prefect records it."""

        def final() -> dict[str, Any] | None:
            assert self.system.prefect_api_url is not None
            state: dict[str, Any] = httpx.get(
                f"{self.system.prefect_api_url}/flow_runs/{flow_run_id}"
            ).json()["state"]
            return state if state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} else None

        state: dict[str, Any] = self.wait_until(
            final, timeout=timeout, message=f"flow run {flow_run_id} to end"
        )
        return state

    def wait_for_step(self, suggestion_id: int, kind: StepKind, timeout: float = 60) -> int:
        """Until the step is open and the suggestion's flow run waits (a triage step is open from
        intake on, before its run has started)."""

        def find() -> int | None:
            step = next((s.id for s in self.open_steps(suggestion_id) if s.kind is kind), None)
            return step if step is not None and self.run_waits(suggestion_id) else None

        step_id: int = self.wait_until(find, timeout, f"{kind.value} of suggestion {suggestion_id}")
        return step_id

    def run_waits(self, suggestion_id: int) -> bool:
        """The suggestion's flow run exists and is suspended in Prefect."""
        run_id = self.view(suggestion_id)["flow_run_id"]
        if not run_id:
            return False
        assert self.system.prefect_api_url is not None
        state = httpx.get(f"{self.system.prefect_api_url}/flow_runs/{run_id}").json().get("state") or {}
        return bool(state.get("type") == "PAUSED")

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.system.sink.messages if m["To"] == address]


def start_system(
    request: pytest.FixtureRequest,
    prefect: PrefectServer | None,
    backend: str,
    home: Path,
    *,
    database_url: str | None = None,
    executor: bool = True,
    **env: str,
) -> Running:
    """A system on the shared Prefect server, or with ``prefect=None`` one of its own (to kill and
    restart); on a fresh database of ``backend``, or on ``database_url``. ``executor=False``: the
    caller starts the executor."""
    number = next(_systems)
    url = database_url or fresh_database(request, backend, home)
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    users = create_officials(sessions)
    system = System(
        home,
        prefect_api_url=prefect.api_url if prefect is not None else None,
        prefect_ui=False,
        database_url=url,
        extra_env={
            # Each system its own deployment: systems sharing the Prefect server never run each other's runs.
            "JIANYI_DEPLOYMENT_NAME": f"lifecycle-test-{number}",
            "JIANYI_EXECUTOR_POLL_SECONDS": "0.2",
            "JIANYI_EXECUTOR_LEASE_SECONDS": "3",
            "JIANYI_DISPATCHER_POLL_SECONDS": "0.3",
            **env,
        },
    )
    system.start_services()
    request.addfinalizer(system.stop)
    system.start_api()
    if executor:
        system.start_executor()
    return Running(system, users, sessions)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(
    request: pytest.FixtureRequest, prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Running:
    return start_system(
        request, prefect_server, request.param, tmp_path_factory.mktemp(f"system-{request.param}")
    )
