"""A digest issue as HTML (Jinja2, autoescaped) and PDF (WeasyPrint, Noto CJK), and its mail to the
city's leaders (the PDF attached, queued in the outbox once per leader).

Rendering reads only the frozen entries, outside any transaction (as the reports do); the same issue
renders to the same files, which a re-run keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Digest, User
from jianyi.models.enums import Role
from jianyi.rules.messages import RenderedMail
from jianyi.services.cycles.digest import TITLE, items_of, title_of
from jianyi.services.outbox import mail_row, queue_mails
from jianyi.services.reports.kinds import SHANGHAI
from jianyi.services.reports.render import OFFICE, Files, write_files
from jianyi.settings import get_settings


@dataclass(frozen=True)
class Frozen:
    """What rendering needs of an issue: plain values, no ORM object across threads."""

    id: int
    number: int
    compiled_at: datetime
    items: list[dict[str, Any]]


def frozen(session: Session, digest: Digest) -> Frozen:
    return Frozen(
        digest.id, digest.number, digest.compiled_at, [i.entry for i in items_of(session, digest.id)]
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[2] / "templates" / "cycles"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )


def _values(issue: Frozen) -> dict[str, Any]:
    local = issue.compiled_at.astimezone(SHANGHAI)
    return {
        "office": OFFICE,
        "heading": TITLE,
        "title": title_of(issue.number),
        "number": issue.number,
        "items": issue.items,
        "compiled": local.strftime("%Y年%m月%d日"),
        "compiled_date": f"{local.year}年{local.month}月{local.day}日",
    }


def html(issue: Frozen) -> str:
    return environment().get_template("digest.html.j2").render(_values(issue))


def files_of(issue: Frozen, home: Path | None = None) -> Files:
    base = (home or get_settings().home).resolve() / "digests"
    return Files(html=base / f"digest-{issue.number}.html", pdf=base / f"digest-{issue.number}.pdf")


def render(issue: Frozen, home: Path | None = None) -> Files:
    """The issue's HTML and PDF; kept if both exist already (a re-run)."""
    return write_files(files_of(issue, home), lambda: html(issue))


def leaders(session: Session) -> list[User]:
    """Whom the digest is addressed to: active users with the leader role and an e-mail address."""
    return list(
        session.scalars(
            select(User)
            .where(User.role == Role.leader, User.active.is_(True), User.email.is_not(None))
            .order_by(User.id)
        )
    )


def queue_mail(session: Session, *, digest_id: int, now: datetime) -> int:
    """One mail per leader with the PDF, once per issue; returns how many were queued now."""
    digest = session.get_one(Digest, digest_id)
    if digest.emailed_at is not None:
        return 0
    assert digest.pdf_path, "an issue is rendered before it is mailed"
    issue = frozen(session, digest)
    # The leaders' page of the issue, where each item is instructed (jianyi/web/leader.py).
    values = {**_values(issue), "link": f"{get_settings().resolved_public_url}/digests/{digest.id}"}
    mail = RenderedMail(
        subject=f"【{TITLE}】第{digest.number}期",
        text=environment().get_template("digest_mail.txt.j2").render(values),
        html=environment().get_template("digest_mail.html.j2").render(values),
    )
    attachment = {
        "path": digest.pdf_path,
        "filename": f"{TITLE}-第{digest.number}期.pdf",
        "content_type": "application/pdf",
    }
    rows = [
        {
            **mail_row(
                dedupe_key=f"digest:{digest.id}:to:{user.id}",
                suggestion_id=None,
                kind="digest",
                to_addr=user.email or "",
                mail=mail,
            ),
            "attachments": [attachment],
        }
        for user in leaders(session)
    ]
    queue_mails(session, rows)
    digest.emailed_at = now
    session.flush()
    return len(rows)
