"""Officials and their bearer tokens. Only a token's SHA-256 is stored; the token is shown once, and
it expires after the settings' ``token_days`` (rotating it gives a new one, deactivating revokes it).

Who may take suggestions in (intake, 受理) is decided here too: the suggestion offices, and the
intake staff of sub-districts and contact points, never a city department.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from jianyi.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from jianyi.models import Unit, User
from jianyi.models.base import utcnow
from jianyi.models.enums import OFFICE_KINDS, Role, UnitKind
from jianyi.services.actors import Actor
from jianyi.settings import get_settings

# Roles that act for one unit: a department user belongs to a department, an office user to an office.
ROLES_NEEDING_UNIT = {Role.office, Role.supervisor, Role.department}
# Units whose staff (role department) take suggestions in: the neighbourhood intake points.
INTAKE_UNIT_KINDS = frozenset({UnitKind.subdistrict, UnitKind.contact_point})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(now: datetime) -> tuple[str, str, datetime]:
    """A token, its stored hash, and when it expires."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token), now + timedelta(days=get_settings().token_days)


def create_user(
    session: Session,
    *,
    name: str,
    role: Role,
    unit_code: str | None,
    email: str | None = None,
    head: bool = False,
) -> tuple[User, str]:
    if role is Role.proposer:
        raise InvalidInput(
            "role: proposers do not get accounts", detail=[{"field": "role", "message": "proposer"}]
        )
    unit: Unit | None = None
    if unit_code is not None:
        unit = session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None:
            missing = f"no unit with code {unit_code!r}"
            raise InvalidInput(f"unit: {missing}", detail=[{"field": "unit", "message": missing}])
    if role in ROLES_NEEDING_UNIT and unit is None:
        raise InvalidInput(
            f"unit: a {role.value} user belongs to a unit", detail=[{"field": "unit", "message": "required"}]
        )
    if role in (Role.office, Role.supervisor) and unit is not None and unit.kind not in OFFICE_KINDS:
        raise InvalidInput(
            f"unit: a {role.value} user belongs to a suggestion office, not to {unit.name}",
            detail=[{"field": "unit", "message": "not an office"}],
        )
    now = utcnow()
    token, token_hash, expires_at = _new_token(now)
    user = User(
        name=name,
        role=role,
        unit_id=unit.id if unit else None,
        token_hash=token_hash,
        token_expires_at=expires_at,
        email=email,
        head=head,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user, token


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def rotate(session: Session, *, user_id: int) -> tuple[User, str]:
    """A new token for the user (the old one stops working at once); a deactivated user is
    reactivated, since handing them a token means they act again."""
    user = _user(session, user_id)
    token, user.token_hash, user.token_expires_at = _new_token(utcnow())
    user.active = True
    session.flush()
    return user, token


def deactivate(session: Session, *, user_id: int) -> User:
    """Revoke the user's token; their name stays on everything they did."""
    user = _user(session, user_id)
    user.active = False
    session.flush()
    return user


def list_users(session: Session) -> list[tuple[User, str | None]]:
    """Every official with their unit's code, by id."""
    rows = session.execute(select(User, Unit.code).outerjoin(Unit, Unit.id == User.unit_id).order_by(User.id))
    return [(user, code) for user, code in rows]


def actor_for(user: User | Row[int, Role, int | None, str, datetime]) -> Actor:
    """The caller a user is: from the entity, or from a row of its columns (``authenticate``)."""
    return Actor(
        label=f"user:{user.id}", role=user.role, user_id=user.id, unit_id=user.unit_id, name=user.name
    )


# Columns, not the entity, in a statement built once: every request authenticates, and the User
# object is never needed.
_BY_TOKEN = select(User.id, User.role, User.unit_id, User.name, User.token_expires_at).where(
    User.token_hash == bindparam("token_hash"), User.active.is_(True)
)


def authenticate(session: Session, *, token: str | None, now: datetime | None = None) -> Actor:
    if not token:
        raise NotAuthenticated("a bearer token is required")
    user = session.execute(_BY_TOKEN, {"token_hash": hash_token(token)}).one_or_none()
    if user is None:
        raise NotAuthenticated("unknown or revoked token")
    if user.token_expires_at <= (now or utcnow()):
        raise NotAuthenticated(
            f"token expired on {user.token_expires_at:%Y-%m-%d}; ask an administrator to rotate it"
        )
    return actor_for(user)


def check_may_take_in(session: Session, actor: Actor) -> None:
    """Intake (受理) is for the offices (their handlers and supervisors) and for the intake staff of
    sub-districts and contact points; a city department, a leader or an administrator is refused."""
    if actor.role in (Role.office, Role.supervisor) and actor.unit_id is not None:
        return  # their unit is a suggestion office (create_user sees to it)
    if actor.role is Role.department and actor.unit_id is not None:
        unit = session.get(Unit, actor.unit_id)
        if unit is not None and unit.kind in INTAKE_UNIT_KINDS:
            return
    raise Forbidden(
        "intake is for the suggestion offices and the intake staff of sub-districts and contact points"
    )
