"""The HTTP API's promises, against the running system: intake, refusals, queues, tracking, Prefect."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import Running, mail_kind
from sqlalchemy import select
from support import SUGGESTION, triage

from jianyi.models import AuditEntry, Step
from jianyi.models.enums import StepKind, StepState
from jianyi.runtime.prefect_server import PrefectServer


def _suggestion(ref: str, **proposer: str) -> dict[str, object]:
    data = copy.deepcopy(SUGGESTION)
    data["channel_ref"] = ref
    data["proposer"].update(proposer)  # type: ignore[union-attr]
    return data


def test_health_units_and_openapi(running: Running) -> None:
    assert running.http.get("/api/health").json()["status"] == "ok"
    assert running.http.get("/api/units").status_code == 401
    tree = running.http.get("/api/units", headers=running.headers("transport")).json()
    [city] = tree
    kinds = Counter_of(city)
    assert kinds["district_office"] == 16 and kinds["city_department"] >= 20
    paths = running.http.get("/openapi.json").json()["paths"]
    assert {"/api/suggestions", "/api/steps/{step_id}/complete", "/api/track/{tracking_code}"} <= set(paths)


def Counter_of(node: dict[str, object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    stack = [node]
    while stack:
        unit = stack.pop()
        counts[str(unit["kind"])] = counts.get(str(unit["kind"]), 0) + 1
        stack.extend(unit["children"])  # type: ignore[arg-type]
    return counts


def test_intake_is_idempotent_per_channel_reference(running: Running) -> None:
    data = _suggestion("dedupe-1")
    first = running.http.post("/api/suggestions", json=data, headers=running.headers("office"))
    again = running.http.post("/api/suggestions", json=data, headers=running.headers("office"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["check_code"] and again.json()["check_code"] is None


def test_intake_names_every_bad_field(running: Running) -> None:
    bad = {"title": "x", "content": "太短", "channel": "fax", "proposer": {"email": "not-an-address"}}
    response = running.http.post("/api/suggestions", json=bad, headers=running.headers("office"))
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["detail"]}
    assert {"title", "content", "channel", "proposer.email"} <= fields


def test_step_refusals_are_refused_and_recorded(running: Running) -> None:
    suggestion_id = running.submit(_suggestion("refusals"))["id"]
    step_id = running.wait_for_step(suggestion_id, StepKind.triage)
    # The routing table proposes the units (公交 → the transport commission); the handler confirms.
    shown = running.http.get(f"/api/steps/{step_id}", headers=running.headers("office")).json()
    assert shown["proposal"]["lead_unit"] == "city-transport" and shown["due_at"] is not None
    url = f"/api/steps/{step_id}/complete"
    wrong_unit = running.http.post(url, json=triage(), headers=running.headers("transport"))
    assert wrong_unit.status_code == 403
    invalid = running.http.post(
        url, json={"kind": "suggestion", "lead_unit": "nowhere"}, headers=running.headers("office")
    )
    assert invalid.status_code == 422
    assert invalid.json()["detail"] == [
        {"field": "lead_unit", "message": "no active unit with code 'nowhere'"}
    ]
    assert running.http.post(url, json=triage(), headers=running.headers("office")).status_code == 200
    twice = running.http.post(url, json=triage(lead="city-edu"), headers=running.headers("office"))
    assert twice.status_code == 409
    # The completed step shows up as the next step: the lead unit's opinion.
    running.wait_for_step(suggestion_id, StepKind.opinion)
    view = running.view(suggestion_id)
    assert view["lead_unit"] == "city-transport"
    with running.sessions() as session:
        refused = session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.step_id == step_id, AuditEntry.action == "step.refused"
            )
        ).all()
    assert sorted(d["error"] for d in refused) == ["Conflict", "Forbidden", "InvalidInput"]


def test_a_department_sees_its_queue_only(running: Running) -> None:
    suggestion_id = running.submit(_suggestion("queues"))["id"]
    step_id = running.wait_for_step(suggestion_id, StepKind.triage)
    running.complete("office", suggestion_id, step_id, triage())
    opinion_id = running.wait_for_step(suggestion_id, StepKind.opinion)
    mine = running.http.get("/api/steps", headers=running.headers("transport")).json()
    assert opinion_id in {s["id"] for s in mine}
    theirs = running.http.get("/api/steps", headers=running.headers("edu")).json()
    assert all(s["suggestion_id"] != suggestion_id for s in theirs)
    step = running.http.get(f"/api/steps/{opinion_id}", headers=running.headers("transport")).json()
    assert "decision" in step["input_schema"]["properties"]
    assert running.http.get(f"/api/steps/{opinion_id}", headers=running.headers("edu")).status_code == 403
    assert (
        running.http.get(f"/api/suggestions/{suggestion_id}", headers=running.headers("edu")).status_code
        == 403
    )
    lead_view = running.view(suggestion_id, who="transport")
    assert lead_view["proposer"]["phone"] == "13800000000"  # the lead unit may call the proposer


def test_public_tracking_shows_no_personal_data(running: Running) -> None:
    created = running.submit(_suggestion("tracking", name="王五", email="wangwu@example.com"))
    code, check = created["tracking_code"], created["check_code"]
    running.wait_for_step(created["id"], StepKind.triage)
    public = running.http.get(f"/api/track/{code}", params={"check": check})
    assert public.status_code == 200
    assert public.json()["stage"] == "triage"
    for secret in ("王五", "wangwu", "13800000000"):
        assert secret not in public.text
    assert (
        running.http.get(
            f"/api/track/{code}", params={"check": "000000" if check != "000000" else "111111"}
        ).status_code
        == 404
    )
    page = running.http.get(f"/track/{code}", params={"check": check})
    assert page.status_code == 200 and code in page.text and "王五" not in page.text


def test_flow_run_is_suspended_and_reads_as_stages(running: Running, prefect_server: PrefectServer) -> None:
    suggestion_id = running.submit(_suggestion("prefect-view"))["id"]
    step_id = running.wait_for_step(suggestion_id, StepKind.triage)
    running.complete("office", suggestion_id, step_id, triage())
    running.wait_for_step(suggestion_id, StepKind.opinion)
    flow_run_id = running.view(suggestion_id)["flow_run_id"]
    api = prefect_server.api_url

    def suspended() -> bool:
        state = httpx.get(f"{api}/flow_runs/{flow_run_id}").json()["state"]
        return bool(state["type"] == "PAUSED" and state["name"] == "Suspended")

    running.wait_until(suspended, message="flow run suspended at the opinion")
    # Systems in this session share the Prefect server and their suggestion ids overlap: each run must
    # be its own system's (Prefect scopes idempotency keys by flow, so the deployment is in the key).
    flow_run = httpx.get(f"{api}/flow_runs/{flow_run_id}").json()
    deployment = httpx.get(f"{api}/deployments/{flow_run['deployment_id']}").json()
    assert deployment["name"] == running.system.extra_env["JIANYI_DEPLOYMENT_NAME"]
    assert flow_run["parameters"] == {"suggestion_id": suggestion_id}
    # The run's timeline reads as the case's path: each attempt's Running names the stage and the
    # steps it applies, each Suspended the wait it ended at.
    history = httpx.get(f"{api}/flow_run_states/", params={"flow_run_id": flow_run_id}).json()
    timeline = [(s["name"], s["message"]) for s in sorted(history, key=lambda s: s["timestamp"])]
    assert ("Running", "梳理研判 triage") in timeline
    assert ("Running", "梳理研判 triage ← triage") in timeline
    suspensions = [message for name, message in timeline if name == "Suspended"]
    assert suspensions[0].startswith("梳理研判 triage: triage — 梳理研判 #")
    assert any("opinion" in m.split(" — ")[0] for m in suspensions[1:])


def test_a_burst_of_intakes_is_answered_first_and_every_run_started_after(running: Running) -> None:
    """Forty intakes at once: the executor holds back their runs' starts and acknowledgements while
    they pour in (intake first), then starts every one: each waits at triage, acknowledged once."""
    # The executor at work first (its loops sample intake from their start).
    running.wait_for_step(running.submit(_suggestion("before-the-burst"))["id"], StepKind.triage)
    log = running.system.home / "executor.log"
    holds_before = log.read_text(encoding="utf-8").count("intake burst:")
    addresses = [f"burst{n}@example.com" for n in range(40)]
    payloads = [_suggestion(f"burst-{n}", email=address) for n, address in enumerate(addresses)]
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda data: running.submit(data)["id"], payloads))
    assert len(set(ids)) == 40
    for suggestion_id in ids:
        running.wait_for_step(suggestion_id, StepKind.triage, timeout=120)
    running.wait_until(
        lambda: all(len(running.mails_to(a)) == 1 for a in addresses), message="every acknowledgement sent"
    )
    assert all(mail_kind(running.mails_to(a)[0]) == "acknowledgement" for a in addresses)
    text = log.read_text(encoding="utf-8")
    assert text.count("intake burst:") > holds_before, "the burst was not seen"
    assert "run starts resume after" in text.rpartition("intake burst:")[2], "the hold did not end"


def test_a_run_cancelled_in_prefect_is_not_resumed_by_the_next_completion(running: Running) -> None:
    """Prefect accepts Running from Cancelled (tests/contract): the executor reads the run first and
    leaves a cancelled one cancelled; the completed step waits, stored, for a person to decide."""
    suggestion_id = running.submit(_suggestion("cancelled-in-prefect"))["id"]
    step_id = running.wait_for_step(suggestion_id, StepKind.triage)
    run_id = running.view(suggestion_id)["flow_run_id"]
    prefect = running.system.prefect_api_url
    assert prefect is not None

    def state() -> dict[str, object]:
        found: dict[str, object] = httpx.get(f"{prefect}/flow_runs/{run_id}").json()["state"]
        return found

    running.wait_until(lambda: state()["type"] == "PAUSED", message="the run suspended at triage")
    cancel = httpx.post(
        f"{prefect}/flow_runs/{run_id}/set_state", json={"state": {"type": "CANCELLED", "name": "Cancelled"}}
    )
    assert cancel.json()["status"] == "ACCEPT", cancel.text
    url = f"/api/steps/{step_id}/complete"
    assert running.http.post(url, json=triage(), headers=running.headers("office")).status_code == 200

    time.sleep(3)  # fifteen executor polls
    assert state()["type"] == "CANCELLED"
    view = running.view(suggestion_id)
    assert view["stage"] == "triage" and not any(s["kind"] == "opinion" for s in view["open_steps"])
    with running.sessions() as session:
        assert session.get(Step, step_id).state is StepState.submitted  # kept, not lost

    # On hold until the handling office resumes it: then the kept step is applied, and the run waits anew.
    def resume(who: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **running.system.env(), "JIANYI_TOKEN": running.users.tokens[who]}
        command = [sys.executable, "-m", "jianyi", "runs", "resume", str(suggestion_id), "--note", "误操作"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert resume("transport").returncode == 4
    resumed = resume("office")
    assert resumed.returncode == 0, resumed.stderr
    running.wait_for_step(suggestion_id, StepKind.opinion)
    running.wait_until(lambda: state()["type"] == "PAUSED", message="the resumed run waits at research")
    assert resume("office").returncode == 6  # not cancelled any more: nothing to resume
