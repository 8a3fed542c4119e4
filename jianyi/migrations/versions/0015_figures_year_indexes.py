"""figures: indexes for a whole year's figures (received, first referrals, adoption, fired rungs)

The year's slowest figures read the table row by row: the suggestions received (wide rows), each
suggestion's earlier referrals and first reply, the lead opinions and whether a later one
superseded them, and the rungs that escalated or marked for the bulletin among millions of
reminders. These indexes hold what those queries read (bench group ``figures``); four narrower
indexes they replace are dropped.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECEIVED = ["stage", "channel", "category", "campaign", "outcome", "office_unit_id", "region_unit_id"]
_BULLETIN = "bulletin_marked_at IS NOT NULL"


def _fired_with(action: str) -> str:  # as jianyi.models.step_timer.fired_with, frozen here
    return f"""state = 'fired' AND CAST(actions AS VARCHAR) LIKE '%"type": "{action}"%'"""


def upgrade() -> None:
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_suggestions_received_at")
        batch_op.create_index("ix_suggestions_received", ["received_at", *_RECEIVED], unique=False)
        batch_op.create_index("ix_suggestions_level", ["level"], unique=False)
        batch_op.create_index(
            "ix_suggestions_bulletin",
            ["bulletin_marked_at"],
            unique=False,
            sqlite_where=sa.text(_BULLETIN),
            postgresql_where=sa.text(_BULLETIN),
        )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_suggestion_id")
        batch_op.create_index(
            "ix_assignments_suggestion_created", ["suggestion_id", "created_at"], unique=False
        )
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_suggestion_id")
        batch_op.create_index(
            "ix_steps_suggestion_kind", ["suggestion_id", "kind", "submitted_at"], unique=False
        )
    with op.batch_alter_table("opinions", schema=None) as batch_op:
        batch_op.drop_index("ix_opinions_created_at")
        batch_op.drop_index("ix_opinions_suggestion_id")
        batch_op.create_index(
            "ix_opinions_created",
            ["created_at", "is_lead", "decision", "suggestion_id", "unit_id", "step_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_opinions_suggestion_lead", ["suggestion_id", "is_lead", "created_at", "id"], unique=False
        )
    with op.batch_alter_table("step_timers", schema=None) as batch_op:
        for action in ("escalate", "bulletin"):
            batch_op.create_index(
                f"ix_step_timers_fired_{action}",
                ["fired_at", "step_id"],
                unique=False,
                sqlite_where=sa.text(_fired_with(action)),
                postgresql_where=sa.text(_fired_with(action)),
            )


def downgrade() -> None:
    with op.batch_alter_table("step_timers", schema=None) as batch_op:
        for action in ("escalate", "bulletin"):
            batch_op.drop_index(
                f"ix_step_timers_fired_{action}",
                sqlite_where=sa.text(_fired_with(action)),
                postgresql_where=sa.text(_fired_with(action)),
            )
    with op.batch_alter_table("opinions", schema=None) as batch_op:
        batch_op.drop_index("ix_opinions_suggestion_lead")
        batch_op.drop_index("ix_opinions_created")
        batch_op.create_index("ix_opinions_suggestion_id", ["suggestion_id"], unique=False)
        batch_op.create_index("ix_opinions_created_at", ["created_at"], unique=False)
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_suggestion_kind")
        batch_op.create_index("ix_steps_suggestion_id", ["suggestion_id"], unique=False)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_suggestion_created")
        batch_op.create_index("ix_assignments_suggestion_id", ["suggestion_id"], unique=False)
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_suggestions_bulletin", sqlite_where=sa.text(_BULLETIN), postgresql_where=sa.text(_BULLETIN)
        )
        batch_op.drop_index("ix_suggestions_level")
        batch_op.drop_index("ix_suggestions_received")
        batch_op.create_index("ix_suggestions_received_at", ["received_at"], unique=False)
