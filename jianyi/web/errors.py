"""Errors on the pages: a friendly Chinese page, never the API's JSON.

The app's exception handlers (api/errors.py) answer JSON; ``pages_or`` wraps each so that a request
for a page (anything outside /api/, /openapi.json and /static/) is answered with the error page
instead. A refused change is still audited (jianyi.refusals), and a page that needs a login sends the
browser to the login page.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from jianyi import refusals
from jianyi.api.errors import PageError
from jianyi.errors import JianyiError
from jianyi.web.templating import environment, render

Handler = Callable[[Request, Any], Response | Awaitable[Response]]

TITLES = {
    400: ("请求有误", "页面无法处理这次请求，请返回后重试。"),
    401: ("请先登录", "此页面仅供工作人员使用，请先登录。"),
    403: ("无权访问", "您所在的单位无权查看或办理此事项。"),
    404: ("未找到", "没有找到您要的页面或事项。如是查询建议，请核对跟踪编号和查询码。"),
    405: ("无法处理", "此页面不接受这种请求。"),
    408: ("请求超时", "提交的内容未能及时送达，请重试。"),
    409: ("已经处理", "此事项已被办理或状态已变化，请刷新后查看。"),
    413: ("内容过长", "提交的内容超过了大小限制，请精简后重试。"),
    422: ("填写有误", "提交的内容有误，请返回修改。"),
    429: ("操作过于频繁", "您的操作过于频繁，请几分钟后再试。"),
    500: ("系统繁忙", "系统暂时无法完成此操作，已撤销本次提交，请稍后再试。"),
}
_PHRASES = {s.value: s.phrase for s in HTTPStatus}
_NOT_PAGES = ("/api/", "/static/")


def is_page(path: str) -> bool:
    return not (path.startswith(_NOT_PAGES) or path in ("/openapi.json", "/docs", "/redoc"))


def error_page(request: Request, status: int, detail: str | None = None) -> Response:
    """The error page; the domain's own message only to a signed-in official (it is in English and
    may name records), never to the public."""
    if status == 401 and request.method == "GET":
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
    title, text = TITLES.get(status, ("错误", _PHRASES.get(status, "")))
    official = getattr(request.state, "official", None)
    context = {"title": title, "text": text, "status": status, "detail": detail if official else None}
    response = render(request, "error.html.j2", context, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def pages_or(handler: Handler) -> Handler:
    """The handler for the API, the error page for a page."""

    async def handle(request: Request, exc: Any) -> Response:
        if not is_page(request.url.path):
            answer = handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        error = exc.error if isinstance(exc, PageError) else exc
        if isinstance(error, JianyiError):
            if error.refusal is not None:
                await run_in_threadpool(refusals.record, error)
            return error_page(request, error.status_code, error.message)
        if isinstance(error, RequestValidationError):
            return error_page(request, 422)
        if isinstance(error, StarletteHTTPException):
            return error_page(request, error.status_code)
        return error_page(request, 500)

    return handle


async def csrf_failed(scope: Scope, send: Send, _message_id: int) -> None:
    """asgi-csrf's refusal of a form without its token, as the error page (403)."""
    body = environment.get_template("error.html.j2").render(
        title="表单已失效",
        text="表单缺少有效的安全校验码（可能已过期），请返回上一页刷新后重新提交。",
        status=403,
        detail=None,
        me=None,
        csrf="",
    )
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
