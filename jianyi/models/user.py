from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from jianyi.models.base import Base, utcnow
from jianyi.models.enums import Role


class User(Base):
    """An official. Authenticates with a bearer token; only its SHA-256 is stored, and it expires."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))  # where reminders and supervision notices go
    head: Mapped[bool] = mapped_column(default=False)  # the unit's head (负责人): told when a step falls due
    active: Mapped[bool] = mapped_column(default=True)
    # After this instant the token is refused (401) until it is rotated (`jianyi users rotate`).
    token_expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The web pages' sign-in (jianyi/services/accounts.py): a login name and an argon2 hash; after
    # repeated wrong passwords the account is locked until ``locked_until``.
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
