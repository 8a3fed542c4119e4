"""The annual commendation (表彰奖励) end to end on seeded data with the clock set: 150 items
implemented in the window nominated automatically, a panel drawn reproducibly from a seed, conflicted
reviewers refused, scores, the ranking with its tie rule, the head's approval, and publication
completing every nominated step at once: exactly the quota per tier commended, the rest closed as
implemented, each proposer told once, a public list without personal data. Through the API and the CLI."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from commendation_seed import implemented
from reports_seed import clock, reports_home
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jianyi.models import Expert, Nomination, OutboxMessage, Step, Suggestion
from jianyi.models.enums import Outcome, Role, StepKind, StepState
from jianyi.services import auth
from jianyi.services.cycles import commendation
from jianyi.services.lifecycle.engine import advance

__all__ = ["clock", "reports_home"]  # fixtures
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
ITEMS = 150


@SQLITE
def test_a_commendation_cycle_of_150_nominations(
    clock: Clock, users: Any, sessions: sessionmaker[Session], reports_home: Path
) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from jianyi.api.app import create_app
    from jianyi.cli.main import app

    ids = [implemented(clock, n, START + timedelta(hours=n)) for n in range(ITEMS)]
    outside = implemented(
        clock, 999, datetime(2027, 11, 3, 2, 0, tzinfo=UTC)
    )  # after the window: not nominated
    with sessions() as session:
        _head, head_token = auth.create_user(
            session, name="市征集办 主任", role=Role.office, unit_code="city-office", head=True
        )
        session.commit()
    http = TestClient(create_app())
    office = {"Authorization": f"Bearer {users.tokens['office']}"}
    opened = http.post("/api/commendations/2027", headers=office)
    assert opened.status_code == 201, opened.text
    assert opened.json()["nominations"] == ITEMS and opened.json()["state"] == "nominating"
    assert http.post("/api/commendations/2027", headers=office).status_code == 409

    pool = []
    for name, unit in (
        ("交通专家甲", "city-transport"),
        ("交通专家乙", "city-transport"),
        ("教育专家", "city-edu"),
        ("专家丁", None),
        ("专家戊", None),
        ("专家己", None),
        ("专家庚", None),
    ):
        made = http.post("/api/commendations/experts", headers=office, json={"name": name, "unit": unit})
        assert made.status_code == 201
        pool.append(made.json()["id"])
    runner = CliRunner()
    env = {"JIANYI_TOKEN": users.tokens["office"]}
    drawn = runner.invoke(app, ["commendation", "draw", "2027", "--seed", "2027-panel"], env=env)
    assert drawn.exit_code == 0, drawn.output
    panel = json.loads(drawn.stdout)["panel"]
    assert panel == sorted(random.Random("2027-panel").sample(sorted(pool), 5))  # reproducible from the seed

    with sessions() as session:
        experts = {e.id: e for e in session.scalars(select(Expert))}
        leads = {
            s.id: s.lead_unit_id for s in session.scalars(select(Suggestion).where(Suggestion.id.in_(ids)))
        }
    conflicted = [(e, s) for e in panel for s in ids if experts[e].unit_id == leads[s]]
    clean = [(e, s) for e in panel for s in ids if experts[e].unit_id != leads[s]]
    if conflicted:  # a reviewer of the handling unit is refused, through the API
        expert, item = conflicted[0]
        refused = http.post(
            "/api/commendations/2027/scores",
            headers=office,
            json={"expert_id": expert, "suggestion_id": item, "score": 90},
        )
        assert refused.status_code == 422 and "conflict" in refused.text
    off_panel = next(e for e in pool if e not in panel)
    assert (
        http.post(
            "/api/commendations/2027/scores",
            headers=office,
            json={"expert_id": off_panel, "suggestion_id": ids[0], "score": 90},
        ).status_code
        == 422
    )

    # Scores: the first two items tie at the top (the earlier implemented ranks first).
    def value(expert: int, item: int) -> int:
        return 100 if item in ids[:2] else (item * 37 + expert * 11) % 90

    first = clean[0]
    assert (
        http.post(
            "/api/commendations/2027/scores",
            headers=office,
            json={"expert_id": first[0], "suggestion_id": first[1], "score": value(*first)},
        ).status_code
        == 200
    )
    with sessions() as session:
        for expert, item in clean[1:]:
            commendation.score(
                session,
                actor=users.actors["office"],
                year=2027,
                expert_id=expert,
                suggestion_id=item,
                value=value(expert, item),
            )
        session.commit()

    assert http.post("/api/commendations/2027/approve", headers=office).status_code == 403  # not the head
    approved = http.post("/api/commendations/2027/approve", headers={"Authorization": f"Bearer {head_token}"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["selected"] == {"一等奖": 10, "二等奖": 30, "三等奖": 60}
    with sessions() as session:
        ranked = {n.suggestion_id: n for n in session.scalars(select(Nomination))}
    assert (ranked[ids[0]].rank, ranked[ids[1]].rank) == (1, 2)

    published = runner.invoke(app, ["commendation", "publish", "2027", "--local"], env=env)
    assert published.exit_code == 0, published.output
    again = runner.invoke(app, ["commendation", "publish", "2027", "--local"], env=env)
    assert again.exit_code == 0
    # Every waiting run resumes (the executor's attempt) and closes.
    with sessions() as session:
        for sid in ids:
            step = session.scalar(
                select(Step).where(Step.suggestion_id == sid, Step.kind == StepKind.commendation_result)
            )
            assert step is not None and step.state is StepState.submitted
            advance(session, suggestion_id=sid, now=datetime(2027, 11, 20, tzinfo=UTC))
        session.commit()
    with sessions() as session:
        outcomes = dict(
            session.execute(
                select(Suggestion.outcome, func.count())
                .where(Suggestion.id.in_(ids))
                .group_by(Suggestion.outcome)
            ).all()
        )
        assert outcomes == {Outcome.commended: 100, Outcome.implemented: 50}
        assert session.get_one(Suggestion, outside).outcome is None  # still waits: not in the window
        told = dict(
            session.execute(
                select(OutboxMessage.suggestion_id, func.count())
                .where(OutboxMessage.kind == "commendation", OutboxMessage.suggestion_id.in_(ids))
                .group_by(OutboxMessage.suggestion_id)
            ).all()
        )
    selected = {sid for sid, n in ranked.items() if n.tier is not None}
    assert set(told) == selected and set(told.values()) == {1}  # each commended proposer told once

    listing = http.get("/api/public/commendations/2027")  # no token
    assert listing.status_code == 200
    rows = listing.json()
    assert len(rows) == 100 and [r["rank"] for r in rows] == list(range(1, 101))
    assert {r["tier"] for r in rows[:10]} == {"一等奖"} and rows[0]["title"] == "优秀建议候选000"
    text = json.dumps(rows, ensure_ascii=False)
    assert "建议人" not in text and "@example.com" not in text
    shown = runner.invoke(app, ["commendation", "show", "2027", "--public"])
    assert shown.exit_code == 0 and len(json.loads(shown.stdout)["commended"]) == 100
