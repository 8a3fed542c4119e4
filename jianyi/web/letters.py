"""The communications the office owes its proposers (calls, meetings, letters): the list, the page of
one with its logging form (what was done, when, the outcome; the same model as the API's log), and a
letter to print: an HTML page with print CSS, and the same page as a PDF (WeasyPrint, Noto CJK)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jianyi.api.deps import RecordId, SessionDep
from jianyi.db import session_scope
from jianyi.errors import Forbidden, InvalidInput, NotFound
from jianyi.models import PlannedCommunication, Suggestion, Unit
from jianyi.models.base import utcnow
from jianyi.models.enums import COMMUNICATION_LABELS, Role
from jianyi.models.schemas import PlannedCommunicationView
from jianyi.services import audit, communication_duties
from jianyi.services.actors import Actor
from jianyi.web.accounts import Official
from jianyi.web.forms import FormField, chinese, fields_of, payload_from
from jianyi.web.static import OWN
from jianyi.web.templating import environment, local, render

router = APIRouter(include_in_schema=False)

CHANNELS = {"phone": "电话", "meeting": "面谈", "letter": "信函", "email": "邮件", "sms": "短信"}
_OFFICE_ROLES = (Role.office, Role.supervisor, Role.admin)
LETTER_CSS = OWN / "letter.css"
AT = "沟通时间须在 2000 年以后，且不能晚于现在"


def _office_only(official: Actor) -> None:
    if official.role not in _OFFICE_ROLES:
        raise Forbidden("the communications with proposers are the suggestion office's")


@router.get("/office/communications", response_class=HTMLResponse)
def owed(request: Request, official: Official, session: SessionDep, overdue: bool = False) -> Response:
    """What the office still owes its proposers, the most urgent first."""
    _office_only(official)
    now = utcnow()
    plans = communication_duties.outstanding(session, actor=official, now=now, overdue_only=overdue)
    rows = [(communication_duties.view(session, p, now=now), _title(session, p)) for p in plans]
    context = {
        "rows": rows,
        "overdue": overdue,
        "channels": CHANNELS,
        "logged": "logged" in request.query_params,
    }
    return render(request, "office_communications.html.j2", context)


def _title(session: Session, plan: PlannedCommunication) -> str:
    return session.get_one(Suggestion, plan.suggestion_id).title


def log_fields() -> list[FormField]:
    """The API's CommunicationLog, as a form: what was done, by which means, when, and the outcome."""
    labels = {
        "kind": "沟通事项",
        "method": "方式",
        "summary": "沟通情况和结果",
        "at": "沟通时间（不填为现在）",
    }
    result = []
    for f in fields_of(communication_duties.CommunicationLog.model_json_schema()):
        f = replace(f, label=labels.get(f.name, f.label))
        if f.name == "kind":
            f = replace(f, options=[(k.value, label) for k, label in COMMUNICATION_LABELS.items()])
        result.append(f)
    return result


def _one(session: Session, official: Actor, planned_id: int) -> PlannedCommunicationView:
    _office_only(official)
    return communication_duties.get(session, actor=official, planned_id=planned_id, now=utcnow())


def _viewed(official: Actor, suggestion_id: int) -> None:
    """The text to hold heads with the proposer's name and address or phone: a view on record."""
    with session_scope() as writing:
        audit.record(writing, actor=official, action="proposer.viewed", suggestion_id=suggestion_id)


def _page(
    request: Request,
    session: Session,
    official: Actor,
    planned_id: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    plan = _one(session, official, planned_id)
    if request.method == "GET":
        _viewed(official, plan.suggestion_id)
    if not values:
        method = plan.channel if plan.channel in ("phone", "meeting", "letter", "email", "sms") else ""
        values = {"kind": plan.kind.value, "method": method}
    context = {
        "c": plan,
        "title": session.get_one(Suggestion, plan.suggestion_id).title,
        "channel": CHANNELS.get(plan.channel, plan.channel),
        "fields": log_fields(),
        "values": values,
        "errors": errors,
    }
    return render(request, "office_communication.html.j2", context, status_code=status)


@router.get("/office/communications/{planned_id}", response_class=HTMLResponse)
def one(request: Request, planned_id: RecordId, official: Official, session: SessionDep) -> Response:
    return _page(request, session, official, planned_id, {}, {})


@router.post("/office/communications/{planned_id}", response_class=HTMLResponse)
async def log(request: Request, planned_id: RecordId, official: Official, session: SessionDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_log, request, session, official, planned_id, form)


def _log(
    request: Request, session: Session, official: Actor, planned_id: int, form: dict[str, str]
) -> Response:
    plan = _one(session, official, planned_id)
    payload = payload_from(form, log_fields())
    try:
        communication_duties.CommunicationLog.model_validate(payload)  # errors in Chinese, by field
    except ValidationError as exc:
        errors = chinese(exc.errors())
        if errors.get("at", "").startswith("填写有误"):  # the model's own check of the time
            errors["at"] = AT
        return _page(request, session, official, planned_id, form, errors, status=422)
    try:
        communication_duties.log_or_refuse(
            session, actor=official, suggestion_id=plan.suggestion_id, payload=payload, now=utcnow()
        )
    except InvalidInput as exc:  # e.g. a time ahead of now
        session.rollback()
        errors = {
            d["field"]: AT if d["field"] == "at" else f"填写有误：{d['message']}"
            for d in exc.detail or []
            if isinstance(d, dict)
        }
        return _page(request, session, official, planned_id, form, errors, status=422)
    return RedirectResponse("/office/communications?logged=1", status_code=303)


def _letter(session: Session, official: Actor, planned_id: int, css: str) -> str:
    plan = _one(session, official, planned_id)
    if plan.channel != "letter":
        raise NotFound(f"communication {planned_id} is not a letter")
    suggestion = session.get_one(Suggestion, plan.suggestion_id)
    office = session.get(Unit, suggestion.office_unit_id)
    _viewed(official, plan.suggestion_id)
    return environment.get_template("office_letter.html.j2").render(
        c=plan,
        css=css,
        office=office.name if office else "人民建议征集办公室",
        title=COMMUNICATION_LABELS[plan.kind] + "书",
        dated=local(utcnow(), "%Y年%m月%d日"),
    )


@router.get("/office/communications/{planned_id}/letter", response_class=HTMLResponse)
def letter(planned_id: RecordId, official: Official, session: SessionDep) -> Response:
    """The letter as a page to print (print CSS: A4, no site navigation)."""
    page = _letter(session, official, planned_id, "/static/web/letter.css")
    return HTMLResponse(page, headers={"cache-control": "no-store"})


def pdf_of(page: str) -> bytes:
    from weasyprint import HTML  # imported here: it loads Pango, which only rendering needs

    document = HTML(string=page, base_url=str(OWN)).write_pdf()
    assert document is not None
    return bytes(document)


@router.get("/office/communications/{planned_id}/letter.pdf")
async def letter_pdf(planned_id: RecordId, official: Official, session: SessionDep) -> Response:
    """The same letter as a PDF, set in Noto Serif CJK SC (not stored: it holds personal data)."""
    page = await run_in_threadpool(_letter, session, official, planned_id, Path(LETTER_CSS).as_uri())
    document = await run_in_threadpool(pdf_of, page)
    headers = {
        "content-disposition": f'inline; filename="letter-{planned_id}.pdf"',
        "cache-control": "no-store",
    }
    return Response(document, media_type="application/pdf", headers=headers)
