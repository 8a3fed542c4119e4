"""Tokens and who may do what, through the HTTP API (issue 14, item 9): an expired token is refused,
and intake is for the offices and the intake staff of sub-districts and contact points."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from support import SUGGESTION

from jianyi.models import Suggestion, User
from jianyi.models.base import utcnow
from jianyi.models.enums import Role
from jianyi.services import auth


def _headers(users: Any, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users.tokens[who]}"}


def test_an_expired_token_is_refused(http: TestClient, sessions: sessionmaker[Session], users: Any) -> None:
    assert http.get("/api/units", headers=_headers(users, "transport")).status_code == 200
    with sessions() as session:
        session.execute(
            update(User)
            .where(User.name == "市交通委 赵经办")
            .values(token_expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    expired = http.get("/api/units", headers=_headers(users, "transport"))
    assert expired.status_code == 401 and "expired" in expired.json()["message"]


def test_intake_is_for_the_offices_and_the_intake_points(
    http: TestClient, sessions: sessionmaker[Session], users: Any
) -> None:
    with sessions() as session:
        tokens = {
            unit: auth.create_user(session, name=f"{unit} 受理员", role=Role.department, unit_code=unit)[1]
            for unit in ("huangpu-nanjingdonglu", "huangpu-nanjingdonglu-contact")
        }
        session.commit()

    def intake(token: str, ref: str) -> Any:
        data = {**SUGGESTION, "channel_ref": ref}
        return http.post("/api/suggestions", json=data, headers={"Authorization": f"Bearer {token}"})

    for n, who in enumerate(("transport", "admin")):
        refused = intake(users.tokens[who], f"refused-{n}")
        assert refused.status_code == 403, (who, refused.text)
    # A department is refused even for a channel reference already taken in: it learns nothing.
    assert intake(users.tokens["office"], "known").status_code == 201
    assert intake(users.tokens["transport"], "known").status_code == 403
    for n, token in enumerate(tokens.values()):
        taken = intake(token, f"station-{n}")
        assert taken.status_code == 201, taken.text
        with sessions() as session:
            suggestion = session.get_one(Suggestion, taken.json()["id"])
            assert suggestion.office_unit_id != suggestion.intake_unit_id  # handled by the district office
    for who in ("office", "huangpu", "supervisor"):
        assert intake(users.tokens[who], f"office-{who}").status_code == 201
