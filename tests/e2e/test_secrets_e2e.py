"""No secret and no personal data in any log: a real system runs a suggestion to its outcome (the
proposer rating through their link), with refused tokens on the way; then every log it wrote (the
API's, the executor's, the flow run's in Prefect) is searched for every token, the check code and
the proposer's name, phone, e-mail and address. The files holding them are their owner's alone."""

from __future__ import annotations

import copy
import stat
import time
from pathlib import Path

import httpx
from conftest import Running
from support import SCENARIOS, Play

NOT_ADOPTED = next(s for s in SCENARIOS if s.name == "not_adopted")
PROPOSER = {
    "name": "欧阳秘密",
    "phone": "13712345678",
    "email": "ouyang.secret@example.com",
    "address": "上海市静安区保密路99号",
}


def _prefect_logs(running: Running, flow_run_id: str) -> str:
    assert running.system.prefect_api_url is not None
    response = httpx.post(
        f"{running.system.prefect_api_url}/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200},
        timeout=30,
    )
    response.raise_for_status()
    return "\n".join(f"{entry['level']} {entry['name']} {entry['message']}" for entry in response.json())


def test_no_token_check_code_or_personal_data_in_any_log(running: Running) -> None:
    data = copy.deepcopy(NOT_ADOPTED.suggestion)
    data.update(proposer=PROPOSER, channel_ref=f"secrets-{time.monotonic_ns()}")
    created = running.submit(data)
    play = Play(NOT_ADOPTED, created["id"])
    deadline = time.monotonic() + 120
    while not play.finished:
        assert time.monotonic() < deadline, f"stuck at {play.scenario.actions[play.position]}"
        if not play.step(running):
            time.sleep(0.2)
    tracking, check = running.codes[created["id"]]
    # Refusals log too: a wrong check code, a forged token, a token in the query string.
    assert running.http.get(f"/api/track/{tracking}", params={"check": check[::-1]}).status_code == 404
    forged = "jy_" + running.users.tokens["office"][::-1]
    assert running.http.get("/api/steps", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert running.http.get(f"/api/track/{tracking}", params={"check": check}).status_code == 200
    view = running.wait_until(
        lambda: (v := running.view(created["id"]))["outcome"] and v, message="the outcome"
    )
    running.wait_until(lambda: running.mails_to(PROPOSER["email"]), message="the proposer's mail")

    home = running.system.home
    logs = {path.name: path.read_text(encoding="utf-8", errors="replace") for path in home.glob("*.log")}
    assert {"api.log", "executor.log"} <= set(logs)
    assert "INFO" in logs["executor.log"] and " 200" in logs["api.log"]  # they log at INFO
    logs["prefect flow run"] = _prefect_logs(running, view["flow_run_id"])
    secrets = {
        **{f"token of {who}": token for who, token in running.users.tokens.items()},
        "forged token": forged,
        "check code": check,
        "wrong check code": check[::-1],
        **{f"proposer's {field}": value for field, value in PROPOSER.items()},
    }
    leaks = [(what, log) for what, secret in secrets.items() for log, text in logs.items() if secret in text]
    assert leaks == []

    # Whatever holds them — the database, the logs, the mail and SMS the sinks keep — is owner-only.
    exposed = [
        str(path.relative_to(home))
        for path in (home, *home.rglob("*"))
        if stat.S_IMODE(path.stat().st_mode) & 0o077 and not path.is_symlink()
    ]
    assert exposed == []
    assert any(Path(home / "mail").iterdir())  # the check above saw the proposer's mail
