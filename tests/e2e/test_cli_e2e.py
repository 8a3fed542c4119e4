"""The `jianyi` command line against the running system: users, intake, queues, completion, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import Running
from sqlalchemy import select
from support import SUGGESTION, triage

from jianyi.models import AuditEntry
from jianyi.models.enums import StepKind


def jianyi(
    running: Running, *args: str, token: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **running.system.env()}
    env.pop("JIANYI_TOKEN", None)
    if token:
        env["JIANYI_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "jianyi", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


def test_cli_from_new_user_to_completed_step(running: Running, tmp_path: Path) -> None:
    added = jianyi(running, "users", "add", "--role", "office", "--unit", "city-office", "命令行 经办")
    assert added.returncode == 0, added.stderr
    office = added.stdout.strip().splitlines()[-1]
    refused = jianyi(running, "users", "add", "--role", "department", "--unit", "no-such-unit", "x")
    assert refused.returncode == 7 and "unit" in refused.stderr

    suggestion = tmp_path / "suggestion.json"
    suggestion.write_text(
        json.dumps({**SUGGESTION, "channel_ref": "cli-1"}, ensure_ascii=False), encoding="utf-8"
    )
    submitted = jianyi(running, "submit", str(suggestion), token=office)
    assert submitted.returncode == 0, submitted.stderr
    created = json.loads(submitted.stdout)
    assert created["created"] and created["tracking_code"].startswith("JY")
    again = json.loads(
        jianyi(running, "submit", "-", token=office, stdin=suggestion.read_text("utf-8")).stdout
    )
    assert again["id"] == created["id"] and not again["created"]

    triage_id = running.wait_for_step(created["id"], StepKind.triage)
    listed = json.loads(jianyi(running, "steps", "list", token=office).stdout)
    assert triage_id in {s["id"] for s in listed}
    schema = json.loads(jianyi(running, "steps", "show", str(triage_id), token=office).stdout)["input_schema"]
    assert "lead_unit" in schema["properties"]

    answer = tmp_path / "triage.json"
    answer.write_text(json.dumps(triage()), encoding="utf-8")
    wrong = jianyi(
        running, "steps", "complete", str(triage_id), "--json", str(answer), token=running.users.tokens["edu"]
    )
    assert wrong.returncode == 4 and "another unit" in wrong.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "suggestion", "level": "urgent"}), encoding="utf-8")
    invalid = jianyi(running, "steps", "complete", str(triage_id), "--json", str(bad), token=office)
    assert invalid.returncode == 7
    assert invalid.stderr.splitlines()[1:] == ["  level: Input should be 'general' or 'important'"]
    done = jianyi(running, "steps", "complete", str(triage_id), "--json", str(answer), token=office)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "submitted"
    twice = jianyi(running, "steps", "complete", str(triage_id), "--json", str(answer), token=office)
    assert twice.returncode == 6 and "already" in twice.stderr
    with running.sessions() as session:
        refused = session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.step_id == triage_id, AuditEntry.action == "step.refused"
            )
        ).all()
    assert sorted(d["error"] for d in refused) == ["Conflict", "Forbidden", "InvalidInput"]

    running.wait_for_step(created["id"], StepKind.opinion)
    shown = json.loads(jianyi(running, "show", str(created["id"]), token=office).stdout)
    assert shown["stage"] == "research" and shown["lead_unit"] == "city-transport"
    assert jianyi(running, "show", str(created["id"])).returncode == 3  # no token
