"""Mail to proposers, rendered from the Jinja2 templates in jianyi/templates/mail.

A message only ever carries what the proposer gave us and what the office decided about
their own suggestion: the greeting names the proposer (or says 建议人), nobody else is named.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ConfigDict

# kind → subject; the tracking code lets the proposer tell two suggestions' mails apart.
SUBJECTS: Final[dict[str, str]] = {
    "acknowledgement": "已收到您的建议（跟踪编号 {tracking_code}）",
    "reply": "您的建议已有答复（跟踪编号 {tracking_code}）",
    "outcome": "您的建议办理结果：{outcome_label}（跟踪编号 {tracking_code}）",
    "merged": "您的建议已与同类建议合并办理（跟踪编号 {tracking_code}）",
    "redirected": "您的诉求已转投诉求决渠道办理（跟踪编号 {tracking_code}）",
}
MAIL_KINDS: Final = frozenset(SUBJECTS)

# Fields a kind cannot do without: a reply mail with no reply in it is a bug, not a mail.
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "acknowledgement": (),
    "reply": ("reply_text",),
    "outcome": ("outcome_label",),
    "merged": (),
    "redirected": (),
}


class MailContext(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposer_name: str | None = None
    tracking_code: str
    check_code: str | None = None  # only in the acknowledgement: the proposer's secret, shown once
    title: str
    tracking_url: str
    outcome_label: str | None = None
    reason: str | None = None
    reply_text: str | None = None
    original_tracking_code: str | None = None  # the suggestion a duplicate was merged into


class RenderedMail(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    text: str
    html: str


class UnknownMailKind(ValueError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown mail kind {kind!r}; known: {', '.join(sorted(MAIL_KINDS))}")
        self.kind = kind


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("jianyi", "templates/mail"),
        # Escape the HTML part only: proposer-supplied titles and office texts go in verbatim as text.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query string (whether or not it already has one)."""
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


def render_mail(kind: str, context: MailContext) -> RenderedMail:
    if kind not in MAIL_KINDS:
        raise UnknownMailKind(kind)
    missing = [name for name in _REQUIRED[kind] if not getattr(context, name)]
    if missing:
        raise ValueError(f"{kind} mail needs {', '.join(missing)}")
    values = context.model_dump()
    subject = SUBJECTS[kind].format(**values)
    values["subject"] = subject
    values["rating_url"] = with_query(context.tracking_url, rate="1")
    env = _environment()
    text = env.get_template(f"{kind}.txt.j2").render(values)
    html = env.get_template(f"{kind}.html.j2").render(values)
    return RenderedMail(subject=subject, text=text, html=html)
