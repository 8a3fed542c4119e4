"""Officials' sign-in on the web pages: passwords (argon2, pwdlib), lockout after repeated wrong
passwords, and server-side sessions that expire. The API's bearer tokens are services/auth.py.

A wrong login name and a wrong password are answered alike; after ``MAX_FAILURES`` wrong passwords
in a row the account is locked for ``LOCK_MINUTES`` (the right password is refused meanwhile).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from jianyi.errors import InvalidInput, JianyiError, NotAuthenticated
from jianyi.models import User, WebSession
from jianyi.models.base import utcnow
from jianyi.services import audit, auth
from jianyi.services.actors import Actor
from jianyi.settings import get_settings

MAX_FAILURES, LOCK_MINUTES = 5, 15
MIN_PASSWORD = 10
_hasher = PasswordHash.recommended()  # argon2id
# Compared against when the login name is unknown, so that both cost the same time.
_DUMMY = _hasher.hash("not a password of anyone")


class Locked(JianyiError):
    status_code = 429
    code = "locked"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_password(session: Session, *, user_id: int, login: str, password: str) -> User:
    """Give an official a login name and a password (it unlocks the account)."""
    if len(password) < MIN_PASSWORD:
        message = f"at least {MIN_PASSWORD} characters"
        raise InvalidInput(f"password: {message}", detail=[{"field": "password", "message": message}])
    login = login.strip()
    if not login or len(login) > 64:
        raise InvalidInput("login: 1 to 64 characters", detail=[{"field": "login", "message": "1 to 64"}])
    taken = session.scalar(select(User.id).where(User.login == login, User.id != user_id))
    if taken is not None:
        raise InvalidInput(f"login: {login!r} is taken", detail=[{"field": "login", "message": "taken"}])
    user = session.get(User, user_id)
    if user is None:
        raise InvalidInput(f"user: no user {user_id}", detail=[{"field": "user", "message": "unknown"}])
    user.login, user.password_hash = login, _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    return user


def check_password(session: Session, *, login: str, password: str, now: datetime | None = None) -> User:
    """The official whose login and password these are; a wrong one is counted (the caller commits
    the count even when this raises)."""
    now = now or utcnow()
    user = session.scalar(select(User).where(User.login == login.strip(), User.active.is_(True)))
    if user is None or user.password_hash is None:
        _hasher.verify(password, _DUMMY)
        raise NotAuthenticated("wrong login name or password")
    if user.locked_until is not None and user.locked_until > now:
        raise Locked(f"locked until {user.locked_until:%H:%M} UTC after repeated wrong passwords")
    if not _hasher.verify(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until, user.failed_logins = now + timedelta(minutes=LOCK_MINUTES), 0
            audit.record(
                session, actor=auth.actor_for(user), action="user.locked", detail={"user_id": user.id}
            )
        session.flush()
        raise NotAuthenticated("wrong login name or password")
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    return user


def start_session(session: Session, *, user: User, now: datetime | None = None) -> str:
    """A new web session for the user: the token for the cookie (only its hash is stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    hours = get_settings().session_hours
    session.add(
        WebSession(
            token_hash=_hash(token), user_id=user.id, created_at=now, expires_at=now + timedelta(hours=hours)
        )
    )
    session.execute(delete(WebSession).where(WebSession.expires_at < now))  # the expired ones go
    session.flush()
    return token


_BY_SESSION = select(User).join(WebSession, WebSession.user_id == User.id).where(User.active.is_(True))


def signed_in(session: Session, *, token: str | None, now: datetime | None = None) -> Actor | None:
    """The official a session cookie belongs to, while the session lasts."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    user = session.scalar(
        _BY_SESSION.where(WebSession.token_hash == _hash(token), WebSession.expires_at > now)
    )
    return auth.actor_for(user) if user is not None else None


def end_session(session: Session, *, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
