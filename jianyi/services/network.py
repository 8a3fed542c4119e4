"""The unit network (1+16+216+6500+X): the seed upsert (the file is ``models/unit_seed.py``) and the tree view.

Units are identified by their code everywhere outside the database (rules, users, referrals),
so the seed is upserted by code and a code is never reused for another unit.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Unit
from jianyi.models.enums import UnitKind
from jianyi.models.unit_seed import load_network_file


class UnitNode(BaseModel):
    """A unit as `GET /api/units` shows it."""

    id: int
    code: str
    name: str
    kind: UnitKind
    children: list[UnitNode] = Field(default_factory=list)


class UnknownUnit(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no unit with code {code!r}")
        self.code = code


def seed_network(session: Session, *, path: Path | None = None) -> int:
    """Upsert the seed file's units by code; return how many were created.

    Existing units get the file's name, kind and parent; units not in the file are left alone
    (an administrator may have added them). Flushes only: the caller commits.
    """
    roots = load_network_file(path)
    existing = {unit.code: unit for unit in session.scalars(select(Unit))}
    created = 0
    for root in roots:
        for seed, parent in root.walk():
            # Parents come first in walk(), so a parent's id is known (flushed) before its children.
            parent_id = existing[parent.code].id if parent is not None else None
            unit = existing.get(seed.code)
            if unit is None:
                unit = Unit(code=seed.code, name=seed.name, kind=seed.kind, parent_id=parent_id)
                session.add(unit)
                session.flush()
                existing[seed.code] = unit
                created += 1
                continue
            # Assign only what differs, so a second run leaves the rows (and updated flags) untouched.
            if unit.name != seed.name:
                unit.name = seed.name
            if unit.kind != seed.kind:
                unit.kind = seed.kind
            if unit.parent_id != parent_id:
                unit.parent_id = parent_id
    session.flush()
    return created


def unit_tree(session: Session, *, include_inactive: bool = False) -> list[UnitNode]:
    """The whole network as a forest, children in creation (seed file) order."""
    query = select(Unit).order_by(Unit.id)
    if not include_inactive:
        query = query.where(Unit.active.is_(True))
    units = list(session.scalars(query))
    nodes = {unit.id: UnitNode(id=unit.id, code=unit.code, name=unit.name, kind=unit.kind) for unit in units}
    roots: list[UnitNode] = []
    for unit in units:
        parent = nodes.get(unit.parent_id) if unit.parent_id is not None else None
        # A unit whose parent is inactive (hidden) is shown at the top rather than lost.
        (parent.children if parent is not None else roots).append(nodes[unit.id])
    return roots


def get_unit_by_code(session: Session, *, code: str) -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).one_or_none()
    if unit is None:
        raise UnknownUnit(code)
    return unit
