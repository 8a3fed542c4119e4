"""The rules' scheduler on the running system: one e-mail per rung at the real SMTP server as the
clock jumps (jianyi supervision sweep --now), and a supervision order answered through the API."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

from conftest import Running
from sqlalchemy import select
from support import SUGGESTION, triage

from jianyi.models import Step, StepTimer
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.services import auth


def _sweep(running: Running, at: str) -> None:
    # Sweeping ahead of the real clock is an administrator's (or a city supervisor's) act.
    env = {**os.environ, **running.system.env(), "JIANYI_TOKEN": running.users.tokens["admin"]}
    done = subprocess.run(
        [sys.executable, "-m", "jianyi", "supervision", "sweep", "--now", at],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_every_rung_sends_one_mail_and_an_order_is_answered(running: Running) -> None:
    with running.sessions() as session:
        _handler, handler_token = auth.create_user(
            session,
            name="赵经办",
            role=Role.department,
            unit_code="city-transport",
            email="zhao@transport.example",
        )
        auth.create_user(
            session,
            name="钱处长",
            role=Role.department,
            unit_code="city-transport",
            email="qian@transport.example",
            head=True,
        )
        session.commit()
    data = copy.deepcopy(SUGGESTION)
    data["channel_ref"] = "supervision-1"
    created = running.submit(data)
    triage_id = running.wait_for_step(created["id"], StepKind.triage)
    running.complete("office", created["id"], triage_id, triage())
    opinion_id = running.wait_for_step(created["id"], StepKind.opinion)
    with running.sessions() as session:
        timers = session.scalars(
            select(StepTimer).where(StepTimer.step_id == opinion_id).order_by(StepTimer.fire_at)
        ).all()
    assert len(timers) == 5

    for timer in timers:  # the clock jumps past each rung in turn; each sweep runs twice
        at = (timer.fire_at + timedelta(seconds=1)).isoformat()
        _sweep(running, at)
        _sweep(running, at)

    def to(address: str) -> list[str]:
        return [str(m["Subject"]).split("】")[0] + "】" for m in running.mails_to(address)]

    running.wait_until(
        lambda: len(to("zhao@transport.example")) >= 3 and len(to("qian@transport.example")) >= 2,
        timeout=60,
        message="supervision mails",
    )
    time.sleep(1.5)  # a second copy would arrive now
    assert Counter(to("zhao@transport.example")) == Counter({"【提醒】": 2, "【督办单】": 1})
    assert Counter(to("qian@transport.example")) == Counter({"【告知】": 1, "【督办单】": 1})
    view = running.view(created["id"])
    assert any(s["kind"] == "supervision_order" for s in view["open_steps"])

    # The unit answers the supervision order through the API; the flow applies it, the case goes on.
    order_id = next(s["id"] for s in view["open_steps"] if s["kind"] == "supervision_order")
    answer = {"response": "已加快办理", "measures": "专人负责", "expected_completion": "2027-01-15"}
    response = running.http.post(
        f"/api/steps/{order_id}/complete", json=answer, headers={"Authorization": f"Bearer {handler_token}"}
    )
    assert response.status_code == 200, response.text

    def applied() -> bool:
        with running.sessions() as session:
            step = session.get(Step, order_id)
            return step is not None and step.state is StepState.completed

    running.wait_until(applied, timeout=60, message="the supervision order's answer applied by the flow")
    assert any(s["kind"] == "opinion" for s in running.view(created["id"])["open_steps"])
