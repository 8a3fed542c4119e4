"""The leaders' pages: the important items and what became of earlier instructions; the digest of
important suggestions (人民建议摘报) addressed to them, issue by issue (第N期); and, per item, the
instruction (批示) or "no instruction", recorded by the leader in their own name or by the city office
for a paper instruction. Each answer completes that suggestion's ``leader_instruction`` step through
the same service as the API (services/cycles/instructions.record), so its flow run resumes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jianyi import refusals
from jianyi.api.deps import RecordId, SessionDep
from jianyi.api.documents import document
from jianyi.db import read_scope
from jianyi.errors import InvalidInput, JianyiError
from jianyi.models import Digest, DigestItem, Step, Unit
from jianyi.models.base import utcnow
from jianyi.models.digest_schemas import InstructionIn
from jianyi.models.enums import OUTCOME_LABELS, Role, StepKind, StepState
from jianyi.services import case_reading
from jianyi.services.actors import Actor
from jianyi.services.cycles import digest as digests
from jianyi.services.cycles import instructions
from jianyi.web.accounts import Official
from jianyi.web.forms import chinese
from jianyi.web.templating import render

router = APIRouter(include_in_schema=False)


def _unit_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        unit_id: name for unit_id, name in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
    }


def _waits(session: Session, ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """Where each item's instruction stands: (label, the digest it waits in), by suggestion id;
    an item with no ``leader_instruction`` step yet is still in its pre-report communication."""
    if not ids:
        return {}
    rows = session.execute(
        select(Step.suggestion_id, Step.state, DigestItem.digest_id, Digest.number)
        .outerjoin(DigestItem, DigestItem.step_id == Step.id)
        .outerjoin(Digest, Digest.id == DigestItem.digest_id)
        .where(Step.kind == StepKind.leader_instruction, Step.suggestion_id.in_(ids))
        .order_by(Step.id)
    ).all()
    out: dict[int, tuple[str, int | None]] = {}
    for suggestion_id, state, digest_id, number in rows:
        if state is not StepState.open:
            out[suggestion_id] = ("无批示", digest_id)  # an instruction given is shown instead
        elif digest_id is None:
            out[suggestion_id] = ("待编入摘报", None)
        else:
            out[suggestion_id] = (f"待批示（第{number}期）", digest_id)
    return out


@router.get("/leader", response_class=HTMLResponse)
def leader(request: Request, official: Official, session: SessionDep) -> Response:
    """The important items: those awaiting the leader's instruction, and what became of earlier ones
    (their stage, lead unit and outcome); the latest issues of the digest."""
    items = case_reading.important_items(session, actor=official)
    units = _unit_names(session, {s.lead_unit_id for s, _ in items if s.lead_unit_id})
    waits = _waits(session, [s.id for s, _ in items])
    rows = [
        {
            "s": s,
            "instruction": instruction,
            "wait": waits.get(s.id, ("事前沟通中", None)),
            "lead_unit": units.get(s.lead_unit_id) if s.lead_unit_id else None,
            "outcome": OUTCOME_LABELS.get(s.outcome) if s.outcome else None,
        }
        for s, instruction in items
    ]
    reads = _reads(session, official)
    issues = digests.list_digests(session, actor=official, limit=5) if reads else []
    return render(request, "leader.html.j2", {"rows": rows, "issues": issues, "reads": reads})


@router.get("/digests", response_class=HTMLResponse)
def digest_list(request: Request, official: Official, session: SessionDep) -> Response:
    """The issues of the digest, newest first; the city office may compile the next one now."""
    issues = digests.list_digests(session, actor=official)
    waiting = len(digests.candidates(session)) if _compiles(session, official) else None
    nothing = request.query_params.get("none") == "1"
    return render(
        request, "leader_digests.html.j2", {"issues": issues, "waiting": waiting, "nothing": nothing}
    )


def _reads(session: Session, actor: Actor) -> bool:
    try:
        digests.require_reader(session, actor)
    except JianyiError:
        return False
    return True


def _compiles(session: Session, actor: Actor) -> bool:
    try:
        digests.require_office(session, actor)
    except JianyiError:
        return False
    return True


def _compile(actor: Actor) -> int | None:
    from jianyi.tasks.digest import produce  # WeasyPrint: loaded when an issue is compiled

    with read_scope() as session:
        digests.require_office(session, actor)
    # Compiling, rendering and mailing take their own units of work, as the API's POST does.
    return produce(utcnow(), by=actor.name or actor.label, actor=actor)


@router.post("/digests")
async def compile_now(official: Official) -> Response:
    """Compile the next issue from the items waiting, render it and mail it to the leaders."""
    digest_id = await run_in_threadpool(_compile, official)
    target = f"/digests/{digest_id}" if digest_id is not None else "/digests?none=1"
    return RedirectResponse(target, status_code=303)


# Before /digests/{digest_id}: "12.pdf" would otherwise reach it and fail as an id.
@router.get("/digests/{digest_id}.pdf", response_class=FileResponse)
def digest_pdf(digest_id: RecordId, official: Official, session: SessionDep) -> FileResponse:
    issue = digests.get_digest(session, actor=official, digest_id=digest_id)
    return document(
        issue.pdf_path, what=f"digest {digest_id}", suffix="pdf", filename=f"digest-{issue.number}.pdf"
    )


def _issue_page(
    request: Request,
    session: Session,
    official: Actor,
    digest_id: int,
    values: dict[int, dict[str, str]] | None = None,
    errors: dict[int, dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    issue = instructions.digest_out(session, digests.get_digest(session, actor=official, digest_id=digest_id))
    context = {
        "issue": issue,
        "values": values or {},
        "errors": errors or {},
        # A leader answers in their own name, today; the office writes the leader and date of a paper one.
        "paper": official.role is not Role.leader,
        "may_answer": official.role is Role.leader or _compiles(session, official),
        "done": request.query_params.get("done", ""),
    }
    return render(request, "leader_digest.html.j2", context, status_code=status)


@router.get("/digests/{digest_id}", response_class=HTMLResponse)
def digest_page(request: Request, digest_id: RecordId, official: Official, session: SessionDep) -> Response:
    """One issue (第N期): each item as the leaders read it, its instruction or the form to give one."""
    return _issue_page(request, session, official, digest_id)


@router.post("/digests/{digest_id}/items/{suggestion_id}/instruction", response_class=HTMLResponse)
def instruct(
    request: Request,
    digest_id: RecordId,
    suggestion_id: RecordId,
    official: Official,
    session: SessionDep,
    answer: Annotated[str, Form(max_length=16)],
    text: Annotated[str, Form(max_length=8000)] = "",
    leader: Annotated[str, Form(max_length=200)] = "",
    instructed_on: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """批示 (``answer=instruct``) or 无批示 (``answer=none``) on one item."""
    values = {"text": text, "leader": leader, "instructed_on": instructed_on}
    given: dict[str, Any] = {"has_instruction": answer == "instruct"}
    if answer == "instruct":
        given |= {k: v.strip() for k, v in values.items() if v.strip()}
    try:
        body = InstructionIn.model_validate(given)  # the API's model, then the step's own
        instructions.record(
            session,
            actor=official,
            digest_id=digest_id,
            suggestion_id=suggestion_id,
            payload=body.model_dump(mode="json", exclude_none=True),
        )
    except (ValidationError, InvalidInput) as exc:
        session.rollback()
        if isinstance(exc, InvalidInput):
            refusals.record(exc)  # the refused answer stays on record, as the API's does
            found = {d["field"]: f"填写有误：{d['message']}" for d in exc.detail or [] if isinstance(d, dict)}
        else:
            found = chinese(exc.errors())
        # A model validator names several fields at once ("leader, instructed_on, text").
        errors = {name.strip(): message for key, message in found.items() for name in key.split(",")}
        if answer == "instruct" and not text.strip():
            errors["text"] = "请填写批示内容"
        if not errors:
            errors = {"text": "填写有误"}
        return _issue_page(
            request, session, official, digest_id, {suggestion_id: values}, {suggestion_id: errors}, 422
        )
    return RedirectResponse(
        f"/digests/{digest_id}?done={suggestion_id}#item-{suggestion_id}", status_code=303
    )
