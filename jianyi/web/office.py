"""The office's own pages: staff intake of items received by phone, letter or visit (the same model,
the same form macro and the same intake service as the API, so the flow run starts alike), and the
triage desk's search for a duplicate's original (htmx: results as the clerk types, pick one)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jianyi.api.deps import SessionDep
from jianyi.db import read_scope, session_scope, writer_turn
from jianyi.errors import Forbidden, InvalidInput
from jianyi.models import Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import STAGE_LABELS, Channel, Role
from jianyi.models.schemas import IntakeResult, SuggestionIn
from jianyi.services import auth, intake
from jianyi.services.actors import Actor
from jianyi.services.cycles import campaigns
from jianyi.web.accounts import Official
from jianyi.web.forms import FormField, chinese, fields_of, payload_from
from jianyi.web.public import article_10
from jianyi.web.templating import render

router = APIRouter(include_in_schema=False)

# What the office takes in by hand, and how each channel reads on the form.
CHANNELS: list[tuple[str, str]] = [
    (Channel.phone.value, "来电"),
    (Channel.letter.value, "来信"),
    (Channel.visit.value, "来访"),
]
_ARTICLE_10 = [  # the suggestion's text, in Art. 10's three parts (as on the public form)
    FormField("problem", "存在的问题", "textarea", True, maximum=16000),
    FormField("grounds", "依据和理由", "textarea", False, maximum=16000),
    FormField("proposal", "具体建议措施", "textarea", False, maximum=16000),
]
_RELABEL = {
    "channel_ref": "来信编号或来电记录号",
    "proposer.kind": "建议人类别",
    "region": "所涉区或街道（代码）",
    "proposer.anonymous": "匿名（不留姓名和联系方式）",
    "proposer.confidential": "为建议人的个人信息保密（办理单位看不到）",
}
_PROPOSER_KINDS = [("person", "个人"), ("organisation", "单位")]
REACH = "请至少填写电话、电子邮箱或通信地址之一，以便告知办理结果；或选择匿名"
ORIGINALS_SHOWN = 10
# What intake refuses after reading the database, by field (services/intake.py, cycles/campaigns.py).
_SERVICE_MESSAGES = {
    "region": "没有此代码的区或街道，请核对",
    "campaign_id": "所选征集活动当前未开放征集",
    "channel": "所选征集活动不接受此渠道的建议",
}


def intake_fields(session: Session, now: datetime) -> list[FormField]:
    """SuggestionIn's fields, as its JSON schema gives them, for a clerk: the text in Art. 10's three
    parts, the channels the office takes by hand, a campaign chosen from the open ones (if any)."""
    result: list[FormField] = []
    for f in fields_of(SuggestionIn.model_json_schema()):
        if f.name == "content":
            result.extend(_ARTICLE_10)
        elif f.name == "campaign":
            continue  # a campaign is named by its id, chosen below
        elif f.name == "campaign_id":
            open_ = [
                (str(c.id), c.topic)
                for c in campaigns.list_campaigns(session, state="open")
                if c.opens_at <= now < c.closes_at
            ]
            if open_:
                result.append(replace(f, label="所响应的征集活动（可选）", widget="select", options=open_))
        elif f.name == "channel":
            result.append(replace(f, label="受理渠道", options=CHANNELS))
        elif f.name == "proposer.kind":
            result.append(replace(f, label=_RELABEL[f.name], options=_PROPOSER_KINDS))
        else:
            result.append(replace(f, label=_RELABEL.get(f.name, f.label)))
    return result


def _may_take_in(session: Session, official: Actor) -> None:
    auth.check_may_take_in(session, official)  # the offices and the intake points; 403 otherwise


def _intake_page(
    request: Request, session: Session, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    context = {"fields": intake_fields(session, utcnow()), "values": values, "errors": errors}
    return render(request, "office_intake.html.j2", context, status_code=status)


@router.get("/office/intake", response_class=HTMLResponse)
def intake_form(request: Request, official: Official, session: SessionDep) -> Response:
    _may_take_in(session, official)
    return _intake_page(request, session, {"channel": Channel.phone.value}, {})


def _accept(official: Actor, data: SuggestionIn) -> IntakeResult:
    # As the API's intake: read-only first, then a short write transaction (db.writer_turn).
    with writer_turn():
        with read_scope() as reading:
            receipt = intake.receive(reading, actor=official, data=data)
        if isinstance(receipt, IntakeResult):
            return receipt  # this channel reference was taken in before
        with session_scope() as writing:
            return intake.store(writing, receipt)


def _payload(form: dict[str, str], fields: list[FormField]) -> dict[str, Any]:
    payload = payload_from(form, [f for f in fields if f.name not in ("problem", "grounds", "proposal")])
    payload["content"] = article_10(
        form.get("problem", ""), form.get("grounds", ""), form.get("proposal", "")
    )
    if "campaign_id" in payload and not str(payload["campaign_id"]).isdigit():
        payload["campaign_id"] = 0  # not one of the options: the model refuses it by name
    return payload


@router.post("/office/intake", response_class=HTMLResponse)
async def take_in(request: Request, official: Official) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_take_in, request, official, form)


def _take_in(request: Request, official: Actor, form: dict[str, str]) -> Response:
    # No request session: the checks read in a unit of their own, intake writes in its own (as the
    # API's intake does), so that no transaction of this request holds SQLite's write lock meanwhile.
    with read_scope() as reading:
        _may_take_in(reading, official)
        try:
            data = SuggestionIn.model_validate(_payload(form, intake_fields(reading, utcnow())))
        except ValidationError as exc:
            errors = chinese(exc.errors())
            if "content" in errors:
                errors["problem"] = errors.pop("content")
            if "proposer" in errors:  # no way to tell them the outcome: beside the phone number
                errors.pop("proposer")
                errors.setdefault("proposer.phone", REACH)
            return _intake_page(request, reading, form, errors, status=422)
        if data.channel.value not in dict(CHANNELS):
            return _intake_page(request, reading, form, {"channel": "请从选项中选择"}, status=422)
    try:
        result = _accept(official, data)
    except InvalidInput as exc:  # what needs the database: an unknown region, a closed campaign
        errors = {
            d["field"]: _SERVICE_MESSAGES.get(d["field"], f"填写有误：{d['message']}")
            for d in exc.detail or []
            if isinstance(d, dict)
        }
        with read_scope() as reading:
            return _intake_page(request, reading, form, errors or {"(body)": exc.message}, status=422)
    response = render(request, "office_receipt.html.j2", {"result": result, "title": data.title})
    response.headers["cache-control"] = "no-store"  # the check code is shown this once
    return response


OFFICE_ROLES = (Role.office, Role.supervisor, Role.admin)


def originals(session: Session, *, actor: Actor, words: str, excluding: int | None) -> list[Suggestion]:
    """Open suggestions of the caller's office a duplicate could join: by tracking code or words of
    the title, newest first (an admin searches every office's)."""
    if actor.role not in OFFICE_ROLES:
        raise Forbidden("only a suggestion office searches for a duplicate's original")
    words = words.strip()
    if len(words) < 2:
        return []
    query = select(Suggestion).where(
        Suggestion.outcome.is_(None),
        Suggestion.duplicate_of_id.is_(None),
        or_(Suggestion.tracking_code == words.upper(), Suggestion.title.contains(words, autoescape=True)),
    )
    if actor.role is not Role.admin:
        query = query.where(Suggestion.office_unit_id == actor.unit_id)
    if excluding is not None:
        query = query.where(Suggestion.id != excluding)
    return list(session.scalars(query.order_by(Suggestion.id.desc()).limit(ORIGINALS_SHOWN)))


@router.get("/office/originals", response_class=HTMLResponse)
def search_originals(
    request: Request,
    official: Official,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    excluding: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """The triage desk's search (an htmx partial): the originals found, each with a button to pick it."""
    found = originals(session, actor=official, words=q, excluding=excluding)
    rows = [(s, STAGE_LABELS[s.stage]) for s in found]
    return render(request, "office_originals.html.j2", {"rows": rows, "q": q.strip()})
