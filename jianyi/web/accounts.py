"""Officials' sign-in on the pages: the login form, logout, and who is signed in.

The session cookie (HttpOnly, SameSite=Lax, path /) holds a random token of a server-side session
that expires (services/accounts.py). Failed logins are throttled per client, and an account is
locked after repeated wrong passwords.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from jianyi.api.throttle import client_of, limiter_of
from jianyi.db import read_scope, session_scope
from jianyi.errors import JianyiError, NotAuthenticated
from jianyi.services import accounts
from jianyi.services.actors import Actor
from jianyi.settings import get_settings
from jianyi.web.errors import is_page
from jianyi.web.templating import render

COOKIE = "jianyi_session"
# Per client address: 10 failed logins at once, then one more every 30 s.
LOGIN_FAILURES, LOGIN_REFILL_SECONDS = 10, 30.0

router = APIRouter(include_in_schema=False)


def _lookup(token: str) -> Actor | None:
    with read_scope() as session:
        return accounts.signed_in(session, token=token)


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, token = part.strip().partition("=")
                if key == COOKIE:
                    return token
    return None


class SignedIn:
    """ASGI middleware: ``request.state.official`` is the signed-in official on every page (or None)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_page(scope["path"]):
            token = _cookie(scope)
            official = await run_in_threadpool(_lookup, token) if token else None
            scope.setdefault("state", {})["official"] = official
        await self.app(scope, receive, send)


def current_official(request: Request) -> Actor:
    """The signed-in official, or 401 (the error page sends a browser to the login form)."""
    official = getattr(request.state, "official", None)
    if not isinstance(official, Actor):
        raise NotAuthenticated("sign in first")
    return official


Official = Annotated[Actor, Depends(current_official)]


# Only a path of this site: never another host (//host, /\\host, a scheme, or a tab browsers drop).
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%?&=+-]*")


def _safe_next(target: str | None) -> str:
    return target if target and _LOCAL_PATH.fullmatch(target) else "/workbench"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/workbench") -> Response:
    return render(request, "login.html.j2", {"next": _safe_next(next), "error": None, "login": ""})


def _check(login: str, password: str) -> tuple[str | None, JianyiError | None]:
    """A new session's token, or the refusal; a wrong password's count is committed either way."""
    with session_scope() as session:
        try:
            user = accounts.check_password(session, login=login, password=password)
        except JianyiError as exc:
            return None, exc
        return accounts.start_session(session, user=user), None


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    login: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/workbench",
) -> Response:
    limiter, client = limiter_of(request, "logins", LOGIN_FAILURES, LOGIN_REFILL_SECONDS), client_of(request)
    context = {"next": _safe_next(next), "login": login}
    if limiter.blocked(client):
        return render(request, "login.html.j2", {**context, "error": "登录失败次数过多，请稍后再试。"}, 429)
    token, refusal = await run_in_threadpool(_check, login, password)
    if token is None:
        limiter.failed(client)
        locked = isinstance(refusal, accounts.Locked)
        error = "密码错误次数过多，账户已暂时锁定，请 15 分钟后再试。" if locked else "登录名或密码错误。"
        return render(request, "login.html.j2", {**context, "error": error}, 429 if locked else 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(get_settings().session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


def _end(token: str | None) -> None:
    with session_scope() as session:
        accounts.end_session(session, token=token)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await run_in_threadpool(_end, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response
