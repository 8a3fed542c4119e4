"""a step paused after its deadline runs again

A pause is now refused once a step is due (jianyi.services.clocks). A step paused late before
that left the overdue board and its escalation ladders for as long as it stood paused: its clock
runs again (no working days added: it was late already), and the rungs its pause made moot are
pending again, so that the next sweep chases it as it would have.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 11:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An open step paused at or after its deadline. Its moot timers are those its pause made moot: an
# answer or a cancellation closes the step, and a resume replaces them.
_PAUSED_LATE = "state = 'open' AND paused_at IS NOT NULL AND due_at IS NOT NULL AND paused_at >= due_at"


def upgrade() -> None:
    op.execute(
        "UPDATE step_timers SET state = 'pending' "
        f"WHERE state = 'moot' AND step_id IN (SELECT id FROM steps WHERE {_PAUSED_LATE})"
    )
    op.execute(f"UPDATE steps SET paused_at = NULL WHERE {_PAUSED_LATE}")


def downgrade() -> None:
    """Nothing: the pauses it ended broke the rules, and are not restored."""
