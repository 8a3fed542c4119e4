"""steps.answer: the deciding value of an answer (a review's action, a rating), for the figures

The figures count reviews, ratings and dissatisfaction reviews by one field of their input; reading
it from each step's JSON cost a table read per answer (a year: 150,000). The value is now kept in a
column when the step is answered, and the figures' index holds it. Existing answers are copied from
their input here.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As jianyi.models.step.ANSWER_FIELDS when this revision was written.
_FIELDS = {"review": "action", "rating": "rating", "dissatisfaction_review": "action"}
_READ = ["due_at", "missed_due_at", "paused_at", "unit_id", "suggestion_id", "optional"]


def _value(dialect: str, field: str) -> str:
    if dialect == "sqlite":
        return f"substr(json_extract(input, '$.{field}'), 1, 32)"
    return f"left(input ->> '{field}', 32)"


def upgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.String(length=32), nullable=True))
    dialect = op.get_bind().dialect.name
    for kind, field in _FIELDS.items():
        op.execute(
            f"UPDATE steps SET answer = {_value(dialect, field)} "
            f"WHERE kind = '{kind}' AND input IS NOT NULL AND submitted_at IS NOT NULL"
        )
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_kind_submitted")
        batch_op.create_index(
            "ix_steps_kind_submitted", ["kind", "submitted_at", *_READ, "answer", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index("ix_steps_kind_submitted")
        batch_op.create_index("ix_steps_kind_submitted", ["kind", "submitted_at", *_READ], unique=False)
        batch_op.drop_column("answer")
