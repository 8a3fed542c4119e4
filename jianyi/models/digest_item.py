from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base


class DigestItem(Base):
    """An important suggestion in a digest: what the leaders read of it (no personal data), and the
    ``leader_instruction`` step its instruction completes. A suggestion is digested once."""

    __tablename__ = "digest_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id"), index=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), unique=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    position: Mapped[int] = mapped_column()  # 1, 2 … within the issue
    # Frozen: tracking_code, title, category, district, lead_unit, refined, problem, proposal, office_view.
    entry: Mapped[dict[str, Any]] = mapped_column()
