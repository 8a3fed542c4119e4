"""figures: covering indexes for a year's figures

A year's figures count hundreds of thousands of steps, assignments and progress reports; with
indexes that hold every column the queries read, they are counted from the index alone, not one
table read each (bench group ``figures``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRED = "state = 'fired'"
_READ = ["due_at", "missed_due_at", "paused_at", "unit_id", "suggestion_id", "optional"]


def upgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_kind_submitted")
        batch_op.drop_index("ix_steps_kind_state_due")
        batch_op.drop_index("ix_steps_kind_created")
        batch_op.create_index("ix_steps_kind_submitted", ["kind", "submitted_at", *_READ], unique=False)
        batch_op.create_index(
            "ix_steps_kind_state_due", ["kind", "state", "due_at", *_READ[1:]], unique=False
        )
        batch_op.create_index("ix_steps_kind_created", ["kind", "created_at", "suggestion_id"], unique=False)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_created_at")
        batch_op.create_index(
            "ix_assignments_created_at", ["created_at", "suggestion_id", "unit_id"], unique=False
        )
    with op.batch_alter_table("implementation_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_implementation_progress_suggestion_id")
        batch_op.create_index(
            "ix_progress_suggestion_reported", ["suggestion_id", "reported_at", "implemented"], unique=False
        )
    with op.batch_alter_table("step_timers", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_step_timers_fired", sqlite_where=sa.text(_FIRED), postgresql_where=sa.text(_FIRED)
        )
        batch_op.create_index(
            "ix_step_timers_fired",
            ["fired_at", "step_id"],
            unique=False,
            sqlite_where=sa.text(_FIRED),
            postgresql_where=sa.text(_FIRED),
            postgresql_include=["actions"],
        )


def downgrade() -> None:
    with op.batch_alter_table("step_timers", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_step_timers_fired", sqlite_where=sa.text(_FIRED), postgresql_where=sa.text(_FIRED)
        )
        batch_op.create_index(
            "ix_step_timers_fired",
            ["fired_at"],
            unique=False,
            sqlite_where=sa.text(_FIRED),
            postgresql_where=sa.text(_FIRED),
        )
    with op.batch_alter_table("implementation_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_suggestion_reported")
        batch_op.create_index("ix_implementation_progress_suggestion_id", ["suggestion_id"], unique=False)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_created_at")
        batch_op.create_index("ix_assignments_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_kind_created")
        batch_op.drop_index("ix_steps_kind_state_due")
        batch_op.drop_index("ix_steps_kind_submitted")
        batch_op.create_index("ix_steps_kind_created", ["kind", "created_at"], unique=False)
        batch_op.create_index("ix_steps_kind_state_due", ["kind", "state", "due_at"], unique=False)
        batch_op.create_index("ix_steps_kind_submitted", ["kind", "submitted_at"], unique=False)
