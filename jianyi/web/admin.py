"""The administrator's pages: the unit network; officials (add, deactivate, set a password); their API
tokens with expiry (rotate, revoke); the rules in force with `jianyi rules check`'s result; and, in
development mode, the messages the local mail and SMS sinks received. Admin role only (403 else).

The same services as `jianyi users …` (services/auth.py, services/accounts.py); each change is
audited. A new or rotated token is shown once, on a page not cached."""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from jianyi.api.deps import RecordId, SessionDep
from jianyi.errors import Forbidden, InvalidInput, NotFound
from jianyi.models import Unit, User
from jianyi.models.base import utcnow
from jianyi.models.enums import Role
from jianyi.models.unit_seed import NetworkFileError
from jianyi.rules.loader import RuleError, configured_rules_dir, load_rules, seed_unit_kinds
from jianyi.services import accounts, audit, auth, network
from jianyi.services.actors import Actor
from jianyi.settings import get_settings
from jianyi.web.accounts import Official
from jianyi.web.forms import FormField, chinese, fields_of, payload_from
from jianyi.web.templating import local, render

router = APIRouter(include_in_schema=False)

ROLE_LABELS = {
    "office": "办公室经办",
    "supervisor": "督办",
    "department": "承办单位",
    "leader": "领导",
    "admin": "管理员",
}
SINK_SHOWN = 50  # the newest messages of each sink


def _admin(official: Official) -> Actor:
    if official.role is not Role.admin:
        raise Forbidden("the administration pages are for administrators")
    return official


Admin = Annotated[Actor, Depends(_admin)]


class NewUser(BaseModel):
    """An official as the admin page adds one (`jianyi users add`'s options)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    role: Role
    unit: str | None = Field(default=None, max_length=64)
    email: EmailStr | None = Field(default=None, max_length=254)
    head: bool = False


class Password(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=accounts.MIN_PASSWORD, max_length=200)


def _unit_options(session: Session) -> list[tuple[str, str]]:
    units = session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id))
    return [(u.code, f"{u.name}（{u.code}）") for u in units]


def user_fields(session: Session) -> list[FormField]:
    labels = {
        "name": "姓名",
        "role": "角色",
        "unit": "所属单位",
        "email": "电子邮箱（接收提醒）",
        "head": "单位负责人",
    }
    result = []
    for f in fields_of(NewUser.model_json_schema()):
        f = replace(f, label=labels[f.name])
        if f.name == "role":
            f = replace(f, options=[(r.value, ROLE_LABELS[r.value]) for r in Role if r is not Role.proposer])
        if f.name == "unit":
            f = replace(f, widget="select", options=_unit_options(session))
        result.append(f)
    return result


@router.get("/admin", response_class=HTMLResponse)
def units(request: Request, official: Admin, session: SessionDep) -> Response:
    """The unit network, as a tree."""
    return render(
        request, "admin_units.html.j2", {"roots": network.unit_tree(session, include_inactive=True)}
    )


def _users_page(
    request: Request, session: Session, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    context = {
        "rows": auth.list_users(session),
        "roles": ROLE_LABELS,
        "fields": user_fields(session),
        "values": values,
        "errors": errors,
        "now": utcnow(),
        "changed": request.query_params.get("changed"),
    }
    return render(request, "admin_users.html.j2", context, status_code=status)


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, official: Admin, session: SessionDep) -> Response:
    return _users_page(request, session, {}, {})


def _token_page(request: Request, user: User, token: str, created: bool) -> Response:
    context = {"user": user, "token": token, "created": created, "roles": ROLE_LABELS}
    response = render(request, "admin_token.html.j2", context)
    response.headers["cache-control"] = "no-store"  # the token is shown this once
    return response


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user(request: Request, official: Admin, session: SessionDep) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return await run_in_threadpool(_add_user, request, session, official, form)


def _add_user(request: Request, session: Session, official: Actor, form: dict[str, str]) -> Response:
    try:
        data = NewUser.model_validate(payload_from(form, user_fields(session)))
    except ValidationError as exc:
        return _users_page(request, session, form, chinese(exc.errors()), status=422)
    try:
        user, token = auth.create_user(
            session, name=data.name, role=data.role, unit_code=data.unit, email=data.email, head=data.head
        )
    except InvalidInput as exc:  # a unit the role cannot belong to
        session.rollback()
        errors = {d["field"]: _unit_error(d["message"]) for d in exc.detail or [] if isinstance(d, dict)}
        return _users_page(request, session, form, errors, status=422)
    audit.record(session, actor=official, action="user.created", detail={"user_id": user.id})
    return _token_page(request, user, token, created=True)


def _unit_error(message: str) -> str:
    return {"required": "此角色须属于一个单位", "not an office": "办公室经办和督办须属于建议征集办公室"}.get(
        message, f"填写有误：{message}"
    )


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate(request: Request, user_id: RecordId, official: Admin, session: SessionDep) -> Response:
    """Deactivate the official (revoke their token): it stops working at once, and they cannot sign in."""
    if user_id == official.user_id:
        raise Forbidden("an administrator does not deactivate themselves")
    back = "/admin/tokens" if (await request.form()).get("back") == "tokens" else "/admin/users"
    await run_in_threadpool(auth.deactivate, session, user_id=user_id)
    audit.record(session, actor=official, action="user.deactivated", detail={"user_id": user_id})
    return RedirectResponse(f"{back}?changed={user_id}", status_code=303)


@router.post("/admin/users/{user_id}/rotate", response_class=HTMLResponse)
def rotate(request: Request, user_id: RecordId, official: Admin, session: SessionDep) -> Response:
    user, token = auth.rotate(session, user_id=user_id)
    audit.record(session, actor=official, action="user.token_rotated", detail={"user_id": user_id})
    return _token_page(request, user, token, created=False)


def _password_page(
    request: Request,
    session: Session,
    user_id: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    values = values or {"login": user.login or ""}
    context = {"user": user, "values": values, "errors": errors}
    return render(request, "admin_password.html.j2", context, status_code=status)


@router.get("/admin/users/{user_id}/password", response_class=HTMLResponse)
def password_form(request: Request, user_id: RecordId, official: Admin, session: SessionDep) -> Response:
    return _password_page(request, session, user_id, {}, {})


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
async def set_password(request: Request, user_id: RecordId, official: Admin, session: SessionDep) -> Response:
    form = await request.form()
    values = {"login": str(form.get("login") or "").strip(), "password": str(form.get("password") or "")}
    return await run_in_threadpool(_set_password, request, session, official, user_id, values)


def _set_password(
    request: Request, session: Session, official: Actor, user_id: int, values: dict[str, str]
) -> Response:
    shown = {"login": values["login"]}  # the password is never sent back
    try:
        data = Password.model_validate(values)
    except ValidationError as exc:
        return _password_page(request, session, user_id, shown, chinese(exc.errors()), 422)
    try:
        accounts.set_password(session, user_id=user_id, login=data.login, password=data.password)
    except InvalidInput as exc:  # the login name is another's
        session.rollback()
        errors = {"login": "此登录名已被他人使用"} if "taken" in exc.message else {"login": exc.message}
        return _password_page(request, session, user_id, shown, errors, 422)
    audit.record(session, actor=official, action="user.password_set", detail={"user_id": user_id})
    return RedirectResponse(f"/admin/users?changed={user_id}", status_code=303)


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens(request: Request, official: Admin, session: SessionDep) -> Response:
    """Every official's API token: valid until when, expired, or revoked; rotate or revoke it."""
    now = utcnow()
    context = {
        "rows": auth.list_users(session),
        "roles": ROLE_LABELS,
        "now": now,
        "soon": now + timedelta(days=14),
        "changed": request.query_params.get("changed"),
    }
    return render(request, "admin_tokens.html.j2", context)


@dataclass(frozen=True)
class RulesChecked:
    directory: Path
    sections: dict[str, list[str]]  # section → the ids of its rules
    summary: list[str]
    problems: list[str]


def check_rules() -> RulesChecked:
    """What `jianyi rules check` does with the directory in force: load every file as the running
    system would, unit codes checked against the network seed file."""
    directory = configured_rules_dir()
    try:
        rules = load_rules(directory, units=seed_unit_kinds())
    except (RuleError, NetworkFileError) as exc:
        problems = [str(p) for p in exc.problems] if isinstance(exc, RuleError) else [str(exc)]
        return RulesChecked(directory, {}, [], problems)
    sections = {
        name: [str(rule.id) for rule in getattr(rules, name)]
        for name in ("deadlines", "profiles", "extensions", "ladders", "communications", "routing")
    }
    summary = [f"日历：{rules.calendar.time_zone}，每日截止 {rules.calendar.cutoff:%H:%M}"]
    summary += [f"{name}：{count} 条" for name, count in rules.counts().items()]
    files = sorted(p.name for p in directory.glob("*.yaml"))
    summary.insert(0, f"规则文件（{len(files)} 个）：{'、'.join(files)}")
    return RulesChecked(directory, sections, summary, [])


@router.get("/admin/rules", response_class=HTMLResponse)
async def rules_page(request: Request, official: Admin) -> Response:
    checked = await run_in_threadpool(check_rules)
    return render(request, "admin_rules.html.j2", {"checked": checked})


def development_mode() -> bool:
    """The outbox sends to the local sinks `jianyi up` starts (their mailbox is in the data directory)."""
    settings = get_settings()
    return settings.smtp_host in ("127.0.0.1", "localhost") and (settings.home / "mail").is_dir()


def _when(header: str) -> str:
    try:
        return local(parsedate_to_datetime(header))
    except (TypeError, ValueError):
        return header


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return str(part.get_content()) if part is not None else ""


def sink_mail(home: Path) -> list[dict[str, Any]]:
    """The newest messages the SMTP sink saved (runtime/smtp_sink.py: one .eml file each)."""
    files = sorted((home / "mail").glob("*.eml"), reverse=True)[:SINK_SHOWN]
    result = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        result.append(
            {
                "file": path.name,
                "subject": str(message.get("Subject", "")),
                "to": str(message.get("To", "")),
                "date": _when(str(message.get("Date", ""))),
                "body": _body(message),
            }
        )
    return result


def sink_sms(home: Path) -> list[dict[str, Any]]:
    """The newest text messages the SMS sink took (runtime/sms_sink.py: messages.jsonl)."""
    path = home / "sms" / "messages.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-SINK_SHOWN:]
    result = [json.loads(line) for line in reversed(lines) if line.strip()]
    for sms in result:
        sms["received_at"] = local(datetime.fromisoformat(sms["received_at"]))
    return result


@router.get("/admin/sinks", response_class=HTMLResponse)
async def sinks(request: Request, official: Admin) -> Response:
    """In development mode: what proposers and officials would have received."""
    dev = development_mode()
    home = get_settings().home
    mail = await run_in_threadpool(sink_mail, home) if dev else []
    sms = await run_in_threadpool(sink_sms, home) if dev else []
    response = render(request, "admin_sinks.html.j2", {"dev": dev, "mail": mail, "sms": sms})
    response.headers["cache-control"] = "no-store"
    return response
