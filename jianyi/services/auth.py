"""Officials and their bearer tokens. Only a token's SHA-256 is stored; the token is shown once."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from jianyi.errors import InvalidInput, NotAuthenticated
from jianyi.models import Unit, User
from jianyi.models.enums import OFFICE_KINDS, Role
from jianyi.services.actors import Actor

# Roles that act for one unit: a department user belongs to a department, an office user to an office.
ROLES_NEEDING_UNIT = {Role.office, Role.supervisor, Role.department}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
            raise InvalidInput(
                f"unit: no unit with code {unit_code!r}",
                detail=[{"field": "unit", "message": "unknown unit"}],
            )
    if role in ROLES_NEEDING_UNIT and unit is None:
        raise InvalidInput(
            f"unit: a {role.value} user belongs to a unit", detail=[{"field": "unit", "message": "required"}]
        )
    if role in (Role.office, Role.supervisor) and unit is not None and unit.kind not in OFFICE_KINDS:
        raise InvalidInput(
            f"unit: a {role.value} user belongs to a suggestion office, not to {unit.name}",
            detail=[{"field": "unit", "message": "not an office"}],
        )
    token = secrets.token_urlsafe(32)
    user = User(
        name=name,
        role=role,
        unit_id=unit.id if unit else None,
        token_hash=hash_token(token),
        email=email,
        head=head,
    )
    session.add(user)
    session.flush()
    return user, token


def actor_for(user: User | Row[int, Role, int | None, str]) -> Actor:
    """The caller a user is: from the entity, or from a row of its columns (``authenticate``)."""
    return Actor(
        label=f"user:{user.id}", role=user.role, user_id=user.id, unit_id=user.unit_id, name=user.name
    )


# Columns, not the entity, in a statement built once: every request authenticates, and the User
# object is never needed.
_BY_TOKEN = select(User.id, User.role, User.unit_id, User.name).where(
    User.token_hash == bindparam("token_hash"), User.active.is_(True)
)


def authenticate(session: Session, *, token: str | None) -> Actor:
    if not token:
        raise NotAuthenticated("a bearer token is required")
    user = session.execute(_BY_TOKEN, {"token_hash": hash_token(token)}).one_or_none()
    if user is None:
        raise NotAuthenticated("unknown or revoked token")
    return actor_for(user)
