"""The authorization matrix's machinery: the app's routes, the seeded cases, the actors and their
clients (bearer token for the API, a signed-in session cookie for the pages), one request per cell."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from databases import Users
from engine import EngineDriver
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute, Mount
from support import NOT_ADOPT, SUGGESTION, triage

from jianyi.models import Step, Suggestion, User
from jianyi.models.base import utcnow
from jianyi.models.campaign_schemas import CampaignIn
from jianyi.models.enums import Role, StepKind, StepState
from jianyi.services import accounts, auth, clocks
from jianyi.services.cycles import campaigns
from jianyi.services.cycles.digest import compile_digest
from jianyi.web.accounts import COOKIE

# The columns: public (no credentials), then each role; "own" is the unit the seeded case is
# referred to (city-transport, lead), "other" a unit it is not (city-housing), "district" another
# suggestion office (huangpu) than the one handling it (the city office).
ACTORS = ("public", "admin", "office", "district", "supervisor", "leader", "own", "other")
USER_OF = {
    "office": "office",
    "district": "huangpu",
    "supervisor": "supervisor",
    "own": "transport",
    "other": "housing",
    "admin": "admin",
}

PROPOSER = {"name": "张三", "email": "zhangsan@example.com", "phone": "13800000000", "address": "长宁路100号"}
SECRET = {"name": "李秘密", "email": "limimi@example.com", "phone": "13911112222", "address": "淮海中路8号"}


def route_keys(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    """Every "METHOD /path" the app answers, through included routers (HEAD goes with GET)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from route_keys(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        elif isinstance(route, Mount):
            yield f"MOUNT {prefix}{route.path}"
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield f"{method} {prefix}{getattr(route, 'path', '')}"


def csrf(client: TestClient) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', client.get("/login").text)
    assert found, "the login form carries no CSRF token"
    return found.group(1)


def _do(driver: EngineDriver, who: str, suggestion_id: int, kind: StepKind, payload: dict[str, Any]) -> int:
    [step] = [s for s in driver.open_steps(suggestion_id) if s.kind is kind]
    driver.complete(who, suggestion_id, step.id, payload)
    driver.advance(suggestion_id)
    return step.id


@dataclass
class World:
    """The seeded records whose ids fill the paths, and how to make a fresh one for a mutation."""

    driver: EngineDriver
    sessions: sessionmaker[Session]
    users: Users
    ids: dict[str, Any] = field(default_factory=dict)
    years: Iterator[int] = field(default_factory=lambda: itertools.count(2030))  # commendation cycles
    numbers: Iterator[int] = field(default_factory=itertools.count)  # unique codes
    clients: dict[str, tuple[TestClient, dict[str, str]]] = field(default_factory=dict)

    def case(self, proposer: dict[str, str], who: str = "office", refer: bool = True) -> dict[str, Any]:
        """A suggestion taken in by ``who``'s office; referred to city-transport (its opinion step open)."""
        data = copy.deepcopy(SUGGESTION)
        data["proposer"] = dict(proposer)
        suggestion_id = self.driver.submit(data, who=who)
        if refer:
            _do(self.driver, who, suggestion_id, StepKind.triage, triage())
        else:
            self.driver.advance(suggestion_id)
        with self.sessions() as session:
            suggestion = session.get_one(Suggestion, suggestion_id)
            rows = session.execute(
                select(Step.kind, Step.id).where(
                    Step.suggestion_id == suggestion_id, Step.state == StepState.open
                )
            )
            opened = {kind: step_id for kind, step_id in rows}
            codes = {"tracking_code": suggestion.tracking_code, "check": suggestion.check_code}
        first = opened.get(StepKind.opinion, opened.get(StepKind.triage))
        return {
            "suggestion_id": suggestion_id,
            "step_id": first,
            "objection_id": opened.get(StepKind.objection),
            **codes,
        }

    def rating_case(self) -> dict[str, Any]:
        """A case answered and replied to: its proposer's rating step open."""
        ids = self.case(PROPOSER)
        suggestion_id = ids["suggestion_id"]
        _do(self.driver, "transport", suggestion_id, StepKind.opinion, NOT_ADOPT)
        _do(self.driver, "office", suggestion_id, StepKind.review, {"action": "accept"})
        _do(self.driver, "office", suggestion_id, StepKind.reply, {"method": "phone", "text": "已电话答复"})
        return ids

    def digest(self) -> dict[str, Any]:
        """An important case awaiting the leader's instruction, in a digest of its own (compiled,
        not rendered: its PDF and HTML are the renderer's, not this matrix's)."""
        data = copy.deepcopy(SUGGESTION)
        data["proposer"] = dict(PROPOSER)
        suggestion_id = self.driver.submit(data)
        _do(self.driver, "office", suggestion_id, StepKind.triage, triage(level="important"))
        held = {
            "held_at": "2026-11-20T09:00:00+08:00",
            "method": "phone",
            "participants": "张三",
            "refined": "问题真",
        }
        _do(self.driver, "office", suggestion_id, StepKind.pre_report_communication, held)
        with self.sessions() as session:
            issue = compile_digest(session, now=utcnow(), by="matrix")
            assert issue is not None
            session.commit()
            code = session.get_one(Suggestion, suggestion_id).tracking_code
            return {"suggestion_id": suggestion_id, "digest_id": issue.id, "tracking_code": code}

    def paused_case(self) -> dict[str, Any]:
        ids = self.case(PROPOSER)
        with self.sessions() as session:
            clocks.pause(
                session,
                actor=self.users.actors["transport"],
                step_id=ids["step_id"],
                reason="等建议人补充材料",
            )
            session.commit()
        return ids

    def campaign(self) -> int:
        now = utcnow()
        data = CampaignIn.model_validate(
            {
                "code": f"matrix-c{next(self.numbers)}",
                "topic": "公交线路优化",
                "explanation": "征集意见",
                "host_units": ["city-transport"],
                "channels": ["web"],
                "opens_at": (now - timedelta(days=1)).isoformat(),
                "closes_at": (now - timedelta(hours=1)).isoformat(),
            }
        )
        with self.sessions() as session:
            campaign = campaigns.create(
                session, actor=self.users.actors["office"], data=data, now=now - timedelta(days=2)
            )
            session.commit()
            return campaign.id


def sign_in(client: TestClient, sessions: sessionmaker[Session], users: Users, column: str) -> None:
    """A web session for the column's official, as the login form would start it (its cookie)."""
    with sessions() as session:
        user = session.get_one(User, users.actors[USER_OF.get(column, column)].user_id)
        cookie = accounts.start_session(session, user=user)
        session.commit()
    client.cookies.set(COOKIE, cookie)


def clients(
    app: Any, sessions: sessionmaker[Session], users: Users
) -> dict[str, tuple[TestClient, dict[str, str]]]:
    """Per column: a client (signed in to the pages by a session cookie) and its API headers."""
    with sessions() as session:
        leader, token = auth.create_user(session, name="市领导 吴", role=Role.leader, unit_code=None)
        session.commit()
        users.actors["leader"] = auth.actor_for(leader)
        users.tokens["leader"] = token
    out: dict[str, tuple[TestClient, dict[str, str]]] = {}
    for number, column in enumerate(ACTORS, start=1):
        # Each column its own address: the public routes' rate limits count per client.
        address = (f"192.0.2.{number}", 50000)
        client = TestClient(
            app, raise_server_exceptions=False, follow_redirects=False, client=address
        ).__enter__()
        headers: dict[str, str] = {}
        if column != "public":
            sign_in(client, sessions, users, column)
            headers = {"Authorization": f"Bearer {users.tokens[USER_OF.get(column, column)]}"}
        out[column] = (client, headers)
    return out


Payload = Callable[[dict[str, Any]], dict[str, Any]]
