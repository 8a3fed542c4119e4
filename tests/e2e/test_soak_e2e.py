"""The fault soak: suggestions arrive and their steps are answered at a steady rate while, at moments
drawn from the seed, the executor, the API and the Prefect server are killed with SIGKILL and started
again, the SMTP and SMS sinks are stopped and started, the SMTP sink hangs (accepts, says nothing),
and on PostgreSQL the application database's server restarts (fast, or immediate as a crash).

Afterwards every suggestion has the outcome its answers lead to, every step was applied exactly once,
every e-mail and text message reached its sink exactly once (receivers dedupe on the Message-ID and
the Idempotency-Key: distinct ones are counted, per recipient and kind; deliveries are printed), and
every flow run is Completed and agrees with the database (the reconciler finds nothing).

The suite runs a short one on both backends: each kind of fault once, in an order drawn from the
seed. `make soak` runs a long one: JIANYI_SOAK_SECONDS of faults. It prints its seed
(JIANYI_SOAK_SEED replays the same faults in the same order; the driver's timing still varies) and
what it did and checked.
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from conftest import Running, mail_kind, start_system
from databases import seed_template
from prefect.client.orchestration import PrefectClient
from soak_faults import FAULTS, Faults
from sqlalchemy import func, select
from support import SCENARIOS, OpenStep, Scenario

from jianyi.executor.reconciler import reconcile_runs
from jianyi.models import AuditEntry
from jianyi.models.enums import StepKind
from jianyi.runtime.postgres import PostgresNotInstalled, TemporaryPostgres

PLAYED = [
    s
    for s in SCENARIOS
    if s.name in ("not_adopted", "complaint", "out_of_scope", "kept_with_rework_and_co_unit")
]
# 0, the suite's short soak: each kind of fault once (about a minute of faults); `make soak`: 600.
SECONDS = float(os.environ.get("JIANYI_SOAK_SECONDS") or "0")
OPEN_AT_ONCE = 12  # suggestions in progress at a time: a steady load, not a growing backlog


class Case:
    """One suggestion and its script. Each open step is given the next action of its kind and owner
    once, by its id: an answer whose reply was lost is sent again for the same step (409 once it was
    taken), never the next action's."""

    def __init__(self, scenario: Scenario, suggestion_id: int, email: str, phone: str) -> None:
        self.scenario, self.suggestion_id, self.email, self.phone = scenario, suggestion_id, email, phone
        self.given: dict[int, int] = {}  # step id → index of its action
        self.closed = False

    def action_for(self, step: dict[str, Any]) -> int | None:
        if step["id"] in self.given:
            return self.given[step["id"]]
        open_step = OpenStep(step["id"], StepKind(step["kind"]), frozenset({step["unit"], step["alt_unit"]}))
        for index, action in enumerate(self.scenario.actions):
            if index in self.given.values() or action.kind is not open_step.kind:
                continue
            if open_step.owed_by(action.who):
                self.given[step["id"]] = index
                return index
        return None


def _answer(running: Running, case: Case) -> int:
    """Answer every open step of the case its script answers; how many were answered now."""
    view = running.view(case.suggestion_id)
    if view["outcome"]:
        case.closed = True
        return 0
    done = 0
    for step in view["open_steps"]:
        index = case.action_for(step) if step["state"] == "open" else None
        if index is None:
            continue
        action = case.scenario.actions[index]
        if action.who == "proposer" and not _check_code(running, case):
            continue  # the proposer rates once the acknowledgement has told the check code
        try:
            running.complete(action.who, case.suggestion_id, step["id"], action.payload)
            done += 1
        except AssertionError as refused:
            if "409" not in str(refused) and "conflict" not in str(refused):
                raise
    return done


def _check_code(running: Running, case: Case) -> bool:
    """Whether the proposer knows the check code: from intake's answer or, that answer lost and the
    suggestion sent again (answered without it), from the acknowledgement, as a proposer would."""
    if case.suggestion_id in running.codes:
        return True
    for message in running.mails_to(case.email):
        body = message.get_body(preferencelist=("plain",))
        found = re.search(
            r"跟踪编号是 ([0-9A-Za-z-]+)，查询码是 ([0-9A-Za-z-]+)。", body.get_content() if body else ""
        )
        if found:
            running.codes[case.suggestion_id] = (found[1], found[2])
            return True
    return False


def _tolerant(what: Any) -> Any:
    """A call that may meet a process being restarted: None instead of an error."""
    try:
        return what()
    except (httpx.HTTPError, AssertionError) as exc:
        if isinstance(exc, AssertionError) and not any(code in str(exc) for code in ("50", "connect")):
            raise
        return None


def _stuck(running: Running, case: Case) -> dict[str, Any]:
    """What a case that did not finish waits for, and what Prefect says of its run."""
    view = running.view(case.suggestion_id)
    run = view["flow_run_id"]
    answer = httpx.get(f"{running.system.prefect_api_url}/flow_runs/{run}") if run else None
    state = (answer.json().get("state") or {}) if answer is not None and answer.status_code == 200 else {}
    return {
        "id": case.suggestion_id,
        "stage": view["stage"],
        "steps": [(s["kind"], s["state"]) for s in view["open_steps"]],
        "run": run,
        "prefect": answer.status_code if answer is not None else None,
        "state": (state.get("type"), state.get("name"), state.get("message")),
    }


@pytest.fixture
def soak_postgres(tmp_path: Path) -> Iterator[TemporaryPostgres]:
    """A PostgreSQL server of the soak's own, to restart: as durable as a production one (a commit
    is on disk when acknowledged), unlike the suite's shared throwaway cluster."""
    try:
        cluster = TemporaryPostgres().start()
    except PostgresNotInstalled as exc:
        if os.environ.get("CI"):
            raise  # as tests/conftest.py's cluster: missing in CI is a failure, not a skip
        pytest.skip(f"PostgreSQL server binaries not installed: {exc}")
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_commit = on")
        conn.execute("SELECT pg_reload_conf()")
    yield cluster
    cluster.stop()


@pytest.mark.soak
@pytest.mark.e2e
@pytest.mark.timeout(900)  # minutes of faults, then up to 3 for the cases and 3 for the messages
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_soak_under_faults(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    seed = int(os.environ.get("JIANYI_SOAK_SEED") or random.randrange(1 << 30))
    print(f"\nsoak ({backend}) seed {seed}", flush=True)
    postgres, url = None, None
    if backend == "postgresql":
        postgres = request.getfixturevalue("soak_postgres")
        url = postgres.create_database("jianyi")
        seed_template(url)
    (tmp_path / "home").mkdir(mode=0o700)
    running = start_system(
        request,
        None,  # a Prefect server of its own, to kill
        backend,
        tmp_path / "home",
        database_url=url,
        JIANYI_DEPLOYMENT_NAME="lifecycle-soak",
        JIANYI_REPORTS_SCHEDULED="false",
        JIANYI_SMTP_TIMEOUT_SECONDS="3",  # a hung server costs each delivery 3 s, not 10
    )
    running.http = httpx.Client(base_url=running.system.api_url, timeout=10)
    kinds = (*FAULTS, "postgres") if postgres is not None else FAULTS
    faults = Faults(running.system, kinds, seed, SECONDS, postgres)
    driver = random.Random(seed + 1)

    cases: list[Case] = []
    answered = n = 0
    faults.start()
    while faults.is_alive():
        if sum(not c.closed for c in cases) < OPEN_AT_ONCE and driver.random() < 0.5:
            scenario = PLAYED[n % len(PLAYED)]  # a lost answer is sent again: same channel ref
            data = copy.deepcopy(scenario.suggestion)
            data["proposer"].update(email=f"soak-{n}@example.com", phone=f"1390000{n:04d}")
            data["channel_ref"] = f"soak-{n}"
            created = _tolerant(lambda d=data: running.submit(d))
            if created is not None:
                cases.append(
                    Case(scenario, created["id"], data["proposer"]["email"], data["proposer"]["phone"])
                )
                n += 1
        for case in cases:
            if not case.closed:
                answered += _tolerant(lambda c=case: _answer(running, c)) or 0
        time.sleep(0.2)
    faults.join()
    if faults.error is not None:
        raise faults.error

    deadline = time.monotonic() + 180  # then every case goes to its end, nothing failing
    while not all(c.closed for c in cases):
        assert time.monotonic() < deadline, (
            seed,
            dict(faults.done),
            [_stuck(running, c) for c in cases if not c.closed],
        )
        answered += sum(_tolerant(lambda c=c: _answer(running, c)) or 0 for c in cases if not c.closed)
        time.sleep(0.2)

    for case in cases:
        view = running.view(case.suggestion_id)
        assert view["outcome"] == case.scenario.outcome.value, case.suggestion_id
        assert view["flow_run_id"], (seed, _stuck(running, case))  # a closed case keeps its run
        assert running.flow_run_end(view["flow_run_id"])["type"] == "COMPLETED", case.suggestion_id
    with running.sessions() as session:  # every step of every script applied, each once
        applied = Counter(
            dict(
                session.execute(
                    select(AuditEntry.step_id, func.count())
                    .where(AuditEntry.action.in_(("step.applied", "step.lapsed")))
                    .group_by(AuditEntry.step_id)
                ).all()
            )
        )
        per_case = dict(
            session.execute(
                select(AuditEntry.suggestion_id, func.count(AuditEntry.step_id.distinct()))
                .where(AuditEntry.action.in_(("step.applied", "step.lapsed")))
                .group_by(AuditEntry.suggestion_id)
            ).all()
        )
    assert [step for step, times in applied.items() if times > 1] == []
    assert {c.suggestion_id: per_case.get(c.suggestion_id) for c in cases} == {
        c.suggestion_id: len(c.scenario.actions) for c in cases
    }

    mails = sum(len(c.scenario.mails) for c in cases)
    texts = sum(len(c.scenario.texts) for c in cases)
    sink, sms = running.system.sink, running.system.sms

    def distinct_mails() -> dict[str, Counter[str]]:
        seen: dict[str, dict[str, str]] = {}
        for message in sink.messages:
            seen.setdefault(str(message["To"]), {})[str(message["Message-ID"])] = mail_kind(message)
        return {to: Counter(kinds.values()) for to, kinds in seen.items()}

    def distinct_texts() -> dict[str, set[str | None]]:
        seen: dict[str, set[str | None]] = {}
        for message in sms.messages:
            seen.setdefault(message.to, set()).add(message.idempotency_key)
        return seen

    running.wait_until(
        lambda: (
            sum(sum(c.values()) for c in distinct_mails().values()) >= mails
            and sum(len(k) for k in distinct_texts().values()) >= texts
        ),
        timeout=180,
        message="the messages",
    )
    time.sleep(1.0)  # a message sent twice by mistake would be arriving now
    by_address, by_phone = distinct_mails(), distinct_texts()
    for case in cases:
        assert by_address.get(case.email) == Counter(case.scenario.mails), case.suggestion_id
        assert len(by_phone.get(case.phone, ())) == len(case.scenario.texts), case.suggestion_id
    assert sum(sum(c.values()) for c in by_address.values()) == mails
    assert sum(len(k) for k in by_phone.values()) == texts

    async def reconcile() -> list[Any]:
        assert running.system.prefect_api_url is not None
        async with PrefectClient(running.system.prefect_api_url) as client:
            return await reconcile_runs(client, grace=timedelta(0), database_url=running.system.database_url)

    assert asyncio.run(reconcile()) == []
    print(
        f"\nsoak ({backend}) seed {seed}, {faults.lasted:.0f} s of faults: "
        f"{dict(faults.done)}; "
        f"{len(cases)} cases closed with their outcomes; {sum(applied.values())} steps applied once each "
        f"({answered} answers sent by the driver); {mails} e-mails each once ({len(sink.messages)} "
        f"deliveries), {texts} text messages each once ({len(sms.messages)} deliveries); flow runs "
        "Completed and agreeing with the database",
        flush=True,
    )
