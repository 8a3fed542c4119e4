"""Messages to proposers, rendered from the Jinja2 templates in jianyi/templates/mail.

A communication rule (rules/communications.yaml) names a template and a channel:

- email: ``NAME.txt.j2`` and ``NAME.html.j2`` (a plain-text and an HTML part);
- sms: ``NAME.sms.j2`` (a short text);
- letter: ``NAME.txt.j2`` (printed by the office, which then logs it).

Each template sets its own subject (``{% set subject %}…{% endset %}`` in the text or SMS one), so
a new template is a new file, not a code change. A message only ever carries what the proposer gave
us and what the office decided about their own suggestion: the greeting names the proposer (or
says 建议人), nobody else is named.

What a template may use depends on what triggered it (`FIELDS_BY_TRIGGER`): a reply's text exists
only once a reply was sent. A template that uses a value its trigger does not give is refused when
the rules load (`template_problem`), the same way it would fail when rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from typing import Any, Final, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape
from pydantic import BaseModel, ConfigDict

TextChannel = Literal["email", "sms", "letter"]

# The files a channel renders, by suffix; the first one sets the subject.
_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "email": ("txt.j2", "html.j2"),
    "sms": ("sms.j2",),
    "letter": ("txt.j2",),
}

# Every message has these (proposer_name may be None: the greeting then says 建议人).
COMMON_FIELDS: Final = frozenset({"proposer_name", "tracking_code", "title", "tracking_url", "rating_url"})
# What each trigger adds, as "event:NAME" or "stage:NAME" (values may be None, e.g. no reason given).
FIELDS_BY_TRIGGER: Final[dict[str, frozenset[str]]] = {
    "event:suggestion_received": frozenset({"check_code"}),
    "event:reply_sent": frozenset({"reply_text", "original_tracking_code"}),
    "event:commended": frozenset({"commendation"}),
    "event:closed": frozenset({"outcome_label", "reason", "original_tracking_code"}),
    "stage:closed": frozenset({"outcome_label", "reason", "original_tracking_code"}),
}

_SAMPLE: Final[dict[str, str]] = {
    "proposer_name": "李明",
    "tracking_code": "SH20260001",
    "title": "关于增设公交站点的建议",
    "tracking_url": "http://127.0.0.1:8700/track/SH20260001?check=k3y",
    "rating_url": "http://127.0.0.1:8700/track/SH20260001?check=k3y&rate=1",
    "check_code": "k3y",
    "reply_text": "经市交通委研究，拟于明年增设站点。",
    "original_tracking_code": "SH20250999",
    "commendation": "2026年度优秀人民建议（一等）",
    "outcome_label": "已采纳并落实",
    "reason": "已纳入年度实事项目",
}


class MailContext(BaseModel):
    """The values of one message. Unset (None) optional values read as absent in a template."""

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
    commendation: str | None = None  # e.g. 2026年度优秀人民建议（一等）


class RenderedMail(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    text: str
    html: str


class UnknownTemplate(ValueError):
    def __init__(self, template: str, channel: str) -> None:
        known = ", ".join(template_names(channel)) or "none"
        super().__init__(f"no {channel} template {template!r}; known: {known}")
        self.template = template


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


def template_names(channel: str) -> list[str]:
    """The templates a channel can use: those with every file the channel renders."""
    present = {entry.name for entry in files("jianyi").joinpath("templates/mail").iterdir()}
    suffixes = _SUFFIXES.get(channel, ())
    names = {name.split(".", 1)[0] for name in present if not name.startswith("_")}
    return sorted(n for n in names if suffixes and all(f"{n}.{s}" in present for s in suffixes))


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query string (whether or not it already has one)."""
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


def render(template: str, channel: TextChannel, values: Mapping[str, Any]) -> RenderedMail:
    """Render `template` for `channel` from exactly `values` (a value not given is an error).

    Raises UnknownTemplate, or jinja2's TemplateError (e.g. UndefinedError) when the template uses
    a value that was not given.
    """
    if template not in template_names(channel):
        raise UnknownTemplate(template, channel)
    env = _environment()
    first, *others = (env.get_template(f"{template}.{suffix}") for suffix in _SUFFIXES[channel])
    module = first.make_module(dict(values))
    subject = str(getattr(module, "subject", "")).strip()
    text = str(module).strip() if channel == "sms" else str(module)
    html = others[0].render({**values, "subject": subject}) if others else ""
    return RenderedMail(subject=subject, text=text, html=html)


def render_mail(template: str, context: MailContext) -> RenderedMail:
    """An e-mail from a full context (every field given, unset ones as None)."""
    values = context.model_dump()
    values["rating_url"] = with_query(context.tracking_url, rate="1")
    return render(template, "email", values)


def template_problem(template: str, channel: TextChannel, trigger: str) -> str | None:
    """Why `template` cannot serve `channel` for `trigger` ("event:reply_sent"), or None if it can."""
    if template not in template_names(channel):
        suffixes = " and ".join(f"{template}.{s}" for s in _SUFFIXES[channel])
        known = ", ".join(template_names(channel)) or "none"
        return f"no {channel} template {template!r} (needs {suffixes}); known: {known}"
    given = COMMON_FIELDS | FIELDS_BY_TRIGGER.get(trigger, frozenset())
    try:
        mail = render(template, channel, {name: _SAMPLE[name] for name in given})
    except TemplateError as exc:
        return f"template {template!r} cannot be rendered for {trigger.replace(':', ' ')}: {exc.message}"
    if not mail.subject and channel != "sms":
        return f"template {template!r} sets no subject ({{% set subject %}}…{{% endset %}})"
    return None
