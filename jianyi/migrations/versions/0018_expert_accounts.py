"""expert accounts: a commendation reviewer's user, to score in their own name

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 16:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint("uq_experts_user_id", ["user_id"])
        batch_op.create_foreign_key("fk_experts_user_id_users", "users", ["user_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_experts_user_id_users", type_="foreignkey")
        batch_op.drop_constraint("uq_experts_user_id", type_="unique")
        batch_op.drop_column("user_id")
