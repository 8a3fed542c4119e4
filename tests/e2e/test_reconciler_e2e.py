"""The reconciler against a running system: flow runs made to disagree with the database through
Prefect's API (as a person in the UI, or a restored Prefect database, would) are repaired, one that
keeps failing is reported to the office, and every case then finishes."""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import timedelta
from typing import Any

import httpx
from conftest import Running
from prefect.client.orchestration import PrefectClient
from sqlalchemy import select, update
from support import SCENARIOS, Play

from jianyi.executor.reconciler import Finding, reconcile_runs
from jianyi.models import AuditEntry, User
from jianyi.models.enums import StepKind
from jianyi.services import reconcile

NOT_ADOPTED = next(s for s in SCENARIOS if s.name == "not_adopted")
OFFICE_MAIL = "office-reconcile@example.com"


def _reconcile(running: Running) -> dict[int, tuple[str, bool]]:
    async def once() -> list[Finding]:
        assert running.system.prefect_api_url is not None
        async with PrefectClient(running.system.prefect_api_url) as client:
            return await reconcile_runs(client, grace=timedelta(0), database_url=running.system.database_url)

    return {f.suggestion_id: (f.problem, f.repaired) for f in asyncio.run(once())}


def _set_state(running: Running, run_id: str, state: dict[str, Any]) -> None:
    response = httpx.post(
        f"{running.system.prefect_api_url}/flow_runs/{run_id}/set_state",
        json={"state": state, "force": True},
        timeout=30,
    )
    assert response.status_code in (200, 201), response.text


def test_disagreeing_runs_are_repaired_or_reported_and_every_case_finishes(running: Running) -> None:
    with running.sessions() as session:  # the office has an address: reports reach it
        session.execute(update(User).where(User.name == "市征集办 王处长").values(email=OFFICE_MAIL))
        session.commit()
    plays = []
    for n in range(4):
        data = copy.deepcopy(NOT_ADOPTED.suggestion)
        data["channel_ref"] = f"reconcile-{n}"
        plays.append(Play(NOT_ADOPTED, running.submit(data)["id"]))
    runs = {}
    for play in plays:
        running.wait_for_step(play.suggestion_id, StepKind.triage)
        runs[play.suggestion_id] = running.view(play.suggestion_id)["flow_run_id"]
    ended, missing, stale, failing = (p.suggestion_id for p in plays)
    assert _reconcile(running) == {}  # all agree

    running.system.kill_executor()  # nothing else touches the runs while they are made to disagree
    _set_state(running, runs[ended], {"type": "COMPLETED", "name": "Completed"})
    assert httpx.delete(f"{running.system.prefect_api_url}/flow_runs/{runs[missing]}").status_code == 204
    suspended = {
        "type": "PAUSED",
        "name": "Suspended",
        "state_details": {"pause_key": "w-stale", "pause_reschedule": True},
    }
    _set_state(running, runs[stale], suspended)
    _set_state(running, runs[failing], {"type": "FAILED", "name": "Failed"})
    assert _reconcile(running) == {
        ended: ("finished_while_open", True),
        missing: ("run_missing", True),
        stale: ("stale_key", True),
        failing: ("failed", True),
    }
    _set_state(running, runs[failing], {"type": "FAILED", "name": "Failed"})  # it fails again
    assert _reconcile(running) == {failing: ("failed", False)}
    with running.sessions() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.in_((reconcile.REPAIRED, reconcile.REPORTED)))
        ).all()
        assert sorted(actions) == sorted([reconcile.REPAIRED] * 4 + [reconcile.REPORTED])

    running.system.start_executor()
    running.wait_until(lambda: running.mails_to(OFFICE_MAIL), message="the report to the office")
    assert len(running.mails_to(OFFICE_MAIL)) == 1
    for play in plays:  # a new run for the missing one; the failed one is re-run by its next step
        if play.suggestion_id != failing:
            running.wait_for_step(play.suggestion_id, StepKind.triage)
    assert running.view(missing)["flow_run_id"] != runs[missing]
    deadline = time.monotonic() + 180
    while not all(p.finished for p in plays):
        assert time.monotonic() < deadline, [(p.suggestion_id, p.position) for p in plays]
        if not any(p.step(running) for p in plays):
            time.sleep(0.2)
    for play in plays:
        view = running.wait_until(
            lambda p=play: (v := running.view(p.suggestion_id))["outcome"] and v, message="outcome"
        )
        assert running.flow_run_end(view["flow_run_id"])["type"] == "COMPLETED"
    assert _reconcile(running) == {}
