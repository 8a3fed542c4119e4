"""Notices to officials (reminders, head notices, supervision orders, escalations), through the outbox.

Only the suggestion's title and codes and the step are named: never the proposer's personal data.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Step, Suggestion, Unit, User
from jianyi.rules.messages import RenderedMail
from jianyi.services.lifecycle.stages import spec_of
from jianyi.services.outbox import mail_row, queue_mails
from jianyi.settings import get_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUBJECTS = {
    "remind": "【提醒】待办事项即将到期",
    "notify_head": "【告知】本单位有待办事项到期",
    "supervision_order": "【督办单】请限期答复",
    "escalate": "【提级督办】下级单位超期事项",
    "communication_overdue": "【提醒】与建议人的沟通已逾期",
    "reconcile": "【核对】建议的流程实例与记录不一致",
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates" / "official"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def recipients(session: Session, *, unit_id: int, heads: bool) -> list[User]:
    """The unit's handlers (or its heads) who have an address."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.unit_id == unit_id, User.active.is_(True), User.head.is_(heads), User.email.is_not(None)
            )
            .order_by(User.id)
        )
    )


def send(
    session: Session,
    *,
    kind: str,
    key: str,
    to: list[User],
    unit: Unit,
    suggestion: Suggestion,
    summary: str,
    step: Step | None = None,
    item: str | None = None,
    due_at: datetime | None = None,
    link: str | None = None,
    overdue: int = 0,
    answer_within: int | None = None,
    into: list[dict[str, object]] | None = None,
) -> int:
    """Queue one notice per recipient; ``key`` makes a repeated cause queue nothing new.

    The notice is about a ``step`` (its label, due date and link), or about another ``item`` the
    unit owes (e.g. a call to the proposer) with its own ``due_at`` and ``link``. With ``into``, the
    outbox rows are added to that list instead, for the caller to queue many at once
    (``outbox.queue_mails``) in the same transaction.
    """
    office = session.get(Unit, suggestion.office_unit_id)
    due_at = due_at or (step.due_at if step is not None else None)
    values = {
        "unit_name": unit.name,
        "summary": summary,
        "title": suggestion.title,
        "tracking_code": suggestion.tracking_code,
        "step_label": item or (spec_of(step.kind).label if step is not None else ""),
        "due": due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if due_at else None,
        "overdue": overdue,
        "answer_within": answer_within,
        # The web page of the step, or of the suggestion (jianyi/web/workbench.py).
        "link": link
        or get_settings().resolved_public_url
        + (f"/steps/{step.id}" if step else f"/suggestions/{suggestion.id}"),
        "office_name": office.name if office else "",
    }
    env = _environment()
    mail = RenderedMail(
        subject=f"{SUBJECTS[kind]}：{suggestion.title}（{suggestion.tracking_code}）",
        text=env.get_template("notice.txt.j2").render(values),
        html=env.get_template("notice.html.j2").render(values),
    )
    rows = [
        mail_row(
            dedupe_key=f"{key}:to:{user.id}",
            suggestion_id=suggestion.id,
            kind=kind,
            to_addr=user.email or "",
            mail=mail,
        )
        for user in to
        if user.email
    ]
    if into is None:
        queue_mails(session, rows)
    else:
        into.extend(rows)
    return len(to)
