"""The seed file of the unit network (``jianyi/data/units.yaml``): its schema and its loader.

Read by ``services.network.seed_network`` to upsert the units, and by the rules check to know which
unit codes exist; no database here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class NetworkFileError(ValueError):
    """The seed file is unreadable or invalid; the message names the file and the unit or key."""


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
