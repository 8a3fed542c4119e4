"""token expiry and redacted summaries

Officials' tokens expire: every existing token gets 90 days from now (the settings' default), so
nobody is locked out by the upgrade. The summaries of messages sent before, which every viewer of
the case reads, lose the check code and the check= links they carried.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 11:05:00
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# As jianyi.services.check_codes.redact does it, copied so that this revision never changes.
_SECRET_PARAM = re.compile(r"(?i)([?&](?:check|token|access_token)=)[^&#\s]*")


def _redact(text: str, check_code: str) -> str:
    return _SECRET_PARAM.sub(r"\g<1>***", text.replace(check_code, "***") if check_code else text)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_expires_at", sa.DateTime(), nullable=True))
    expires = (datetime.now(UTC) + timedelta(days=90)).replace(tzinfo=None)  # stored as naive UTC
    op.execute(sa.text("UPDATE users SET token_expires_at = :at").bindparams(at=expires))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("token_expires_at", existing_type=sa.DateTime(), nullable=False)

    # Messages the system sent (an outbox message) are the ones whose summary is their text.
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT c.id, c.summary, s.check_code FROM communications c "
            "JOIN suggestions s ON s.id = c.suggestion_id WHERE c.outbox_message_id IS NOT NULL"
        )
    ).all()
    update = sa.text("UPDATE communications SET summary = :summary WHERE id = :id")
    for row in rows:
        redacted = _redact(row.summary, row.check_code)
        if redacted != row.summary:
            connection.execute(update, {"summary": redacted, "id": row.id})


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_expires_at")
