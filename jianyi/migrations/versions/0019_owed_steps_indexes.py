"""owed steps indexes: a unit's open steps by deadline and its answered ones latest first, by page

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERED = "state IN ('submitted', 'completed')"
SECOND = "alt_unit_id IS NOT NULL"


def _partial(where: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}


def upgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_unit_state")
        batch_op.create_index("ix_steps_unit_state_due", ["unit_id", "state", "due_at", "id"], unique=False)
        batch_op.create_index(
            "ix_steps_alt_unit_state_due", ["alt_unit_id", "state", "due_at", "id"], **_partial(SECOND)
        )
        batch_op.create_index(
            "ix_steps_unit_answered", ["unit_id", "submitted_at", "id"], **_partial(ANSWERED)
        )
        batch_op.create_index(
            "ix_steps_alt_unit_answered",
            ["alt_unit_id", "submitted_at", "id"],
            **_partial(f"{ANSWERED} AND {SECOND}"),
        )


def downgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_alt_unit_answered")
        batch_op.drop_index("ix_steps_unit_answered")
        batch_op.drop_index("ix_steps_alt_unit_state_due")
        batch_op.drop_index("ix_steps_unit_state_due")
        batch_op.create_index("ix_steps_unit_state", ["unit_id", "state"], unique=False)
