"""Rule directories for tests: a copy of the defaults to edit, and what loading it reports."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jianyi.rules.loader import (
    Problem,
    RuleError,
    load_rules,
    seed_unit_kinds,
)


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(directory: Path) -> list[Problem]:
    with pytest.raises(RuleError) as caught:
        load_rules(directory, units=seed_unit_kinds())
    return list(caught.value.problems)


def the_problem(directory: Path, *, key: str) -> Problem:
    found = [problem for problem in problems_of(directory) if problem.key == key]
    assert len(found) == 1, found
    return found[0]
