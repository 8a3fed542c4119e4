"""Who is acting: an authenticated official, a proposer proven by the check code, or the system."""

from __future__ import annotations

from dataclasses import dataclass

from jianyi.models.enums import Role


@dataclass(frozen=True, slots=True)
class Actor:
    label: str
    role: Role | None = None
    user_id: int | None = None
    unit_id: int | None = None
    name: str | None = None

    @property
    def is_system(self) -> bool:
        return self.role is None


FLOW = Actor(label="flow")
EXECUTOR = Actor(label="executor")
