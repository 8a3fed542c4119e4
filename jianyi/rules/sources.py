"""Reading one rule file: YAML that remembers lines and refuses duplicate keys, then validation."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jianyi.rules.problems import LineDict, LineList, Problem, explain, locate
from jianyi.rules.schema import RuleFile


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry their line numbers.

    PyYAML keeps the last of two equal keys without a word; in a rule file that hides a mistake
    (two `working_days:` under one rule), so a repeated key is refused with both lines.
    """


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    data = LineDict()
    data.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, "a key must be plain text", key_node.start_mark
            )
        if key in data:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"duplicate key {key!r} (first on line {data.key_lines[key]})",
                key_node.start_mark,
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1
    return data


def _sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    data = LineList([loader.construct_object(child, deep=True) for child in node.value])
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    return data


_LineLoader.add_constructor("tag:yaml.org,2002:map", _mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _sequence)


@dataclass(frozen=True)
class Source:
    """One valid rule file: its name (for messages), its YAML as read (for lines), its rules."""

    name: str
    raw: Any
    rules: RuleFile


def read_yaml(path: Path) -> tuple[Any, list[Problem]]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, None, None, f"cannot read the file: {exc}")]
    try:
        return yaml.load(text, Loader=_LineLoader), []  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (column {mark.column + 1})" if mark is not None else ""
        line = mark.line + 1 if mark is not None else None
        what = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        return None, [Problem(name, None, None, f"{what}: {exc.problem or exc.context}{where}", line)]
    except yaml.YAMLError as exc:
        return None, [Problem(name, None, None, f"YAML syntax error: {exc}")]


def parse_file(path: Path) -> tuple[Source | None, list[Problem]]:
    """The file's rules, or every problem in it (each naming the file, the rule and the key)."""
    raw, problems = read_yaml(path)
    if problems:
        return None, problems
    if raw is None:  # an empty file (or only comments): it declares nothing
        raw = LineDict()
    if not isinstance(raw, dict):
        sections = ", ".join(RuleFile.model_fields)
        return None, [
            Problem(
                path.name,
                None,
                None,
                f"expected a mapping of sections ({sections}), got {type(raw).__name__}",
            )
        ]
    try:
        return Source(path.name, raw, RuleFile.model_validate(raw)), []
    except ValidationError as exc:
        found: list[Problem] = []
        for error in exc.errors():
            loc, message = explain(error)
            rule, key, line = locate(raw, loc)
            found.append(Problem(path.name, rule, key, message, line))
        # In the order of the file, so the author can walk down it.
        return None, sorted(found, key=lambda problem: problem.line or 0)
