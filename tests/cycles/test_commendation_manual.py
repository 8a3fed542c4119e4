"""The office's manual nominations to the annual commendation (表彰奖励): an adopted item implemented
outside the window, nominated through the API, the CLI or the office's page, waits at its
``commendation_result`` step and is completed by the cycle's publication like an automatic one; an
item not adopted (422), not yet implemented (409) or nominated already (409) is refused, nothing
stored. Both databases."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clock import Clock
from commendation_seed import implemented
from fastapi.testclient import TestClient
from reports_seed import clock, reports_home
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import ADOPT, NOT_ADOPT, REPLY, SUGGESTION, triage
from typer.testing import CliRunner

from jianyi.api.app import create_app
from jianyi.cli.main import app
from jianyi.models import Expert, Nomination, Step, Suggestion, User
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.models.schemas import SuggestionIn
from jianyi.services import accounts, auth, intake, steps
from jianyi.services.cycles import commendation
from jianyi.services.lifecycle.engine import advance
from jianyi.web.accounts import COOKIE

__all__ = ["clock", "reports_home"]  # fixtures
IN_WINDOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
AFTER_WINDOW = datetime(2027, 11, 3, 2, 0, tzinfo=UTC)  # the 2027 window ends on 1 November 2027


def _answered(clock: Clock, decision: dict[str, Any], at: datetime) -> int:
    """An item the lead unit answered with ``decision``, replied and rated: not implemented."""
    with clock.sessions() as session:
        sid = intake.submit(
            session, actor=clock.actors["office"], data=SuggestionIn.model_validate(SUGGESTION), now=at
        ).id
        advance(session, suggestion_id=sid, now=at)
        for kind, who, payload in (
            (StepKind.triage, "office", triage()),
            (StepKind.opinion, "transport", decision),
            (StepKind.review, "office", {"action": "accept"}),
            (StepKind.reply, "office", REPLY),
        ):
            step = session.scalar(
                select(Step).where(Step.suggestion_id == sid, Step.kind == kind, Step.state == StepState.open)
            )
            assert step is not None, kind
            steps.complete(session, actor=clock.actors[who], step_id=step.id, payload=payload, now=at)
            advance(session, suggestion_id=sid, now=at)
        session.commit()
    return sid


def test_the_office_nominates_an_adopted_item_by_hand(
    clock: Clock, users: Any, sessions: sessionmaker[Session], reports_home: Path
) -> None:
    automatic = implemented(clock, 0, IN_WINDOW)
    outside = implemented(clock, 1, AFTER_WINDOW)  # implemented after the window: not automatic
    late = implemented(clock, 2, AFTER_WINDOW + timedelta(hours=1))
    pending = _answered(clock, ADOPT, IN_WINDOW)  # adopted, its implementation under way
    refused = _answered(clock, NOT_ADOPT, IN_WINDOW)
    http = TestClient(create_app())
    office = {"Authorization": f"Bearer {users.tokens['office']}"}
    assert http.post("/api/commendations/2027", headers=office).json()["nominations"] == 1

    def nominate(sid: int, headers: dict[str, str] = office) -> Any:
        return http.post("/api/commendations/2027/nominations", headers=headers, json={"suggestion_id": sid})

    made = nominate(outside)
    assert made.status_code == 201 and made.json() == {
        "suggestion_id": outside,
        "source": "manual",
        "year": 2027,
    }
    assert nominate(outside).status_code == 409  # once
    assert nominate(automatic).status_code == 409  # nominated already, automatically
    not_adopted = nominate(refused)
    assert not_adopted.status_code == 422 and "suggestion_id" in not_adopted.text
    not_yet = nominate(pending)
    assert not_yet.status_code == 409 and "not implemented yet" in not_yet.text
    assert nominate(late, {"Authorization": f"Bearer {users.tokens['transport']}"}).status_code == 403

    runner = CliRunner()  # the CLI, in the office's name
    env = {"JIANYI_TOKEN": users.tokens["office"]}
    cli = runner.invoke(app, ["commendation", "nominate", "2027", str(late)], env=env)
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["source"] == "manual"
    assert runner.invoke(app, ["commendation", "nominate", "2027", str(late)], env=env).exit_code != 0

    with sessions() as session:  # the page, as the office signed in
        cookie = accounts.start_session(session, user=session.get_one(User, users.actors["office"].user_id))
        session.commit()
        codes = {sid: code for sid, code in session.execute(select(Suggestion.id, Suggestion.tracking_code))}
        items = {n.suggestion_id: n.source for n in session.scalars(select(Nomination))}
    assert items == {automatic: "automatic", outside: "manual", late: "manual"}
    page = TestClient(create_app(), follow_redirects=False)
    page.cookies.set(COOKIE, cookie)
    shown = page.get("/commendations/manage", params={"year": 2027})
    assert shown.status_code == 200 and shown.text.count("<td>征集办提名</td>") == 2
    found = re.search(r'name="csrftoken" value="([^"]+)"', shown.text)
    assert found
    wrong = page.post(
        "/commendations/manage/2027/nominations",
        data={"tracking_code": codes[refused], "csrftoken": found.group(1)},
    )
    assert wrong.status_code == 422 and 'id="e-tracking_code"' in wrong.text and codes[refused] in wrong.text
    unknown = page.post(
        "/commendations/manage/2027/nominations",
        data={"tracking_code": "JY0000NOPE", "csrftoken": found.group(1)},
    )
    assert unknown.status_code == 422 and "没有此跟踪编号的建议" in unknown.text

    # Reviewed and published like the automatic one: every nominee's step completed with its result.
    with sessions() as session:
        head, _ = auth.create_user(session, name="主任", role=Role.office, unit_code="city-office", head=True)
        for n in range(5):
            commendation.add_expert(session, actor=users.actors["office"], name=f"专家{n}", unit=None)
        cycle = commendation.draw_panel(session, actor=users.actors["office"], year=2027, seed="manual")
        for expert in cycle.panel or []:
            for sid, value in ((automatic, 70), (outside, 90), (late, 80)):
                commendation.score(
                    session,
                    actor=users.actors["office"],
                    year=2027,
                    expert_id=expert,
                    suggestion_id=sid,
                    value=value,
                )
        commendation.approve(
            session, actor=auth.actor_for(head), year=2027, now=AFTER_WINDOW + timedelta(days=9)
        )
        assert commendation.publish(session, year=2027, now=AFTER_WINDOW + timedelta(days=10)) == 3
        session.commit()
    with sessions() as session:
        for sid in (automatic, outside, late):
            step = session.scalar(
                select(Step).where(Step.suggestion_id == sid, Step.kind == StepKind.commendation_result)
            )
            assert step is not None and step.state is StepState.submitted and step.input["selected"] is True
        ranks = {n.suggestion_id: n.rank for n in session.scalars(select(Nomination))}
    assert ranks == {outside: 1, late: 2, automatic: 3}


def test_a_reviewer_scores_in_their_own_name(
    clock: Clock, users: Any, sessions: sessionmaker[Session], reports_home: Path
) -> None:
    theirs = implemented(clock, 0, IN_WINDOW)  # handled by city-transport: the reviewer's own unit
    other = implemented(clock, 1, IN_WINDOW + timedelta(hours=1))  # by city-edu
    http = TestClient(create_app())
    office = {"Authorization": f"Bearer {users.tokens['office']}"}
    assert http.post("/api/commendations/2027", headers=office).status_code == 201
    with sessions() as session:
        user, token = auth.create_user(
            session, name="专家 甲", role=Role.department, unit_code="city-transport"
        )
        session.commit()
        reviewer_user = user.id
    runner = CliRunner()  # the office links the reviewer's account to their expert record
    env = {"JIANYI_TOKEN": users.tokens["office"]}
    added = runner.invoke(
        app,
        ["commendation", "expert-add", "专家甲", "--unit", "city-transport", "--user", str(reviewer_user)],
        env=env,
    )
    assert added.exit_code == 0, added.output
    again = http.post(
        "/api/commendations/experts", headers=office, json={"name": "又一个", "user_id": reviewer_user}
    )
    assert again.status_code == 409  # one expert record per account
    for n in range(4):
        made = http.post("/api/commendations/experts", headers=office, json={"name": f"专家{n}"})
        assert made.status_code == 201
    assert http.post("/api/commendations/2027/panel", headers=office, json={"seed": "own"}).status_code == 200

    mine = {"Authorization": f"Bearer {token}"}
    scored = http.post(
        "/api/commendations/2027/my-scores", headers=mine, json={"suggestion_id": other, "score": 77}
    )
    assert scored.status_code == 200
    conflict = http.post(
        "/api/commendations/2027/my-scores", headers=mine, json={"suggestion_id": theirs, "score": 99}
    )
    assert conflict.status_code == 422 and "conflict" in conflict.text
    not_theirs = http.post(
        "/api/commendations/2027/my-scores", headers=office, json={"suggestion_id": other, "score": 10}
    )
    assert not_theirs.status_code == 403  # the office is no reviewer

    with sessions() as session:
        cookie = accounts.start_session(session, user=session.get_one(User, reviewer_user))
        session.commit()
    page = TestClient(create_app(), follow_redirects=False)
    page.cookies.set(COOKIE, cookie)
    shown = page.get("/commendations/review", params={"year": 2027})
    assert shown.status_code == 200 and f'id="item-{other}"' in shown.text
    assert f'id="item-{theirs}"' not in shown.text  # their own unit's item: left out
    assert 'value="77"' in shown.text
    found = re.search(r'name="csrftoken" value="([^"]+)"', shown.text)
    assert found
    url = f"/commendations/review/2027/{other}"
    wrong = page.post(url, data={"score": "150", "csrftoken": found.group(1)})
    assert wrong.status_code == 422 and f'id="e-score-{other}"' in wrong.text
    assert (
        page.post(
            f"/commendations/review/2027/{theirs}", data={"score": "90", "csrftoken": found.group(1)}
        ).status_code
        == 422
    )
    assert page.post(url, data={"score": "88", "csrftoken": found.group(1)}).status_code == 303
    with sessions() as session:
        expert_id = session.scalar(select(Expert.id).where(Expert.user_id == reviewer_user))
        scores = {n.suggestion_id: n.scores for n in session.scalars(select(Nomination))}
    assert scores[other][str(expert_id)] == 88 and str(expert_id) not in scores[theirs]
    with sessions() as session:  # an official who is no reviewer: refused
        cookie = accounts.start_session(session, user=session.get_one(User, users.actors["office"].user_id))
        session.commit()
    page.cookies.set(COOKIE, cookie)
    assert page.get("/commendations/review", params={"year": 2027}).status_code == 403
