"""Nothing is lost and nothing happens twice: the executor killed mid-step, the SMTP server down."""

from __future__ import annotations

import copy
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import Running, mail_kind, start_system
from sqlalchemy import func, select
from support import SCENARIOS, Play

from jianyi.models import AuditEntry, OutboxMessage
from jianyi.models.enums import OutboxState, StepKind
from jianyi.runtime.prefect_server import PrefectServer

NOT_ADOPTED = next(s for s in SCENARIOS if s.name == "not_adopted")


@pytest.fixture(scope="module")
def crashing(
    request: pytest.FixtureRequest, prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Running:
    return start_system(request, prefect_server, "sqlite", tmp_path_factory.mktemp("crash"))


def _restart_executor(running: Running, fault_point: str | None) -> Path:
    faults = running.system.home / "faults"
    running.system.kill_executor()
    running.system.extra_env.pop("JIANYI_FAULT_POINT", None)
    if fault_point:
        running.system.extra_env.update({"JIANYI_FAULT_POINT": fault_point, "JIANYI_FAULT_DIR": str(faults)})
    running.system.start_executor()
    return faults


def _kill_at(running: Running, marker: Path) -> None:
    running.wait_until(marker.exists, timeout=60, message=f"the executor to reach {marker.name}")
    running.system.kill_executor()  # SIGKILL inside the attempt: no cleanup, no graceful end


def _play_to_end(running: Running, play: Play) -> None:
    deadline = time.monotonic() + 120
    while not play.finished:
        assert time.monotonic() < deadline, f"stuck at {play.scenario.actions[play.position]}"
        if not play.step(running):
            time.sleep(0.2)


def test_executor_killed_mid_step_loses_nothing_and_repeats_nothing(
    crashing: Running,
) -> None:
    running = crashing
    data = copy.deepcopy(NOT_ADOPTED.suggestion)
    data["proposer"]["email"] = "crash@example.com"
    data["channel_ref"] = "crash-1"
    suggestion_id = running.submit(data)["id"]
    triage_id = running.wait_for_step(suggestion_id, StepKind.triage)

    # 1. Killed while applying the triage, before its transaction commits: the change is rolled back.
    faults = _restart_executor(running, "advance.before_commit")
    play = Play(NOT_ADOPTED, suggestion_id)
    assert play.step(running)  # the triage is submitted
    _kill_at(running, faults / f"advance.before_commit-{suggestion_id}")

    # 2. Restarted; killed again after the commit but before the run could suspend.
    _restart_executor(running, "advance.after_commit")
    _kill_at(running, faults / f"advance.after_commit-{suggestion_id}")

    # 3. Restarted for good: the silent executor's run is recovered and the case goes on.
    _restart_executor(running, None)
    running.wait_for_step(suggestion_id, StepKind.opinion, timeout=90)
    _play_to_end(running, play)
    view = running.wait_until(lambda: (v := running.view(suggestion_id))["outcome"] and v, message="closed")
    assert view["outcome"] == "not_adopted"
    assert running.flow_run_end(view["flow_run_id"])["type"] == "COMPLETED"

    with running.sessions() as session:
        applied = session.execute(
            select(AuditEntry.step_id, func.count())
            .where(AuditEntry.suggestion_id == suggestion_id, AuditEntry.action == "step.applied")
            .group_by(AuditEntry.step_id)
        ).all()
        recovered = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "step.submitted")
        )
    assert len(applied) == len(NOT_ADOPTED.actions) and all(n == 1 for _, n in applied)
    assert triage_id in {step_id for step_id, _ in applied}
    assert recovered is not None and recovered >= len(NOT_ADOPTED.actions)

    running.system.sink.wait_for(len(running.system.sink.messages) or 1, timeout=5)
    running.wait_until(lambda: len(running.mails_to("crash@example.com")) >= 3, timeout=30, message="mails")
    time.sleep(1.0)
    kinds = [mail_kind(m) for m in running.mails_to("crash@example.com")]
    assert Counter(kinds) == Counter(NOT_ADOPTED.mails)


def test_smtp_down_loses_nothing_and_sends_nothing_twice(crashing: Running) -> None:
    running = crashing
    running.system.sink.stop()
    data = copy.deepcopy(NOT_ADOPTED.suggestion)
    data["proposer"]["email"] = "smtp-down@example.com"
    data["channel_ref"] = "smtp-down-1"
    suggestion_id = running.submit(data)["id"]
    play = Play(NOT_ADOPTED, suggestion_id)
    _play_to_end(running, play)
    running.wait_until(lambda: running.view(suggestion_id)["outcome"], message="closed while SMTP is down")

    def failed_attempts() -> bool:
        with running.sessions() as session:
            messages = session.scalars(
                select(OutboxMessage).where(OutboxMessage.to_addr == "smtp-down@example.com")
            ).all()
        return len(messages) == 3 and all(
            m.attempts >= 1 and m.state is OutboxState.pending for m in messages
        )

    running.wait_until(failed_attempts, timeout=30, message="the dispatcher to try and fail")
    running.system.sink.start()  # back on the same port
    running.wait_until(
        lambda: len(running.mails_to("smtp-down@example.com")) >= 3,
        timeout=90,
        message="delivery after recovery",
    )
    time.sleep(2.0)
    kinds = [mail_kind(m) for m in running.mails_to("smtp-down@example.com")]
    assert Counter(kinds) == Counter(NOT_ADOPTED.mails)
    with running.sessions() as session:
        states = session.scalars(
            select(OutboxMessage.state).where(OutboxMessage.to_addr == "smtp-down@example.com")
        ).all()
    assert set(states) == {OutboxState.sent}
