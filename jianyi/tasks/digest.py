"""The digest flow's tasks: compile, render, mail. Each opens its own unit of work and returns plain
data; the plain functions are what the CLI and the API run when no flow run is wanted."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import IntegrityError

from jianyi.db import read_scope, session_scope
from jianyi.models import Digest
from jianyi.services.actors import Actor
from jianyi.services.cycles import digest_render
from jianyi.services.cycles.digest import compile_digest


def compile_issue(
    now: datetime, *, by: str, actor: Actor | None = None, flow_run_id: str | None = None
) -> int | None:
    """The new issue's id, or None when no item waits."""
    for attempt in range(2):
        try:
            with session_scope() as session:
                digest = compile_digest(session, now=now, by=by, actor=actor)
                if digest is None:
                    return None
                digest.flow_run_id = flow_run_id
                return digest.id
        except IntegrityError:  # compiled at the same moment elsewhere: what waits now is the rest
            if attempt:
                raise
    raise AssertionError("unreachable")


def render_issue(digest_id: int) -> digest_render.Files:
    """Render outside any transaction, then record the paths (a short write)."""
    with read_scope() as session:
        issue = digest_render.frozen(session, session.get_one(Digest, digest_id))
    files = digest_render.render(issue)
    with session_scope() as session:
        row = session.get_one(Digest, digest_id)
        row.html_path, row.pdf_path = str(files.html), str(files.pdf)
    return files


def mail_issue(digest_id: int, now: datetime) -> int:
    with session_scope() as session:
        return digest_render.queue_mail(session, digest_id=digest_id, now=now)


def produce(now: datetime, *, by: str, actor: Actor | None = None) -> int | None:
    """Compile, render and mail, without Prefect: the new issue's id, or None."""
    digest_id = compile_issue(now, by=by, actor=actor)
    if digest_id is not None:
        render_issue(digest_id)
        mail_issue(digest_id, now)
    return digest_id


# The application database is the record: nothing cached or persisted in Prefect.
@task(name="compile", cache_policy=NO_CACHE, persist_result=False)
def compile_task(now: str, by: str, flow_run_id: str | None = None) -> int | None:
    return compile_issue(datetime.fromisoformat(now), by=by, flow_run_id=flow_run_id)


@task(name="render", cache_policy=NO_CACHE, persist_result=False)
def render_task(digest_id: int) -> dict[str, str]:
    files = render_issue(digest_id)
    return {"html": str(files.html), "pdf": str(files.pdf)}


@task(name="mail", cache_policy=NO_CACHE, persist_result=False)
def mail_task(digest_id: int, now: str) -> int:
    return mail_issue(digest_id, datetime.fromisoformat(now))
