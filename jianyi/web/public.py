"""The public pages, no login: the submission form (Art. 10), its receipt with the codes shown once,
the lookup form, and the tracking page with the rating form. No personal data is ever shown here.

Failed lookups are throttled per client and per code (api/throttle.py), so are submissions per
client; a hidden honeypot field turns robots away; every answer is a page, never JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jianyi.api.deps import SessionDep
from jianyi.api.routes.track import CheckCode, proposer_actor, tracked
from jianyi.api.throttle import TooManyRequests, client_of, limiter_of
from jianyi.db import read_scope, session_scope, writer_turn
from jianyi.errors import InvalidInput
from jianyi.models.enums import Channel
from jianyi.models.schemas import IntakeResult, PublicTracking, SuggestionIn
from jianyi.services import case_reading, intake, steps, tracking
from jianyi.web.forms import chinese
from jianyi.web.templating import render

router = APIRouter(include_in_schema=False)

# Per client address: 5 submissions at once, then one more every 2 minutes.
SUBMISSIONS, SUBMISSION_REFILL_SECONDS = 5, 120.0
RATING_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "not_satisfied": "不满意"}
# What each outcome means for the proposer, in a sentence.
OUTCOME_EXPLAINED = {
    "redirected": "您反映的是具体诉求，已转至投诉、求决渠道办理，相关单位会另行联系您。",
    "out_of_scope": "您的来信不属于人民建议征集的范围，未作为建议办理。",
    "merged": "已有内容相同的建议在办理，您的建议与其合并办理，结果相同。",
    "not_adopted": "经研究，您的建议暂不采纳，理由见答复。",
    "kept_for_reference": "您的建议已留作参考，相关单位在今后工作中研究吸收。",
    "implemented": "您的建议已被采纳并落实，感谢您的参与。",
    "commended": "您的建议已被采纳落实，并获评优秀人民建议。",
}
_FORM_FIELDS = ("title", "problem", "grounds", "proposal", "name", "phone", "email", "address")


def article_10(problem: str, grounds: str, proposal: str) -> str:
    """Art. 10's three parts as the suggestion's text, each under its heading."""
    parts = [("存在的问题", problem), ("依据和理由", grounds), ("具体建议措施", proposal)]
    return "\n\n".join(f"【{head}】\n{text.strip()}" for head, text in parts if text.strip())


def _home(request: Request, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Response:
    return render(request, "home.html.j2", {"values": values, "errors": errors}, status_code=status)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return _home(request, {}, {})


def _accept(data: SuggestionIn) -> IntakeResult:
    # Like the API's intake: read-only first, then a short write transaction (db.writer_turn).
    with writer_turn():
        with read_scope() as reading:
            receipt = intake.receive_public(reading, data=data)
        with session_scope() as writing:
            return intake.store(writing, receipt)


@router.post("/suggest", response_class=HTMLResponse)
async def suggest(request: Request) -> Response:
    return await take_in(request, again=lambda values, errors, status: _home(request, values, errors, status))


# What the page shows again, with the values typed and the errors beside their fields.
Again = Callable[[dict[str, Any], dict[str, str], int], Response]


async def take_in(
    request: Request, *, again: Again, campaign_id: int | None = None, channel: Channel = Channel.web
) -> Response:
    """A public submission form posted (the home page's, or a campaign's answering it by reference):
    the honeypot, the client's rate limit, the API's model; the receipt with the codes shown once."""
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in _FORM_FIELDS}
    values["anonymous"] = "on" if form.get("anonymous") else ""
    values["confidential"] = "on" if form.get("confidential") else ""
    if form.get("website"):  # the honeypot: no person sees this field
        return again(values, {"form": "提交未成功，请刷新页面后重试。"}, 400)
    limiter, client = (
        limiter_of(request, "submissions", SUBMISSIONS, SUBMISSION_REFILL_SECONDS),
        client_of(request),
    )
    if limiter.blocked(client):
        raise TooManyRequests("too many submissions from this address")
    try:
        data = SuggestionIn.model_validate(
            {
                "title": values["title"],
                "content": article_10(values["problem"], values["grounds"], values["proposal"]),
                "channel": channel,
                "campaign_id": campaign_id,
                "proposer": {
                    "name": values["name"],
                    "phone": values["phone"],
                    "email": values["email"],
                    "address": values["address"],
                    "anonymous": bool(values["anonymous"]),
                    "confidential": bool(values["confidential"]),
                },
            }
        )
    except ValidationError as exc:
        errors = {k.removeprefix("proposer."): v for k, v in chinese(exc.errors()).items()}
        if "content" in errors:
            errors["problem"] = errors.pop("content")
        return again(values, errors, 422)
    limiter.failed(client)  # a submission spends one of the client's tokens
    try:
        result = await run_in_threadpool(_accept, data)
    except InvalidInput:  # the campaign closed meanwhile (intake refuses it, storing nothing)
        return again(values, {"form": "本次征集已经截止，未能提交。"}, 422)
    response = render(request, "receipt.html.j2", {"result": result, "title": data.title})
    response.headers["cache-control"] = "no-store"  # the check code is shown this once
    return response


@router.get("/track", response_class=HTMLResponse)
def lookup(
    request: Request, code: Annotated[str, Query(max_length=64)] = "", check: CheckCode = ""
) -> Response:
    """The lookup form; filled in, it leads to the tracking page."""
    if code.strip() and check.strip():
        target = f"/track/{quote(code.strip().upper(), safe='')}?" + urlencode({"check": check.strip()})
        return RedirectResponse(target, status_code=303)
    return render(request, "lookup.html.j2", {"code": code})


def _explained(session: Session, tracking: PublicTracking, suggestion_id: int) -> dict[str, Any]:
    """The reply's text and reasons, when the office has replied (case_reading.public_reply)."""
    reply = case_reading.public_reply(session, suggestion_id=suggestion_id)
    outcome = tracking.outcome.value if tracking.outcome else None
    return {"reply": reply, "explained": OUTCOME_EXPLAINED.get(outcome or "")}


@router.get("/track/{tracking_code}", response_class=HTMLResponse)
def track_page(request: Request, tracking_code: str, session: SessionDep, check: CheckCode = "") -> Response:
    suggestion = tracked(request, session, tracking_code, check)
    shown = tracking.tracking_of(session, suggestion)
    context = {
        "t": shown,
        "check": check,
        # The stages the suggestion went through (not every one: a suggestion not adopted skips two).
        "visited": {e.detail for e in shown.timeline if e.detail},
        "thanked": request.query_params.get("done") == "1",
        "ratings": RATING_LABELS,
        **_explained(session, shown, suggestion.id),
    }
    return render(request, "track.html.j2", context)


@router.post("/track/{tracking_code}/rating")
def rate_form(
    request: Request,
    tracking_code: str,
    check: Annotated[str, Form(max_length=64)],
    rating: Annotated[str, Form(max_length=32)],
    session: SessionDep,
    comment: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    suggestion = tracked(request, session, tracking_code, check)
    step = tracking.open_rating_step(session, suggestion=suggestion)
    steps.complete_or_refuse(
        session,
        actor=proposer_actor(tracking_code),
        step_id=step.id,
        payload={"rating": rating, "comment": comment or None},
    )
    query = urlencode({"check": check, "done": 1})
    return RedirectResponse(f"/track/{quote(suggestion.tracking_code)}?{query}", status_code=303)
