"""A report to the office's recipients: one mail each, the PDF attached, queued in the outbox.

Keyed by the report version and the recipient, so a re-run of the period queues nothing new and each
recipient gets each version once (the outbox sends with a stable Message-ID). The recipients are the
city office's active officials with an e-mail address (office and supervisors).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Report, Unit, User
from jianyi.models.enums import Role, UnitKind
from jianyi.rules.messages import RenderedMail
from jianyi.services.outbox import mail_row, queue_mails
from jianyi.services.reports.kinds import kind_of
from jianyi.services.reports.render import OFFICE, environment
from jianyi.services.reports.view import is_rate


def recipients(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(Unit, Unit.id == User.unit_id)
            .where(
                Unit.kind == UnitKind.city_office,
                User.role.in_([Role.office, Role.supervisor]),
                User.active.is_(True),
                User.email.is_not(None),
            )
            .order_by(User.id)
        )
    )


def compose(report: Report) -> RenderedMail:
    title = kind_of(report.kind).title
    rates = next(
        (v for v in report.figures.values() if isinstance(v, list) and v and all(is_rate(x) for x in v)), []
    )
    values = {
        "office": OFFICE,
        "title": title,
        "period_label": report.period_label,
        "version": report.version,
        "note": report.note,
        "rates": rates,
    }
    env = environment()
    correction = f"（更正第{report.version}版）" if report.version > 1 else ""
    return RenderedMail(
        subject=f"【{title}】{report.period_label}{correction}",
        text=env.get_template("mail.txt.j2").render(values),
        html=env.get_template("mail.html.j2").render(values),
    )


def queue(session: Session, *, report_id: int, now: datetime) -> int:
    """Queue the version's mails once; returns how many were queued now (0 on a re-run)."""
    report = session.get_one(Report, report_id)
    if report.emailed_at is not None:
        return 0
    assert report.pdf_path, "a report is rendered before it is mailed"
    mail = compose(report)
    attachment = {
        "path": report.pdf_path,
        "filename": f"{kind_of(report.kind).title}-{report.period}-v{report.version}.pdf",
        "content_type": "application/pdf",
    }
    rows = []
    for user in recipients(session):
        row = mail_row(
            dedupe_key=f"report:{report.id}:to:{user.id}",
            suggestion_id=None,
            kind="report",
            to_addr=user.email or "",
            mail=mail,
        )
        rows.append({**row, "attachments": [attachment]})
    queue_mails(session, rows)
    report.emailed_at = now
    session.flush()
    return len(rows)
