"""The digest of important suggestions (人民建议摘报): the issues, their PDF and HTML, compiling one on
demand, and the leaders' instructions per item. Leaders, the city office and administrators read
them (jianyi.services.cycles.digest)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from jianyi.api.deps import BearerToken, CurrentActor, RecordId, SessionDep
from jianyi.api.documents import document
from jianyi.api.errors import documented
from jianyi.db import read_scope
from jianyi.models import Digest
from jianyi.models.base import utcnow
from jianyi.models.digest_schemas import DigestItemOut, DigestOut, InstructionIn
from jianyi.models.schemas import StepView
from jianyi.services import auth, views
from jianyi.services.cycles import digest as digests
from jianyi.services.cycles import instructions

router = APIRouter(prefix="/api/digests", tags=["digests"])


@router.get("", response_model=list[DigestOut])
def list_digests(
    session: SessionDep, actor: CurrentActor, limit: int = Query(default=100, ge=1, le=500)
) -> list[DigestOut]:
    """The issues, newest first (without their items)."""
    return [
        instructions.digest_out(session, d, with_items=False)
        for d in digests.list_digests(session, actor=actor, limit=limit)
    ]


@router.post("", response_model=DigestOut, status_code=201, responses={204: {"description": "no item waits"}})
def compile_digest(token: BearerToken) -> DigestOut | Response:
    """Compile the next issue now from the items waiting (the schedule does it weekly), render it and
    mail it to the leaders. 204 when no item waits. City office and administrators."""
    from jianyi.tasks.digest import produce

    # Authenticated in a read-only unit of work: compiling, rendering and mailing take their own.
    with read_scope() as session:
        actor = auth.authenticate(session, token=token)
        digests.require_office(session, actor)
    digest_id = produce(utcnow(), by=actor.name or actor.label, actor=actor)
    if digest_id is None:
        return Response(status_code=204)
    with read_scope() as session:
        return instructions.digest_out(session, session.get_one(Digest, digest_id))


def _file(session: SessionDep, actor: CurrentActor, digest_id: int, suffix: str) -> FileResponse:
    digest = digests.get_digest(session, actor=actor, digest_id=digest_id)
    path = digest.pdf_path if suffix == "pdf" else digest.html_path
    return document(
        path, what=f"digest {digest_id}", suffix=suffix, filename=f"digest-{digest.number}.{suffix}"
    )


# Before /{digest_id}: "12.pdf" would otherwise reach it and fail as an id.
@router.get("/{digest_id}.pdf", response_class=FileResponse)
def digest_pdf(digest_id: RecordId, session: SessionDep, actor: CurrentActor) -> FileResponse:
    """The issue's PDF."""
    return _file(session, actor, digest_id, "pdf")


@router.get("/{digest_id}.html", response_class=FileResponse)
def digest_html(digest_id: RecordId, session: SessionDep, actor: CurrentActor) -> FileResponse:
    """The issue's HTML."""
    return _file(session, actor, digest_id, "html")


@router.get("/{digest_id}", response_model=DigestOut)
def digest_detail(digest_id: RecordId, session: SessionDep, actor: CurrentActor) -> DigestOut:
    """One issue with its items and where each instruction stands."""
    return instructions.digest_out(session, digests.get_digest(session, actor=actor, digest_id=digest_id))


@router.post(
    "/{digest_id}/items/{suggestion_id}/instruction", response_model=StepView, responses=documented(409)
)
def instruct(
    digest_id: RecordId,
    suggestion_id: RecordId,
    body: InstructionIn,
    session: SessionDep,
    actor: CurrentActor,
) -> StepView:
    """A leader's instruction (批示) on an item, or "no instruction": completes the suggestion's
    ``leader_instruction`` step, which resumes its flow run. By the leader, or by the city office for
    a paper instruction (then ``leader`` and ``instructed_on`` are required)."""
    step = instructions.record(
        session,
        actor=actor,
        digest_id=digest_id,
        suggestion_id=suggestion_id,
        payload=body.model_dump(mode="json", exclude_none=True),
    )
    return views.step_view(session, step)


@router.get("/{digest_id}/items/{suggestion_id}", response_model=DigestItemOut)
def item(
    digest_id: RecordId, suggestion_id: RecordId, session: SessionDep, actor: CurrentActor
) -> DigestItemOut:
    """One item of an issue, with its instruction once given."""
    digests.get_digest(session, actor=actor, digest_id=digest_id)
    return instructions.state_of(
        session, instructions.item_of(session, digest_id=digest_id, suggestion_id=suggestion_id)
    )
