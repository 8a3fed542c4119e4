"""suggestions.first_referred_at, first_replied_at: the first referral and the first reply

"Solved within N working days of referral" reads each suggestion's first referral and first reply;
found per suggestion among its assignments and steps, that was a year's slowest figure. They are
now kept on the suggestion when they happen (the referral; the reply, when the flow applies it, at
the time it was submitted) and read from one index. Earlier cases get theirs from their
assignments and reply steps here.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_referred_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("first_replied_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE suggestions SET "
        "first_referred_at = (SELECT min(a.created_at) FROM assignments a WHERE a.suggestion_id = suggestions.id), "
        "first_replied_at = (SELECT min(s.submitted_at) FROM steps s WHERE s.suggestion_id = suggestions.id "
        "AND s.kind = 'reply' AND s.state = 'completed')"
    )
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suggestions_referral", ["first_referred_at", "first_replied_at", "lead_unit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_suggestions_referral")
        batch_op.drop_column("first_replied_at")
        batch_op.drop_column("first_referred_at")
