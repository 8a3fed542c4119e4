"""Request dependencies: a database session the handler commits, and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from jianyi.db import get_read_sessionmaker, get_sessionmaker
from jianyi.services import auth
from jianyi.services.actors import Actor

bearer = HTTPBearer(auto_error=False, description="the token `jianyi users add` printed")


def get_session(request: Request) -> Iterator[Session]:
    # The handler owns the transaction and commits before it answers; anything left is rolled back.
    # GET handlers only read (they never commit): their sessions take no write lock.
    makers = get_read_sessionmaker if request.method in ("GET", "HEAD") else get_sessionmaker
    session = makers()()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str | None:
    return credentials.credentials if credentials else None


BearerToken = Annotated[str | None, Depends(bearer_token)]


def get_actor(session: SessionDep, token: BearerToken) -> Actor:
    return auth.authenticate(session, token=token)


CurrentActor = Annotated[Actor, Depends(get_actor)]
