"""The campaigns' pages in-process (TestClient) on this test's database, SQLite or PostgreSQL: the office
opens a campaign from its form (errors beside their fields, nothing stored), the public page shows
what Art. 8 wants and takes a suggestion by reference (CSRF, honeypot), a closed one takes none, the
office's collective feedback is published on the public page without personal data, sent once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from jianyi.api.app import create_app
from jianyi.models import Campaign, OutboxMessage, Suggestion, User
from jianyi.models.base import utcnow
from jianyi.models.enums import Channel, StepKind
from jianyi.rules.calendar import SHANGHAI
from jianyi.services import accounts
from jianyi.web.accounts import COOKIE

FORM = {
    "title": "关于增开夜间公交线路的建议",
    "problem": "夜间下班后没有公交可乘。",
    "proposal": "增开23点后的夜宵线。",
    "name": "李四",
    "email": "lisi-campaign@example.com",
    "phone": "13912345678",
}


@pytest.fixture
def http(cli_on: None) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def _token(text: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def _sign_in(http: TestClient, sessions: sessionmaker[Session], user_id: int) -> str:
    with sessions() as session:
        token = accounts.start_session(session, user=session.get_one(User, user_id))
        session.commit()
    http.cookies.set(COOKIE, token)
    return _token(http.get("/login").text)


def _local(delta: timedelta) -> str:
    """A datetime-local input's value (Shanghai wall time)."""
    return (utcnow() + delta).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def _open_campaign(http: TestClient, token: str, **change: Any) -> Any:
    form = {
        "topic": "夜间公交<script>x</script>线路优化",
        "explanation": "围绕夜间出行需求，征集线路优化建议。",
        "code": "night-bus",
        "host_units": "city-transport，city-police",
        "channels": ["web", "app"],
        "opens_at": _local(-timedelta(hours=1)),
        "closes_at": _local(timedelta(days=10)),
        "csrftoken": token,
        **change,
    }
    return http.post("/campaigns/manage", data=form)


def test_a_campaign_is_opened_answered_and_its_feedback_published(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    token = _sign_in(http, sessions, users.actors["office"].user_id)
    assert http.get("/campaigns/manage").status_code == 200
    wrong = _open_campaign(
        http, token, host_units="no-such-unit", channels=[], closes_at=_local(-timedelta(days=1))
    )
    assert wrong.status_code == 422 and 'id="e-channels"' in wrong.text
    unknown = _open_campaign(http, token, host_units="no-such-unit")
    assert (
        unknown.status_code == 422 and 'id="e-host_units"' in unknown.text and "no-such-unit" in unknown.text
    )
    with sessions() as session:
        assert session.query(Campaign).count() == 0  # nothing stored
    made = _open_campaign(http, token)
    assert made.status_code == 303
    campaign_id = int(made.headers["location"].rsplit("/", 1)[1])
    assert _open_campaign(http, token).status_code == 422  # the code is taken

    public = TestClient(http.app, raise_server_exceptions=False, follow_redirects=False)
    listing = public.get("/campaigns")
    assert listing.status_code == 200 and f'href="/campaigns/{campaign_id}"' in listing.text
    page = public.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200 and "&lt;script&gt;" in page.text  # escaped
    for shown in (
        "围绕夜间出行需求",
        "上海市交通委员会、上海市公安局",
        "网上征集页面",
        "随申办",
        'id="deadline"',
    ):
        assert shown in page.text, shown
    token = _token(page.text)
    answer = {**FORM, "campaign": str(campaign_id)}
    assert public.post("/campaigns/suggest", data=answer).status_code == 403  # no CSRF token
    robot = public.post("/campaigns/suggest", data={**answer, "csrftoken": token, "website": "x"})
    assert robot.status_code == 400
    short = public.post("/campaigns/suggest", data={**answer, "title": "短", "csrftoken": token})
    assert short.status_code == 422 and 'id="e-title"' in short.text and "夜间下班后" in short.text
    receipt = public.post("/campaigns/suggest", data={**answer, "csrftoken": token})
    assert receipt.status_code == 200 and 'id="tracking-code"' in receipt.text
    with sessions() as session:
        stored = session.query(Suggestion).one()
        assert stored.campaign == "night-bus" and stored.channel is Channel.web
    # At triage the campaign's host units are proposed (no routing rows of its own in the rules).
    driver = EngineDriver(sessions, users)
    driver.advance(stored.id)
    [triage] = [s for s in driver.open_steps(stored.id) if s.kind is StepKind.triage]
    desk = http.get(f"/steps/{triage.id}")
    assert 'id="proposal"' in desk.text and "campaign:night-bus" in desk.text
    assert 'name="lead_unit" value="city-transport"' in desk.text and 'value="city-police"' in desk.text

    with sessions() as session:  # the clock moves past the window's end
        campaign = session.get_one(Campaign, campaign_id)
        campaign.closes_at = utcnow() - timedelta(minutes=1)
        session.commit()
    closed = public.get(f"/campaigns/{campaign_id}")
    assert 'id="closed"' in closed.text and 'id="suggest-form"' not in closed.text
    late = public.post("/campaigns/suggest", data={**answer, "csrftoken": token})
    assert late.status_code == 422 and "本次征集已经截止" in late.text
    assert 'action="/suggest"' in late.text and FORM["problem"] in late.text  # kept, to send anyway
    with sessions() as session:
        assert session.query(Suggestion).count() == 1  # the late one is not stored

    desk = http.get(f"/campaigns/manage/{campaign_id}")
    assert desk.status_code == 200 and 'id="feedback-form"' in desk.text
    token = _token(desk.text)
    empty = http.post(f"/campaigns/manage/{campaign_id}/feedback", data={"summary": "", "csrftoken": token})
    assert empty.status_code == 422 and 'id="e-summary"' in empty.text and 'id="e-next_steps"' in empty.text
    feedback = {"summary": "共收到夜间公交建议，整理形成三条线路方案。", "next_steps": "明年一季度试运行。"}
    given = http.post(f"/campaigns/manage/{campaign_id}/feedback", data={**feedback, "csrftoken": token})
    assert given.status_code == 303
    with sessions() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert campaign.state == "published" and campaign.participation["by_channel"] == {"网上征集页面": 1}
        [sent] = session.query(OutboxMessage).filter_by(kind="campaign_feedback").all()
        assert sent.to_addr == FORM["email"]
    shown = public.get(f"/campaigns/{campaign_id}").text
    assert 'id="feedback"' in shown and feedback["summary"] in shown and feedback["next_steps"] in shown
    for personal in (FORM["name"], FORM["email"], FORM["phone"]):
        assert personal not in shown
    assert f'href="/campaigns/{campaign_id}"' in public.get("/campaigns").text  # among the published
    again = http.post(f"/campaigns/manage/{campaign_id}/feedback", data={**feedback, "csrftoken": token})
    assert again.status_code == 409  # once

    _sign_in(http, sessions, users.actors["transport"].user_id)  # a department: not its desk
    assert http.get("/campaigns/manage").status_code == 403
    assert http.get(f"/campaigns/manage/{campaign_id}").status_code == 403
