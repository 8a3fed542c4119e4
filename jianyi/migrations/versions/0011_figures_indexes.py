"""figures: a paused step's missed deadline, and the indexes the figures read

The figures (jianyi.services.figures) count steps by kind answered in a period, unanswered past
their deadline, or opened in a period; assignments made or withdrawn in a period; rungs fired in a
period; lead opinions given in a period. ``steps.missed_due_at`` keeps the deadline a step had already missed when its clock was
paused, so that the resume (which moves due_at) does not make it on time.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRED = "state = 'fired'"
_MISSED = "missed_due_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("missed_due_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_steps_kind_submitted", ["kind", "submitted_at"], unique=False)
        batch_op.create_index("ix_steps_kind_state_due", ["kind", "state", "due_at"], unique=False)
        batch_op.create_index("ix_steps_kind_created", ["kind", "created_at"], unique=False)
        batch_op.create_index(
            "ix_steps_missed_due",
            ["missed_due_at"],
            unique=False,
            sqlite_where=sa.text(_MISSED),
            postgresql_where=sa.text(_MISSED),
        )
    # A step paused now, after its deadline, was paused late (an earlier paused-and-resumed one is
    # not known any more: its deadline has moved).
    op.execute("UPDATE steps SET missed_due_at = due_at WHERE paused_at IS NOT NULL AND paused_at > due_at")
    with op.batch_alter_table("opinions", schema=None) as batch_op:
        batch_op.create_index("ix_opinions_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_assignments_state_closed", ["state", "closed_at"], unique=False)
    with op.batch_alter_table("step_timers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_step_timers_fired",
            ["fired_at"],
            unique=False,
            sqlite_where=sa.text(_FIRED),
            postgresql_where=sa.text(_FIRED),
        )


def downgrade() -> None:
    with op.batch_alter_table("step_timers", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_step_timers_fired", sqlite_where=sa.text(_FIRED), postgresql_where=sa.text(_FIRED)
        )
    with op.batch_alter_table("opinions", schema=None) as batch_op:
        batch_op.drop_index("ix_opinions_created_at")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_state_closed")
        batch_op.drop_index("ix_assignments_created_at")
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_steps_missed_due", sqlite_where=sa.text(_MISSED), postgresql_where=sa.text(_MISSED)
        )
        batch_op.drop_index("ix_steps_kind_created")
        batch_op.drop_index("ix_steps_kind_state_due")
        batch_op.drop_index("ix_steps_kind_submitted")
        batch_op.drop_column("missed_due_at")
