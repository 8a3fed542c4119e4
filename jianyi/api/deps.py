"""Request dependencies: the request's unit of work, and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from jianyi.db import get_read_sessionmaker, get_sessionmaker
from jianyi.services import auth
from jianyi.services.actors import Actor
from jianyi.services.figures.snapshots import FigureSnapshots

bearer = HTTPBearer(auto_error=False, description="the token `jianyi users add` printed")

_READS = ("GET", "HEAD")


def get_session(request: Request) -> Iterator[Session]:
    """The request's one transaction: committed when the handler returns, rolled back if it raises.

    GET and HEAD only read: their sessions take no write lock (jianyi/db.py) and are never committed.
    """
    writes = request.method not in _READS
    session = (get_sessionmaker if writes else get_read_sessionmaker)()()
    try:
        yield session
        if writes:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the dependency ends when the handler does, before the response is sent, so a
# failed commit answers 500 (FastAPI's default, "request", would end it after a 200 was sent).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str | None:
    return credentials.credentials if credentials else None


BearerToken = Annotated[str | None, Depends(bearer_token)]


def get_actor(session: SessionDep, token: BearerToken) -> Actor:
    return auth.authenticate(session, token=token)


CurrentActor = Annotated[Actor, Depends(get_actor)]


# Record ids are integer columns (32 bits on PostgreSQL): a larger one names no record, and would
# not even bind as a parameter. Out of range is a 422 naming the parameter, like any bad parameter.
MAX_ID = 2**31 - 1
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]


def figure_snapshots(request: Request) -> FigureSnapshots:
    """The app's snapshots of the figures (services/figures/snapshots.py), made by ``create_app``."""
    snapshots: FigureSnapshots = request.app.state.figure_snapshots
    return snapshots


Snapshots = Annotated[FigureSnapshots, Depends(figure_snapshots)]
