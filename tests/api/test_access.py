"""Nobody sees what is not theirs (issue 14, item 7), through the HTTP API: a unit sees its own
steps' answers and the leader's instruction, never the office's triage note, other units' answers
or a confidential proposer; a unit re-routed away no longer sees the case; the messages' stored
summaries hold no check code."""

from __future__ import annotations

import copy
import json
from typing import Any

from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import ADOPT, NOT_ADOPT, SUGGESTION, triage

from jianyi.models import Communication, Suggestion
from jianyi.models.enums import StepKind

NOTE = "内部研判：建议人系区人大代表，注意沟通方式"
PARTICIPANTS = "张三（13800000000）、王处长"
INSTRUCTION = "请市交通委研究落实"


def _headers(users: Any, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users.tokens[who]}"}


def _do(driver: EngineDriver, who: str, suggestion_id: int, kind: StepKind, payload: dict[str, Any]) -> int:
    [step] = [s for s in driver.open_steps(suggestion_id) if s.kind is kind]
    driver.complete(who, suggestion_id, step.id, payload)
    driver.advance(suggestion_id)
    return step.id


def _important(driver: EngineDriver, *, confidential: bool = False) -> tuple[int, dict[StepKind, int]]:
    """An important suggestion referred to city-transport (lead) and city-edu (co), its pre-report
    held with the proposer and the leader's instruction recorded."""
    data = copy.deepcopy(SUGGESTION)
    data["proposer"]["confidential"] = confidential
    suggestion_id = driver.submit(data)
    ids = {
        StepKind.triage: _do(
            driver,
            "office",
            suggestion_id,
            StepKind.triage,
            triage(level="important", co_units=["city-edu"], note=NOTE),
        ),
        StepKind.pre_report_communication: _do(
            driver,
            "office",
            suggestion_id,
            StepKind.pre_report_communication,
            {
                "held_at": "2026-11-20T09:00:00+08:00",
                "method": "phone",
                "participants": PARTICIPANTS,
                "refined": "问题真、症结准、对策实",
            },
        ),
        StepKind.leader_instruction: _do(
            driver,
            "office",
            suggestion_id,
            StepKind.leader_instruction,
            {"has_instruction": True, "leader": "市领导", "instructed_on": "2026-11-21", "text": INSTRUCTION},
        ),
    }
    ids[StepKind.co_opinion] = _do(driver, "edu", suggestion_id, StepKind.co_opinion, {"opinion": "同意"})
    return suggestion_id, ids


def _input(http: TestClient, users: Any, who: str, step_id: int) -> Any:
    response = http.get(f"/api/steps/{step_id}", headers=_headers(users, who))
    assert response.status_code == 200, response.text
    return response.json()["input"]


def test_a_unit_sees_its_own_answers_and_the_instruction_never_the_office_notes(
    http: TestClient, driver: EngineDriver, users: Any
) -> None:
    suggestion_id, ids = _important(driver)

    # The office sees every answer.
    assert _input(http, users, "office", ids[StepKind.triage])["note"] == NOTE
    assert (
        _input(http, users, "office", ids[StepKind.pre_report_communication])["participants"] == PARTICIPANTS
    )
    # The lead unit: the leader's instruction, not the triage note, the pre-report or the co-unit's opinion.
    assert _input(http, users, "transport", ids[StepKind.leader_instruction])["text"] == INSTRUCTION
    for kind in (StepKind.triage, StepKind.pre_report_communication, StepKind.co_opinion):
        assert _input(http, users, "transport", ids[kind]) is None, kind
    # The co-unit its own opinion.
    assert _input(http, users, "edu", ids[StepKind.co_opinion]) == {"opinion": "同意", "measures": None}
    # Nor anywhere in the case's view.
    for who in ("transport", "edu"):
        view = http.get(f"/api/suggestions/{suggestion_id}", headers=_headers(users, who))
        assert view.status_code == 200
        assert NOTE not in view.text and PARTICIPANTS not in view.text
    # A unit the case was never referred to sees nothing of it.
    housing = http.get(f"/api/steps/{ids[StepKind.leader_instruction]}", headers=_headers(users, "housing"))
    assert housing.status_code == 403


def test_nothing_of_a_confidential_proposer_reaches_a_unit(
    http: TestClient, driver: EngineDriver, users: Any
) -> None:
    suggestion_id, _ids = _important(driver, confidential=True)
    for who in ("transport", "edu"):
        view = http.get(f"/api/suggestions/{suggestion_id}", headers=_headers(users, who)).json()
        text = json.dumps(view, ensure_ascii=False)
        assert view["proposer"] is None
        assert "张三" not in text and "13800000000" not in text and "zhangsan@example.com" not in text
        assert view["communications"] == []  # the office's duties to its proposer are the office's
        assert all(e["detail"] is None for e in view["timeline"] if e["what"].startswith("沟通"))
    office = http.get(f"/api/suggestions/{suggestion_id}", headers=_headers(users, "office")).json()
    assert office["proposer"]["name"] == "张三"


def test_a_unit_rerouted_away_no_longer_sees_the_case(
    http: TestClient, driver: EngineDriver, users: Any
) -> None:
    suggestion_id = driver.submit()
    triage_id = _do(driver, "office", suggestion_id, StepKind.triage, triage(lead="city-edu"))
    objection = {"reasons": "属交通管理职责", "suggested_unit": "city-transport"}
    objection_id = _do(driver, "edu", suggestion_id, StepKind.objection, objection)
    reroute = {"accept_objection": True, "lead_unit": "city-transport"}
    _do(driver, "office", suggestion_id, StepKind.reroute, reroute)

    edu = _headers(users, "edu")
    assert http.get(f"/api/suggestions/{suggestion_id}", headers=edu).status_code == 403
    assert http.get(f"/api/steps/{triage_id}", headers=edu).status_code == 403
    assert http.get(f"/api/steps/{objection_id}", headers=edu).status_code == 403
    assert (
        http.get(f"/api/suggestions/{suggestion_id}", headers=_headers(users, "transport")).status_code == 200
    )


def test_the_stored_summaries_of_messages_hold_no_check_code(
    http: TestClient, driver: EngineDriver, sessions: sessionmaker[Session], users: Any
) -> None:
    data = copy.deepcopy(SUGGESTION)
    del data["proposer"]["email"]  # the acknowledgement and the rating request come by SMS
    suggestion_id = driver.submit(data)
    _do(driver, "office", suggestion_id, StepKind.triage, triage())
    _do(driver, "transport", suggestion_id, StepKind.opinion, NOT_ADOPT)
    _do(driver, "office", suggestion_id, StepKind.review, {"action": "accept"})
    _do(driver, "office", suggestion_id, StepKind.reply, {"method": "phone", "text": "已电话答复"})

    with sessions() as session:
        check = session.get_one(Suggestion, suggestion_id).check_code
        summaries = list(
            session.scalars(select(Communication.summary).where(Communication.suggestion_id == suggestion_id))
        )
    assert len(summaries) >= 2  # the acknowledgement and the rating request, both by SMS
    assert all(check not in s for s in summaries), summaries
    for who in ("office", "transport"):
        view = http.get(f"/api/suggestions/{suggestion_id}", headers=_headers(users, who))
        assert view.status_code == 200 and check not in view.text


def test_the_lead_unit_still_works_its_case(http: TestClient, driver: EngineDriver, users: Any) -> None:
    """What a unit needs stays: its open steps, their schema, and completing them."""
    suggestion_id = driver.submit()
    _do(driver, "office", suggestion_id, StepKind.triage, triage())
    [opinion] = [s for s in driver.open_steps(suggestion_id) if s.kind is StepKind.opinion]
    shown = http.get(f"/api/steps/{opinion.id}", headers=_headers(users, "transport"))
    assert shown.status_code == 200 and shown.json()["input_schema"]
    done = http.post(f"/api/steps/{opinion.id}/complete", json=ADOPT, headers=_headers(users, "transport"))
    assert done.status_code == 200 and done.json()["input"]["decision"] == "adopt"
