"""The unit network (1+16+216+6500+X): the seed file, its loader, the upsert and the tree view.

Units are identified by their code everywhere outside the database (rules, users, referrals),
so the seed is upserted by code and a code is never reused for another unit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from jianyi.models import Unit
from jianyi.models.enums import UnitKind

DEFAULT_NETWORK_FILE = Path(__file__).resolve().parent.parent / "data" / "units.yaml"

# Which kinds may sit under which: keeps a typo in the seed from hanging a district under a town.
_ALLOWED_CHILDREN: dict[UnitKind, frozenset[UnitKind]] = {
    UnitKind.city_office: frozenset(
        {UnitKind.district_office, UnitKind.city_department, UnitKind.contact_point}
    ),
    UnitKind.district_office: frozenset({UnitKind.subdistrict, UnitKind.contact_point}),
    UnitKind.subdistrict: frozenset({UnitKind.contact_point}),
    UnitKind.city_department: frozenset(),
    UnitKind.contact_point: frozenset(),
}


class UnitSeed(BaseModel):
    """One unit of the seed file and the units below it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    name: str = Field(min_length=1, max_length=200)
    kind: UnitKind
    children: list[UnitSeed] = Field(default_factory=list)

    def walk(self, parent: UnitSeed | None = None) -> Iterator[tuple[UnitSeed, UnitSeed | None]]:
        """Every unit of this subtree with its parent, parents first."""
        yield self, parent
        for child in self.children:
            yield from child.walk(self)


class UnitNode(BaseModel):
    """A unit as `GET /api/units` shows it."""

    id: int
    code: str
    name: str
    kind: UnitKind
    children: list[UnitNode] = Field(default_factory=list)


class NetworkFileError(ValueError):
    """The seed file is unreadable or invalid; the message names the file and the unit or key."""


class UnknownUnit(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no unit with code {code!r}")
        self.code = code


def _where(raw: Any, loc: Sequence[int | str]) -> str:
    """Turn a pydantic error location into "unit 'x' > unit 'y': key", using codes where the file has them."""
    parts: list[str] = []
    node = raw
    for key in loc:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            parts.append(str(key))
            break
        if isinstance(key, int):
            code = node.get("code") if isinstance(node, dict) else None
            parts.append(f"unit {code!r}" if isinstance(code, str) else f"item {key}")
        elif key != "children":
            parts.append(str(key))
    return " > ".join(parts) or "top level"


def _check_tree(roots: list[UnitSeed], path: Path) -> None:
    seen: set[str] = set()
    for root in roots:
        for unit, parent in root.walk():
            if unit.code in seen:
                raise NetworkFileError(f"{path}: unit {unit.code!r}: code used twice")
            seen.add(unit.code)
            if parent is None:
                if unit.kind is not UnitKind.city_office:
                    raise NetworkFileError(
                        f"{path}: unit {unit.code!r}: a top-level unit must be a city_office"
                    )
            elif unit.kind not in _ALLOWED_CHILDREN[parent.kind]:
                raise NetworkFileError(
                    f"{path}: unit {unit.code!r}: a {unit.kind} cannot be under "
                    f"{parent.code!r} ({parent.kind})"
                )


def load_network_file(path: Path | None = None) -> list[UnitSeed]:
    """Read and validate the seed file (default: the one shipped in the package)."""
    path = path or DEFAULT_NETWORK_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise NetworkFileError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(raw, list):
        raise NetworkFileError(f"{path}: top level: expected a list of units")
    roots: list[UnitSeed] = []
    for index, item in enumerate(raw):
        try:
            roots.append(UnitSeed.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = _where(raw, [index, *first["loc"]])
            raise NetworkFileError(f"{path}: {where}: {first['msg']}") from exc
    _check_tree(roots, path)
    return roots


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
