from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.contact import mobile_number
from jianyi.models.enums import ProposerKind


class Proposer(Base):
    """Who made a suggestion. Personal data: shown only to those who need it, never published."""

    __tablename__ = "proposers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ProposerKind] = mapped_column(Enum(ProposerKind, native_enum=False, length=32))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(
        String(300)
    )  # postal: a letter reaches who gave no other contact
    anonymous: Mapped[bool] = mapped_column(default=False)
    confidential: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def mobile(self) -> str | None:
        """The proposer's mobile number (an SMS reaches it), or None: a landline, or no phone."""
        return mobile_number(self.phone)
