"""Campaigns (主动征集) end to end on seeded data with the clock set: opened through the API, answered
by reference at intake (bad references refused, nothing stored), closed when its window ends (the
cycle run through the CLI, as the executor runs it), its collective feedback given through the API,
published on its public page without personal data and sent once to each participant."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clock import Clock
from pydantic import ValidationError
from reports_seed import clock, reports_home, sink
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support import ADOPT, SUGGESTION, triage

from jianyi.errors import InvalidInput
from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.models import Campaign, OutboxMessage, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.campaign_schemas import CampaignIn
from jianyi.models.enums import OutboxChannel, StepKind
from jianyi.runtime.smtp_sink import SmtpSink
from jianyi.services.cycles import campaigns

__all__ = ["clock", "reports_home", "sink"]  # fixtures
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
OPENS = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
PEOPLE = [
    {"name": "赵六", "email": "zhaoliu@example.com"},  # sends two suggestions: told once
    {"name": "钱七", "phone": "13900000007"},  # a mobile only: told by SMS
    {"anonymous": True},  # no contact: not told
]


def no_personal_data(text: str) -> None:
    for value in ("赵六", "zhaoliu@example.com", "钱七", "13900000007"):
        assert value not in text, value


@SQLITE
def test_a_campaign_through_the_api_and_the_cli(
    clock: Clock, users: Any, sessions: sessionmaker[Session], reports_home: Path, sink: SmtpSink
) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from jianyi.api.app import create_app
    from jianyi.cli.main import app

    http = TestClient(create_app())
    office = {"Authorization": f"Bearer {users.tokens['office']}"}
    closes = utcnow().replace(microsecond=0) + timedelta(days=1)  # open now: the API takes suggestions now
    form = {
        "code": "2026-transit",
        "topic": "公交线网优化",
        "explanation": "征集公交线网优化的意见建议",
        "host_units": ["city-transport"],
        "channels": ["campaign", "app"],
        "opens_at": OPENS.isoformat(),
        "closes_at": closes.isoformat(),
    }
    assert (
        http.post(
            "/api/campaigns", headers={"Authorization": f"Bearer {users.tokens['transport']}"}, json=form
        ).status_code
        == 403
    )
    bad = http.post("/api/campaigns", headers=office, json={**form, "host_units": ["nowhere"]})
    assert bad.status_code == 422 and "host_units" in bad.text
    made = http.post("/api/campaigns", headers=office, json=form)
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    assert http.post("/api/campaigns", headers=office, json=form).status_code == 409

    page = http.get(f"/api/public/campaigns/{campaign_id}")  # no token: the public page
    assert page.status_code == 200
    shown = page.json()
    assert (shown["topic"], shown["host_units"], shown["channels"]) == (
        "公交线网优化",
        ["上海市交通委员会"],
        ["主动征集", "随申办"],
    )
    assert shown["closes_at"].startswith(closes.strftime("%Y-%m-%dT%H:%M"))  # Art. 8: the deadline is public
    assert page.json()["feedback"] is None

    # Answered by reference through the API; a wrong reference or channel is refused and stores nothing.
    def answer(person: dict[str, Any], **extra: Any) -> Any:
        data = {**SUGGESTION, "channel": "campaign", "proposer": person, "campaign_id": campaign_id, **extra}
        return http.post("/api/suggestions", headers=office, json=data)

    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(Suggestion))
    unknown = answer(PEOPLE[0], campaign_id=999)
    assert unknown.status_code == 422 and "campaign_id" in unknown.text
    wrong = answer(PEOPLE[0], channel="letter", proposer={**PEOPLE[0], "address": "某路1号"})
    assert wrong.status_code == 422 and "channel" in wrong.text
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Suggestion)) == before
    ids = []
    for n, person in enumerate([PEOPLE[0], PEOPLE[0], PEOPLE[1], PEOPLE[2]]):
        taken = answer(person, title=f"公交线网优化建议{n + 1}")
        assert taken.status_code == 201, taken.text
        ids.append(taken.json()["id"])
    with sessions() as session:
        assert {s.campaign for s in session.scalars(select(Suggestion).where(Suggestion.id.in_(ids)))} == {
            "2026-transit"
        }
    # One is adopted by the transport commission.
    at = utcnow()
    clock.complete(ids[0], StepKind.triage, "office", triage(), at)
    clock.complete(ids[0], StepKind.opinion, "transport", ADOPT, at)
    clock.complete(ids[0], StepKind.review, "office", {"action": "accept"}, at)

    runner = CliRunner()
    env = {"JIANYI_TOKEN": users.tokens["office"]}
    early = http.post(
        f"/api/campaigns/{campaign_id}/feedback",
        headers=office,
        json={"summary": "感谢参与", "next_steps": "持续推进"},
    )
    assert early.status_code == 409  # still open
    before_close = runner.invoke(
        app,
        [
            "campaign",
            "run",
            str(campaign_id),
            "--local",
            "--now",
            (closes - timedelta(minutes=1)).isoformat(),
        ],
        env=env,
    )
    assert before_close.exit_code == 0 and json.loads(before_close.stdout)["state"] == "open"
    after = closes + timedelta(hours=1)
    with sessions() as session:
        assert campaigns.due_to_close(session, now=after) == [campaign_id]
    closed = runner.invoke(
        app, ["campaign", "run", str(campaign_id), "--local", "--now", after.isoformat()], env=env
    )
    assert closed.exit_code == 0, closed.output
    shown = json.loads(closed.stdout)
    assert shown["state"] == "awaiting_feedback"
    assert shown["participation"]["suggestions"] == 4 and shown["participation"]["by_channel"] == {
        "主动征集": 4
    }
    late = answer(PEOPLE[1])
    assert late.status_code == 422 and "not open" in late.text  # the window has closed

    given = http.post(
        f"/api/campaigns/{campaign_id}/feedback",
        headers=office,
        json={"summary": "共收到意见建议，已分类研究。", "next_steps": "明年一季度调整3条线路"},
    )
    assert given.status_code == 200 and given.json()["state"] == "feedback_given"
    assert (
        http.post(
            f"/api/campaigns/{campaign_id}/feedback",
            headers=office,
            json={"summary": "再次", "next_steps": "再次"},
        ).status_code
        == 409
    )
    published = runner.invoke(app, ["campaign", "run", str(campaign_id), "--local"], env=env)
    assert published.exit_code == 0 and json.loads(published.stdout)["state"] == "published"
    again = runner.invoke(app, ["campaign", "run", str(campaign_id), "--local"], env=env)
    assert again.exit_code == 0

    page = http.get(f"/api/public/campaigns/{campaign_id}").json()
    feedback = page["feedback"]
    assert feedback["participation"]["suggestions"] == 4 and feedback["next_steps"] == "明年一季度调整3条线路"
    [adopted] = feedback["adopted"]
    assert adopted["title"] == "公交线网优化建议1" and adopted["decision"] == "采纳" and adopted["unit"]
    no_personal_data(json.dumps(page, ensure_ascii=False))
    public_cli = runner.invoke(app, ["campaign", "show", str(campaign_id), "--public"])
    assert public_cli.exit_code == 0 and json.loads(public_cli.stdout)["state"] == "published"
    no_personal_data(public_cli.stdout)

    # Sent once to each participant with a contact: one e-mail for two suggestions, one SMS, none to
    # the anonymous one.
    with sessions() as session:
        told = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "campaign_feedback")).all()
    assert sorted((m.channel, m.to_addr) for m in told) == [
        (OutboxChannel.email, "zhaoliu@example.com"),
        (OutboxChannel.sms, "13900000007"),
    ]
    dispatcher = OutboxDispatcher(sessionmaker=sessions, host=sink.host, port=sink.port)
    while asyncio.run(dispatcher.run_once()):
        pass
    mails = [m for m in sink.messages if m["Subject"] == "【集中反馈】公交线网优化"]
    assert [m["To"] for m in mails] == ["zhaoliu@example.com"]
    assert "明年一季度调整3条线路" in mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with sessions() as session:
        assert session.get_one(Campaign, campaign_id).published_at is not None


def test_a_campaigns_deadline_profile_must_be_switched_on_for_it_in_the_rules(
    sessions: sessionmaker[Session], users: Any
) -> None:
    data = {
        "code": "2026-flood",
        "topic": "防汛",
        "explanation": "应急征集",
        "host_units": ["city-transport"],
        "channels": ["campaign"],
        "opens_at": OPENS.isoformat(),
        "closes_at": (OPENS + timedelta(days=7)).isoformat(),
    }
    with sessions() as session:
        for profile, field in (("nowhere", "no profile"), ("emergency", "not switched on")):
            with pytest.raises(InvalidInput, match=field) as refused:
                campaigns.create(
                    session,
                    actor=users.actors["office"],
                    data=CampaignIn.model_validate({**data, "deadline_profile": profile}),
                    now=OPENS,
                )
            assert refused.value.detail == [
                {"field": "deadline_profile", "message": refused.value.detail[0]["message"]}
            ]
        with pytest.raises(ValidationError, match="closes_at"):
            CampaignIn.model_validate({**data, "closes_at": OPENS.isoformat()})
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0
