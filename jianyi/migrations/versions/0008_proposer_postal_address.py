"""proposer postal address; SMS summaries say what was sent, not its text

A proposer who gave neither e-mail nor phone (a letter writer) is told by letter: their postal
address is kept. The summary of an SMS the system sent was its text (the proposer's name, their
tracking link): it becomes what the message was, e.g. "短信：受理告知（含查询码）", as new ones are.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As jianyi.services.communications labels a sent SMS, copied so that this revision never changes.
_SMS_SUMMARIES = {
    "acknowledgement": "短信：受理告知（含查询码）",
    "pre_report": "短信：事前沟通",
    "in_progress": "短信：事中沟通",
    "reply": "短信：答复（含查询链接）",
    "rating_request": "短信：满意度评价邀请（含查询链接）",
    "post_adoption": "短信：事后沟通",
    "commendation": "短信：表彰告知（含查询链接）",
    "outcome": "短信：办结告知（含查询链接）",
}


def upgrade() -> None:
    with op.batch_alter_table("proposers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=300), nullable=True))
    update = sa.text(
        "UPDATE communications SET summary = :summary "
        "WHERE kind = :kind AND method = 'sms' AND outbox_message_id IS NOT NULL"
    )
    for kind, summary in _SMS_SUMMARIES.items():
        op.execute(update.bindparams(kind=kind, summary=summary))


def downgrade() -> None:
    with op.batch_alter_table("proposers", schema=None) as batch_op:
        batch_op.drop_column("address")
