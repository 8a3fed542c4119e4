"""The scale-out profile for real: PostgreSQL, Redis, two Prefect API replicas and Prefect's services
process behind nginx, two jianyi APIs and two executors; a suggestion goes through it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from jianyi.db import session_scope
from jianyi.migrate import upgrade
from jianyi.models import AuditEntry
from jianyi.models.enums import Role
from jianyi.rules.calendar import seed_from_chinese_calendar
from jianyi.runtime.scaleout import ScaleOut
from jianyi.services import auth
from jianyi.services.network import seed_network

SUGGESTION = {
    "title": "关于增设社区助餐点的建议",
    "content": "问题：老人就餐不便。建议：在社区增设助餐点。",
    "channel": "mailbox",
    "proposer": {"name": "张三", "email": "zhangsan@example.com"},
}


def _until(what: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s: {message}")


def test_a_suggestion_goes_through_the_scale_out_profile(tmp_path: Path) -> None:
    scale = ScaleOut(tmp_path / "scale-out", prefect_apis=2, apis=2, executors=2, ui=False, keep_data=False)
    try:
        system = scale.start_services()
        upgrade(system.database_url)
        with session_scope(system.database_url) as session:
            seed_network(session)
            seed_from_chinese_calendar(session, years=[2026, 2027])
            _user, token = auth.create_user(session, name="office", role=Role.office, unit_code="city-office")
        scale.start_apis()
        scale.start_executors()
        assert len(scale.pids()) == 2 + 1 + 2 + 2 + 2  # Prefect APIs, services, Redis+nginx, APIs, executors

        http = httpx.Client(base_url=system.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        created = http.post("/api/suggestions", json=SUGGESTION)
        assert created.status_code == 201, created.text
        suggestion_id = created.json()["id"]

        def open_kinds() -> list[str]:
            return [s["kind"] for s in http.get(f"/api/suggestions/{suggestion_id}").json()["open_steps"]]

        _until(lambda: "triage" in open_kinds(), 90, "the triage step")

        def suspended() -> bool:
            run_id = http.get(f"/api/suggestions/{suggestion_id}").json()["flow_run_id"]
            run = (
                httpx.get(f"{scale.prefect_api_url}/flow_runs/{run_id}", timeout=10).json() if run_id else {}
            )
            return bool((run.get("state") or {}).get("name") == "Suspended")

        # The triage step is open from intake on; its run's first attempt suspends at it.
        _until(suspended, 90, "the run suspended at triage")
        [triage] = http.get(f"/api/suggestions/{suggestion_id}").json()["open_steps"]
        done = http.post(
            f"/api/steps/{triage['id']}/complete",
            json={
                "kind": "suggestion",
                "category": "养老服务",
                "level": "general",
                "lead_unit": "city-civil-affairs",
            },
        )
        assert done.status_code == 200, done.text
        _until(lambda: "opinion" in open_kinds(), 90, "the opinion step after the resume")

        # Every Prefect replica sees the same run (one PostgreSQL), and the events the API replicas
        # received reached the services process through Redis, which persisted them.
        run_id = http.get(f"/api/suggestions/{suggestion_id}").json()["flow_run_id"]
        for server in scale.prefect_servers:
            run = httpx.get(f"{server.api_url}/flow_runs/{run_id}", timeout=10).json()
            assert run["state"]["name"] == "Suspended"

        def events() -> list[str]:
            found = httpx.post(
                f"{scale.prefect_api_url}/events/filter",
                json={"filter": {"resource": {"id": [f"prefect.flow-run.{run_id}"]}}, "limit": 50},
                timeout=10,
            ).json()
            return [e["event"] for e in found.get("events", [])]

        # Two attempts (the first, and the one the triage woke), each Running then Suspended.
        _until(
            lambda: events().count("prefect.flow-run.Suspended") >= 2,
            60,
            "the run's events in Prefect's database",
        )
        with session_scope(system.database_url) as session:
            applied = session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "step.applied")
            )
        assert applied == 1  # two executors, the triage applied once
    finally:
        scale.stop()
