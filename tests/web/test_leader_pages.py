"""The leaders' pages in-process (TestClient) on this test's database, SQLite or PostgreSQL: an issue of
the digest read by a leader, an instruction recorded from its form (errors beside their field,
nothing stored), the flow resuming and the lead unit reading the instruction on its step page;
the office recording a paper instruction and "no instruction"; who may not."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION, triage

from jianyi.api.app import create_app
from jianyi.models import LeaderInstruction, Step, User
from jianyi.models.base import utcnow
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.services import accounts, auth
from jianyi.services.cycles.digest import compile_digest
from jianyi.web.accounts import COOKIE

PROPOSER = {"name": "张三丰", "phone": "13800000001", "email": "zsf@example.com"}
PRE_REPORT = {
    "held_at": "2026-11-20T09:00:00+08:00",
    "method": "phone",
    "participants": "张三丰",
    "refined": "早高峰公交间隔过长，建议加密班次",
    "problem": "候车时间超过二十分钟",
    "proposal": "高峰时段每十分钟一班",
}


@pytest.fixture
def http(cli_on: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def _important(driver: EngineDriver, title: str) -> int:
    """An important item of the city office, pre-reported: its leader_instruction step open."""
    data = copy.deepcopy(SUGGESTION)
    data |= {"title": title, "proposer": dict(PROPOSER)}
    suggestion_id = driver.submit(data)
    for kind, payload in (
        (StepKind.triage, triage(level="important")),
        (StepKind.pre_report_communication, PRE_REPORT),
    ):
        [step] = [s for s in driver.open_steps(suggestion_id) if s.kind is kind]
        driver.complete("office", suggestion_id, step.id, payload)
        driver.advance(suggestion_id)
    return suggestion_id


def _sign_in(http: TestClient, sessions: sessionmaker[Session], user_id: int) -> str:
    """A web session's cookie, as the login form starts it; the page's CSRF token."""
    with sessions() as session:
        token = accounts.start_session(session, user=session.get_one(User, user_id))
        session.commit()
    http.cookies.set(COOKIE, token)
    found = re.search(r'name="csrftoken" value="([^"]+)"', http.get("/login").text)
    assert found
    return found.group(1)


def _step(sessions: sessionmaker[Session], suggestion_id: int, kind: StepKind) -> Step | None:
    with sessions() as session:
        return (
            session.query(Step)
            .filter_by(suggestion_id=suggestion_id, kind=kind)
            .order_by(Step.id.desc())
            .first()
        )


def test_a_leader_instructs_an_item_from_the_digests_page(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    driver = EngineDriver(sessions, users)
    first = _important(driver, "关于加密公交班次的建议")
    second = _important(driver, "关于<b>夜班</b>公交的建议")
    with sessions() as session:
        issue = compile_digest(session, now=utcnow(), by="test")
        assert issue is not None
        session.commit()
        digest_id, number = issue.id, issue.number
        leader, _ = auth.create_user(session, name="市领导 吴", role=Role.leader, unit_code=None)
        session.commit()
        leader_id = leader.id
    token = _sign_in(http, sessions, leader_id)

    home = http.get("/leader")
    assert home.status_code == 200 and f"待批示（第{number}期）" in home.text
    page = http.get(f"/digests/{digest_id}")
    assert page.status_code == 200 and f"第{number}期" in page.text
    assert "早高峰公交间隔过长" in page.text and "&lt;b&gt;夜班&lt;/b&gt;" in page.text  # escaped
    assert PROPOSER["phone"] not in page.text and PROPOSER["email"] not in page.text
    assert 'id="f-leader-' not in page.text  # a leader answers in their own name

    url = f"/digests/{digest_id}/items/{first}/instruction"
    empty = http.post(url, data={"answer": "instruct", "text": " ", "csrftoken": token})
    assert (
        empty.status_code == 422 and f'id="e-text-{first}"' in empty.text and "请填写批示内容" in empty.text
    )
    assert _step(sessions, first, StepKind.leader_instruction).state is StepState.open  # nothing stored

    done = http.post(url, data={"answer": "instruct", "text": "请市交通委研究落实。", "csrftoken": token})
    assert done.status_code == 303 and done.headers["location"].startswith(
        f"/digests/{digest_id}?done={first}"
    )
    step = _step(sessions, first, StepKind.leader_instruction)
    assert step.state is StepState.submitted and step.input["leader"] == "市领导 吴"
    assert http.post(url, data={"answer": "none", "csrftoken": token}).status_code == 409  # once
    shown = http.get(f"/digests/{digest_id}").text
    assert f'id="instruction-{first}"' in shown and "请市交通委研究落实。" in shown

    driver.advance(first)  # the flow run resumes: the instruction recorded, the item referred
    with sessions() as session:
        row = session.query(LeaderInstruction).filter_by(suggestion_id=first).one()
        assert row.has_instruction and row.leader == "市领导 吴"
    hearing = _step(sessions, first, StepKind.proposer_hearing)
    assert hearing is not None and hearing.state is StepState.open  # the instructed item's hearing
    _sign_in(http, sessions, users.actors["transport"].user_id)  # the lead unit, on its step page
    step_page = http.get(f"/steps/{hearing.id}")
    assert step_page.status_code == 200 and 'id="instruction"' in step_page.text
    assert "请市交通委研究落实。" in step_page.text and "市领导 吴" in step_page.text
    assert http.get(f"/digests/{digest_id}").status_code == 403  # not a unit's page

    # The office records the other item's paper instruction: the leader and date are required.
    token = _sign_in(http, sessions, users.actors["office"].user_id)
    url = f"/digests/{digest_id}/items/{second}/instruction"
    page = http.get(f"/digests/{digest_id}").text
    assert f'id="f-leader-{second}"' in page
    missing = http.post(url, data={"answer": "instruct", "text": "阅。", "csrftoken": token})
    assert missing.status_code == 422 and f'id="e-leader-{second}"' in missing.text
    assert f'id="e-on-{second}"' in missing.text and "阅。" in missing.text  # what was typed is kept
    none = http.post(url, data={"answer": "none", "csrftoken": token})
    assert none.status_code == 303
    assert _step(sessions, second, StepKind.leader_instruction).input == {
        "has_instruction": False,
        "leader": None,
        "instructed_on": None,
        "text": None,
    }
    assert "无批示" in http.get(f"/digests/{digest_id}").text


def test_the_office_compiles_the_next_issue_from_the_page(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    token = _sign_in(http, sessions, users.actors["office"].user_id)
    page = http.get("/digests")
    assert page.status_code == 200 and 'id="waiting">0<' in page.text
    nothing = http.post("/digests", data={"csrftoken": token})
    assert nothing.status_code == 303 and nothing.headers["location"] == "/digests?none=1"
    _sign_in(http, sessions, users.actors["huangpu"].user_id)  # another office: the city's digest is not its
    assert http.get("/digests").status_code == 403
