"""The department workbench: the unit's open steps by due date, marked overdue or due soon in working
days, filtered in the URL (stage, step kind, overdue, a tracking code or words of the title); and
the step page, with the suggestion, its history, the leader's instruction, and the form that
completes the step (generated from its input model's JSON schema, validated by the same model)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jianyi.api.deps import RecordId, SessionDep
from jianyi.db import session_scope
from jianyi.errors import InvalidInput
from jianyi.models import Assignment, Step, Suggestion
from jianyi.models.base import utcnow
from jianyi.models.enums import STAGE_LABELS, AssignmentState, Role, Stage, StepKind, StepState
from jianyi.models.step_inputs import NOTE
from jianyi.rules.calendar import SHANGHAI, WorkingCalendar
from jianyi.services import audit, case_reading, clocks, deadlines, owed, steps, views
from jianyi.services.actors import Actor
from jianyi.services.lifecycle.stages import SPECS, spec_of
from jianyi.web.accounts import Official
from jianyi.web.forms import chinese, fields_of, payload_from
from jianyi.web.templating import local, render

router = APIRouter(include_in_schema=False)
DUE_SOON_WORKING_DAYS = 2


def working_days(calendar: WorkingCalendar, now: datetime, due: datetime) -> int:
    """Working days after today up to and including the due day (negative: overdue by so many)."""
    today, day = _local_day(now), _local_day(due)
    if day > today:
        return calendar.working_days_between(now, due) + int(calendar.is_workday(day))
    if day < today:
        return -(calendar.working_days_between(due, now) + int(calendar.is_workday(today)))
    return 0


@dataclass
class Row:
    step: Step
    suggestion: Suggestion
    label: str
    due: str
    left: int | None  # working days until due (negative: overdue by)

    @property
    def overdue(self) -> bool:
        return self.left is not None and self.left < 0

    @property
    def due_soon(self) -> bool:
        return self.left is not None and 0 <= self.left <= DUE_SOON_WORKING_DAYS


def _local_day(instant: datetime) -> date:
    return date.fromisoformat(local(instant, "%Y-%m-%d"))


def due_within(calendar: WorkingCalendar, now: datetime, days: int) -> datetime:
    """The instant before which a step is due within ``days`` working days (``working_days`` ≤ days):
    the start of the (days + 1)-th working day after today, in Shanghai."""
    return datetime.combine(calendar.shift(_local_day(now), days + 1), time.min, tzinfo=SHANGHAI)


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 1


def _paging(page: owed.Page, kept: dict[str, Any]) -> dict[int, str]:
    """The queries of the pages before and after this one, the filter kept (``_pager.html.j2``)."""
    return {n: urlencode({**kept, "page": n}) for n in (page.number - 1, page.number + 1)}


def _rows(calendar: WorkingCalendar, now: datetime, page: owed.Page) -> list[Row]:
    rows = []
    for step, suggestion in page.rows:
        left = working_days(calendar, now, step.due_at) if step.due_at else None
        if left is not None and step.due_at is not None and step.due_at < now and left >= 0:
            left = -1  # due earlier today
        rows.append(Row(step, suggestion, spec_of(step.kind).label, local(step.due_at), left))
    return rows


@router.get("/workbench", response_class=HTMLResponse)
def workbench(
    request: Request,
    official: Official,
    session: SessionDep,
    stage_: Annotated[str, Query(alias="stage", max_length=32)] = "",
    kind_: Annotated[str, Query(alias="kind", max_length=32)] = "",
    within_: Annotated[str, Query(alias="within", max_length=3)] = "",
    overdue: Annotated[bool, Query()] = False,
    q: Annotated[str, Query(max_length=100)] = "",
    page_: Annotated[str, Query(alias="page", max_length=6)] = "",
) -> Response:
    """The unit's open steps, a page at a time by deadline, with how many are overdue or due soon."""
    # A form's "all" is an empty value; an unknown one is ignored like it.
    stage = Stage(stage_) if stage_ in Stage.__members__ else None
    kind = StepKind(kind_) if kind_ in StepKind.__members__ else None
    within = int(within_) if within_.isdigit() else None  # due within so many working days
    calendar = deadlines.current_calendar(session)
    now = utcnow()
    # Overdue: past the deadline; due within N working days: not yet overdue, due by the N-th.
    span = owed.StepFilter(stage=stage, kind=kind, words=q)
    if overdue:
        span = replace(span, due_before=now)
    elif within is not None:
        span = replace(span, due_from=now, due_before=due_within(calendar, now, within))
    found = owed.open_page(session, actor=official, found=span, number=_number(page_), size=owed.PAGE)
    soon = due_within(calendar, now, DUE_SOON_WORKING_DAYS)
    filters = {
        "stage": stage.value if stage else "",
        "kind": kind.value if kind else "",
        "overdue": overdue,
        "within": str(within) if within is not None else "",
        "q": q,
    }
    context = {
        "rows": _rows(calendar, now, found),
        "page": found,
        "counts": owed.counts(session, actor=official, now=now, soon_before=soon),
        "soon_days": DUE_SOON_WORKING_DAYS,
        "filters": filters,
        "paging": _paging(found, {k: v for k, v in filters.items() if v}),
        "stages": [(s.value, STAGE_LABELS[s]) for s in Stage if s is not Stage.closed],
        "kinds": [(k.value, SPECS[k].label) for k in StepKind if k in SPECS],
    }
    template = "_steps_table.html.j2" if request.headers.get("hx-request") else "workbench.html.j2"
    return render(request, template, context)


@router.get("/workbench/done", response_class=HTMLResponse)
def done(
    request: Request,
    official: Official,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    page_: Annotated[str, Query(alias="page", max_length=6)] = "",
) -> Response:
    """What the unit answered (its latest first, a page at a time), searchable by tracking code or title."""
    found = owed.answered_page(session, actor=official, words=q, number=_number(page_), size=owed.PAGE)
    ids = {suggestion.id for _, suggestion in found.rows}
    # An item re-routed away after the unit's objection: its steps are shown, no longer opened.
    kept = ids
    if official.role is Role.department and ids:  # one query, not one a suggestion
        referred = select(Assignment.suggestion_id).where(
            Assignment.unit_id == official.unit_id,
            Assignment.state != AssignmentState.withdrawn,
            Assignment.suggestion_id.in_(ids),
        )
        kept = set(session.scalars(referred))
    rows = [
        (step, suggestion, spec_of(step.kind).label, suggestion.id in kept) for step, suggestion in found.rows
    ]
    paging = _paging(found, {"q": q} if q else {})
    return render(request, "done.html.j2", {"rows": rows, "q": q, "page": found, "paging": paging})


def _step_page(
    request: Request,
    session: Session,
    official: Actor,
    step_id: int,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    step = views.view_step(session, actor=official, step_id=step_id)  # 403 for another unit's step
    suggestion = views.suggestion_view(session, actor=official, suggestion_id=step.suggestion_id)
    if suggestion.proposer is not None and request.method == "GET":
        _audit_proposer_view(official, step.suggestion_id)
    fields = fields_of(step.input_schema or {})
    if step.proposal and not values:  # triage: the routing rules' proposal, to confirm or change
        proposal = step.proposal
        values = {"kind": proposal["kind"], "lead_unit": proposal["lead_unit"] or ""}
        values["co_units"] = ", ".join(proposal.get("co_units") or [])
    row = session.get(Step, step_id)
    # The unit's other open steps on the same case: raise an objection, ask for an extension.
    siblings = [(other.id, spec_of(other.kind).label) for other in _siblings(session, official, row)]
    context = {
        "step": step,
        "siblings": siblings,
        "paused": row.paused_at if row is not None and row.state is StepState.open else None,
        "extended": deadlines.extended_days(session, step_id=step_id),
        "s": suggestion,
        "fields": fields,
        "values": values,
        "errors": errors,
        "instruction": case_reading.leader_instruction(session, suggestion_id=step.suggestion_id),
    }
    return render(request, "step.html.j2", context, status_code=status)


def _siblings(session: Session, official: Actor, step: Step | None) -> list[Step]:
    if step is None:
        return []
    query = select(Step).where(
        Step.suggestion_id == step.suggestion_id, Step.state == StepState.open, Step.id != step.id
    )
    # The unit's other open steps on the case.
    return list(session.scalars(query.where(owed.owner(official)).order_by(Step.id)))


def _audit_proposer_view(official: Actor, suggestion_id: int) -> None:
    """Every staff view of a proposer's personal data is on record (in a unit of work of its own:
    a page's GET only reads)."""
    with session_scope() as writing:
        audit.record(writing, actor=official, action="proposer.viewed", suggestion_id=suggestion_id)


@router.get("/steps/{step_id}", response_class=HTMLResponse)
def step_page(request: Request, step_id: RecordId, official: Official, session: SessionDep) -> Response:
    return _step_page(request, session, official, step_id, {}, {})


@router.post("/steps/{step_id}", response_class=HTMLResponse)
async def complete_step(
    request: Request, step_id: RecordId, official: Official, session: SessionDep
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_complete, request, session, official, step_id, form)


def _complete(
    request: Request, session: Session, official: Actor, step_id: int, form: dict[str, str]
) -> Response:
    step = steps.get_step(session, step_id=step_id)
    fields = fields_of(spec_of(step.kind).input.model_json_schema())
    payload = payload_from(form, fields)
    try:
        spec_of(step.kind).input.model_validate(payload)  # the API's model: errors in Chinese, by field
    except ValidationError as exc:
        return _step_page(request, session, official, step_id, form, chinese(exc.errors()), status=422)
    try:
        steps.complete_or_refuse(session, actor=official, step_id=step_id, payload=payload)
    except InvalidInput as exc:  # what needs the database (an unknown unit code…)
        session.rollback()
        errors = {d["field"]: f"填写有误：{d['message']}" for d in exc.detail or [] if isinstance(d, dict)}
        return _step_page(request, session, official, step_id, form, errors, status=422)
    return RedirectResponse(f"/workbench?done={step_id}", status_code=303)


@router.post("/steps/{step_id}/clock", response_class=HTMLResponse)
async def clock(request: Request, step_id: RecordId, official: Official, session: SessionDep) -> Response:
    """Pause the step's clock while the unit waits for the proposer, or let it run again (the rules
    say which steps may pause: services/clocks.py)."""
    form = await request.form()
    action, text = str(form.get("action") or ""), str(form.get("text") or "").strip()[:NOTE]
    if action == "pause":
        if not text:
            raise InvalidInput("reason: required", detail=[{"field": "reason", "message": "required"}])
        await run_in_threadpool(clocks.pause, session, actor=official, step_id=step_id, reason=text)
    else:
        await run_in_threadpool(clocks.resume, session, actor=official, step_id=step_id, note=text or None)
    return RedirectResponse(f"/steps/{step_id}", status_code=303)


@router.get("/suggestions/{suggestion_id}", response_class=HTMLResponse)
def suggestion_page(
    request: Request, suggestion_id: RecordId, official: Official, session: SessionDep
) -> Response:
    """One suggestion's case and full timeline, for whoever may view it (views.can_view; else 403);
    the office sees the link to its Prefect flow run."""
    s = views.suggestion_view(session, actor=official, suggestion_id=suggestion_id)
    if s.proposer is not None:
        _audit_proposer_view(official, suggestion_id)
    prefect = os.environ.get("PREFECT_API_URL", "").removesuffix("/api")
    office = official.role in (Role.office, Role.supervisor, Role.admin)
    run = f"{prefect}/runs/flow-run/{s.flow_run_id}" if office and prefect and s.flow_run_id else None
    return render(request, "suggestion.html.j2", {"s": s, "flow_run": run})
