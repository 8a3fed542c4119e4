"""The Prefect server down or forgetful: the executor started while the server restarts waits for it,
and a flow run Prefect no longer has (deleted, or lost with a Prefect database restored from before it)
is replaced by a new run, whether a step was submitted for it or an attempt of it was killed. Each
case then finishes, every step applied once. (The fault soak met the first: an executor started a
moment before a Prefect restart exited, and every case waited for good.)"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import httpx
import pytest
from conftest import Running, start_system
from sqlalchemy import func, select
from support import SCENARIOS, Play

from jianyi.models import AuditEntry
from jianyi.models.enums import StepKind
from jianyi.services import reconcile

NOT_ADOPTED = next(s for s in SCENARIOS if s.name == "not_adopted")


@pytest.fixture(scope="module")
def outage(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Running:
    """A system with a Prefect server of its own, its executor not started yet."""
    return start_system(request, None, "sqlite", tmp_path_factory.mktemp("outage"), executor=False)


def _executor_up(running: Running) -> None:
    """Each test starts from a running executor, whatever the one before left."""
    executor = running.system.executor
    if executor is None or executor.poll() is not None:
        running.system.start_executor()


def _submit(running: Running, ref: str) -> Play:
    data = copy.deepcopy(NOT_ADOPTED.suggestion)
    data["channel_ref"] = ref
    return Play(NOT_ADOPTED, running.submit(data)["id"])


def _finish(running: Running, play: Play) -> None:
    """Play the case to its end; every step applied once, its run Completed."""
    deadline = time.monotonic() + 120
    while not play.finished:
        assert time.monotonic() < deadline, f"stuck at {play.scenario.actions[play.position]}"
        if not play.step(running):
            time.sleep(0.2)
    view = running.wait_until(
        lambda: (v := running.view(play.suggestion_id))["outcome"] and v, message="the outcome"
    )
    assert view["outcome"] == NOT_ADOPTED.outcome.value
    assert running.flow_run_end(view["flow_run_id"])["type"] == "COMPLETED"
    with running.sessions() as session:
        applied = session.execute(
            select(AuditEntry.step_id, func.count())
            .where(AuditEntry.suggestion_id == play.suggestion_id, AuditEntry.action == "step.applied")
            .group_by(AuditEntry.step_id)
        ).all()
    assert len(applied) == len(NOT_ADOPTED.actions) and all(n == 1 for _, n in applied)


def _delete_run(running: Running, run_id: str) -> None:
    response = httpx.delete(f"{running.system.prefect_api_url}/flow_runs/{run_id}", timeout=30)
    assert response.status_code == 204, response.text


def _new_runs(running: Running, suggestion_id: int) -> list[str]:
    """The runs the case was given in place of a missing one (audited)."""
    with running.sessions() as session:
        details = session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.suggestion_id == suggestion_id, AuditEntry.action == reconcile.REPAIRED
            )
        ).all()
    return [d["flow_run_id"] for d in details if d["problem"] == "run_missing"]


def test_an_executor_started_while_prefect_is_down_waits_for_it(outage: Running) -> None:
    system = outage.system
    assert system.prefect is not None
    system.prefect._kill()  # SIGKILL: as in the soak, the server is down while the executor starts
    system.start_executor()
    log = system.home / "executor.log"
    outage.wait_until(
        lambda: (
            (system.executor is not None and system.executor.poll() is not None)
            or "cannot register the deployments yet" in log.read_text(errors="replace")
        ),
        timeout=90,
        message="the executor to try Prefect",
    )
    assert system.executor is not None and system.executor.poll() is None, log.read_text()[-3000:]
    system.prefect.start()
    play = _submit(outage, "outage-start")
    outage.wait_for_step(play.suggestion_id, StepKind.triage, timeout=90)
    _finish(outage, play)


def test_a_run_prefect_lost_with_a_step_submitted_gets_a_new_run(outage: Running) -> None:
    _executor_up(outage)
    play = _submit(outage, "outage-lost")
    outage.wait_for_step(play.suggestion_id, StepKind.triage, timeout=90)
    lost = outage.view(play.suggestion_id)["flow_run_id"]
    outage.system.kill_executor()  # nothing touches the run while it is lost
    _delete_run(outage, lost)
    assert play.step(outage)  # the triage is answered: it waits, submitted, for a run that is gone
    outage.system.start_executor()
    outage.wait_for_step(play.suggestion_id, StepKind.opinion, timeout=90)
    assert outage.view(play.suggestion_id)["flow_run_id"] != lost
    assert _new_runs(outage, play.suggestion_id) == [lost]
    _finish(outage, play)


def test_a_run_prefect_lost_under_a_killed_attempt_gets_a_new_run(outage: Running, tmp_path: Path) -> None:
    system = outage.system
    _executor_up(outage)
    play = _submit(outage, "outage-killed")
    outage.wait_for_step(play.suggestion_id, StepKind.triage, timeout=90)
    lost = outage.view(play.suggestion_id)["flow_run_id"]
    system.kill_executor()
    system.extra_env.update({"JIANYI_FAULT_POINT": "advance.after_commit", "JIANYI_FAULT_DIR": str(tmp_path)})
    system.start_executor()
    assert play.step(outage)
    outage.wait_until((tmp_path / f"advance.after_commit-{play.suggestion_id}").exists, timeout=60)
    system.kill_executor()  # the triage applied, the run left Running, its claim held by the dead
    _delete_run(outage, lost)
    del system.extra_env["JIANYI_FAULT_POINT"]
    system.start_executor()
    outage.wait_for_step(play.suggestion_id, StepKind.opinion, timeout=90)
    assert _new_runs(outage, play.suggestion_id) == [lost]
    _finish(outage, play)


def test_a_run_created_but_not_recorded_is_recorded_by_its_first_attempt(
    outage: Running, tmp_path: Path
) -> None:
    """The start created the run in Prefect but did not record it (the database restarting), and the
    run's first attempt closed the case before the start was tried again (a closed case is not):
    the soak on PostgreSQL met a closed case with no run. The first attempt's claim records it."""
    system = outage.system
    system.kill_executor()
    system.extra_env.update({"JIANYI_FAULT_POINT": "start.after_create", "JIANYI_FAULT_DIR": str(tmp_path)})
    system.start_executor()
    complaint = next(s for s in SCENARIOS if s.name == "complaint")
    data = copy.deepcopy(complaint.suggestion)
    data["channel_ref"] = "outage-unrecorded"
    play = Play(complaint, outage.submit(data)["id"])
    assert play.step(outage)  # the triage (open from intake) answered before the run exists
    outage.wait_until((tmp_path / f"start.after_create-{play.suggestion_id}").exists, timeout=90)
    view = outage.wait_until(
        lambda: (v := outage.view(play.suggestion_id))["outcome"] and v, timeout=90, message="closed"
    )
    assert view["flow_run_id"] is not None  # recorded while the start is still halted
    assert outage.flow_run_end(view["flow_run_id"])["type"] == "COMPLETED"
    system.kill_executor()
    del system.extra_env["JIANYI_FAULT_POINT"]
    system.start_executor()
