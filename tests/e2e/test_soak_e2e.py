"""The fault soak: suggestions arrive and their steps are answered at a steady rate while, at random
moments, the executor, the API and the Prefect server are killed with SIGKILL and started again and
the SMTP and SMS sinks are stopped and started. Afterwards every suggestion has the outcome its
answers lead to, no step was applied twice, every e-mail reached the sink once (receivers dedupe on
the Message-ID: distinct ones are counted), and every flow run agrees with the database.

The suite runs a short one (JIANYI_SOAK_SECONDS, 30 by default); `make soak` a long one. It prints
its seed (JIANYI_SOAK_SEED replays it) and what it did and checked. PostgreSQL is not restarted yet.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Running, mail_kind
from databases import create_officials, fresh_database
from prefect.client.orchestration import PrefectClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from support import SCENARIOS, Scenario

from jianyi.db import make_engine
from jianyi.executor.reconciler import reconcile_runs
from jianyi.models import AuditEntry
from jianyi.runtime.system import System

PLAYED = [s for s in SCENARIOS if s.name in ("not_adopted", "complaint", "out_of_scope")]
FAULTS = ("executor", "api", "prefect", "smtp", "sms")
SECONDS = float(os.environ.get("JIANYI_SOAK_SECONDS") or "30")


class Case:
    """One suggestion and its script; its steps are found by kind (each kind once in these scripts)."""

    def __init__(self, scenario: Scenario, suggestion_id: int, email: str) -> None:
        self.scenario, self.suggestion_id, self.email = scenario, suggestion_id, email
        self.actions = {a.kind: a for a in scenario.actions}
        self.closed = False


def _answer(running: Running, case: Case) -> int:
    """Complete every open step of the case its script answers; how many were done now. A step a
    lost answer completed already (409) counts as done: the retry is the client's, as in life."""
    view = running.view(case.suggestion_id)
    if view["outcome"]:
        case.closed = True
        return 0
    done = 0
    for step in view["open_steps"]:
        action = case.actions.get(step["kind"])
        if step["state"] != "open" or action is None:
            continue
        try:
            running.complete(action.who, case.suggestion_id, step["id"], action.payload)
            done += 1
        except AssertionError as refused:
            if "409" not in str(refused) and "conflict" not in str(refused):
                raise
    return done


def _fault(system: System, name: str) -> None:
    """SIGKILL a process and start it again, or stop and start a sink."""
    if name == "executor":
        system.kill_executor()
        system.start_executor()
    elif name == "api":
        assert system.api is not None
        system.api.kill()
        system.api.wait(10)
        system.start_api()
    elif name == "prefect":
        assert system.prefect is not None
        system.prefect._kill()  # SIGKILL to its process group
        system.prefect.start()
    elif name == "smtp":
        system.sink.stop()
        time.sleep(1.0)
        system.sink.start()
    else:
        system.sms.stop()
        time.sleep(1.0)
        system.sms.start()


def _stuck(running: Running, case: Case) -> dict[str, Any]:
    """What a case that did not finish waits for, and its run's state (the failure's message)."""
    view = running.view(case.suggestion_id)
    run = httpx.get(f"{running.system.prefect_api_url}/flow_runs/{view['flow_run_id']}").json()
    state = run.get("state") or {}
    steps = [(s["kind"], s["state"]) for s in view["open_steps"]]
    return {
        "id": case.suggestion_id,
        "stage": view["stage"],
        "steps": steps,
        "run": (state.get("type"), state.get("name"), state.get("message")),
    }


def _tolerant(what: Any) -> Any:
    """A call that may meet a process being restarted: None instead of an error."""
    try:
        return what()
    except (httpx.HTTPError, AssertionError) as exc:
        if isinstance(exc, AssertionError) and not any(code in str(exc) for code in ("50", "connect")):
            raise
        return None


@pytest.mark.soak
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_soak_under_faults(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    seed = int(os.environ.get("JIANYI_SOAK_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    print(f"\nsoak ({backend}) seed {seed}", flush=True)
    url = fresh_database(request, backend, tmp_path)
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    users = create_officials(sessionmaker(bind=engine, expire_on_commit=False))
    system = System(
        tmp_path / "home",
        database_url=url,
        prefect_ui=False,
        extra_env={
            "JIANYI_DEPLOYMENT_NAME": "lifecycle-soak",
            "JIANYI_EXECUTOR_POLL_SECONDS": "0.2",
            "JIANYI_EXECUTOR_LEASE_SECONDS": "3",
            "JIANYI_DISPATCHER_POLL_SECONDS": "0.3",
            "JIANYI_REPORTS_SCHEDULED": "false",
        },
    )
    system.start_services()
    request.addfinalizer(system.stop)
    system.start_api()
    system.start_executor()
    running = Running(system, users, sessionmaker(bind=engine))
    running.http = httpx.Client(base_url=system.api_url, timeout=10)

    cases: list[Case] = []
    faults: Counter[str] = Counter()
    answered = 0
    end = time.monotonic() + SECONDS
    next_fault = time.monotonic() + rng.uniform(2, 6)
    n = 0
    while time.monotonic() < end:
        if rng.random() < 0.5:  # a suggestion arrives; a lost answer is sent again (same channel ref)
            scenario = PLAYED[n % len(PLAYED)]
            data = copy.deepcopy(scenario.suggestion)
            data["proposer"]["email"] = email = f"soak-{n}@example.com"
            data["channel_ref"] = f"soak-{n}"
            created = _tolerant(lambda d=data: running.submit(d))
            if created is not None:
                cases.append(Case(scenario, created["id"], email))
                n += 1
        for case in cases:
            if not case.closed:
                answered += _tolerant(lambda c=case: _answer(running, c)) or 0
        if time.monotonic() >= next_fault:
            fault = rng.choice(FAULTS)
            print(f"  {time.monotonic() - end + SECONDS:5.1f} s: {fault}", flush=True)
            _fault(system, fault)
            faults[fault] += 1
            next_fault = time.monotonic() + rng.uniform(2, 8)
        time.sleep(0.2)

    deadline = time.monotonic() + 120  # then every case goes to its end, nothing failing
    while not all(c.closed for c in cases):
        assert time.monotonic() < deadline, (
            seed,
            dict(faults),
            [_stuck(running, c) for c in cases if not c.closed],
        )
        answered += sum(_tolerant(lambda c=c: _answer(running, c)) or 0 for c in cases if not c.closed)
        time.sleep(0.2)

    for case in cases:
        view = running.view(case.suggestion_id)
        assert view["outcome"] == case.scenario.outcome.value, case.suggestion_id
        assert running.flow_run_end(view["flow_run_id"])["type"] == "COMPLETED", case.suggestion_id
    with running.sessions() as session:  # no step applied twice
        twice = session.execute(
            select(AuditEntry.step_id, func.count())
            .where(AuditEntry.action.in_(("step.applied", "step.lapsed")))
            .group_by(AuditEntry.step_id)
            .having(func.count() > 1)
        ).all()
        applied = session.scalar(
            select(func.count()).where(AuditEntry.action.in_(("step.applied", "step.lapsed")))
        )
    assert twice == []
    expected = sum(len(c.scenario.mails) for c in cases)

    def distinct() -> dict[str, Counter[str]]:
        seen: dict[str, dict[str, str]] = {}
        for message in system.sink.messages:
            seen.setdefault(str(message["To"]), {})[str(message["Message-ID"])] = mail_kind(message)
        return {to: Counter(kinds.values()) for to, kinds in seen.items()}

    running.wait_until(
        lambda: sum(sum(c.values()) for c in distinct().values()) >= expected, timeout=120, message="the mail"
    )
    mails = distinct()
    for case in cases:
        assert mails.get(case.email) == Counter(case.scenario.mails), case.suggestion_id

    async def reconcile() -> list[Any]:
        assert system.prefect_api_url is not None
        async with PrefectClient(system.prefect_api_url) as client:
            return await reconcile_runs(client, grace=timedelta(0), database_url=url)

    assert asyncio.run(reconcile()) == []
    print(
        f"\nsoak ({backend}) seed {seed}, {SECONDS:.0f} s: faults {dict(faults)}; {len(cases)} cases closed "
        f"with their outcomes, {applied} steps applied once each ({answered} answered by the driver), "
        f"{expected} e-mails each once ({len(system.sink.messages)} deliveries), flow runs agree"
    )
