"""Every outcome end to end: HTTP API → executor → Prefect flow runs → SMTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import time
from collections import Counter

from conftest import Running, mail_kind
from support import SCENARIOS, Play


def test_every_outcome_through_the_api(running: Running) -> None:
    plays: list[Play] = []
    for scenario in SCENARIOS:
        data = copy.deepcopy(scenario.suggestion)
        data["proposer"]["email"] = f"{scenario.name}@example.com"
        data["channel_ref"] = f"outcome-{scenario.name}"
        plays.append(Play(scenario, running.submit(data)["id"]))

    # Departments and the office work all suggestions at once, as the executor runs them at once.
    deadline = time.monotonic() + 300
    while not all(p.finished for p in plays):
        assert time.monotonic() < deadline, [(p.scenario.name, p.position) for p in plays if not p.finished]
        if not any(p.step(running) for p in plays if not p.finished):
            time.sleep(0.2)

    for play in plays:
        view = running.wait_until(
            lambda play=play: (v := running.view(play.suggestion_id))["outcome"] and v,
            message=f"{play.scenario.name} to close",
        )
        assert view["outcome"] == play.scenario.outcome.value, play.scenario.name
        assert view["stage"] == "closed" and view["open_steps"] == []
        # The flow run ended with its suggestion.
        state = running.flow_run_end(view["flow_run_id"])
        assert state["type"] == "COMPLETED", (play.scenario.name, state)

    expected = sum(len(p.scenario.mails) for p in plays)
    running.system.sink.wait_for(expected, timeout=60)
    time.sleep(1.0)  # anything sent twice would arrive now
    messages = running.system.sink.messages
    assert len(messages) == expected
    assert len({m["Message-ID"] for m in messages}) == expected
    for play in plays:
        kinds = [mail_kind(m) for m in running.mails_to(f"{play.scenario.name}@example.com")]
        assert Counter(kinds) == Counter(play.scenario.mails), play.scenario.name

    # Text messages went to the SMS gateway, once each (a reply by phone brings the rating link).
    texts = sum(len(p.scenario.texts) for p in plays)
    received = running.system.sms.wait_for(texts, timeout=60)
    assert len(received) == texts and len({m.idempotency_key for m in received}) == texts
    assert all("rate=1" in m.text for m in received)
