"""Mistakes in rule files, each told as: file[:line]: rule key: what was expected.

e.g. ``escalation.yaml:31: ladder 'opinion-ladder' rung 2 actions[0].form: expected one of phone,
online, written, on_site, got 'fax'``. Pydantic's error locations are turned into the words the
file's author uses: rules by id, rungs by number, the discriminator tag of an action left out.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from jianyi.rules.schema import LIST_SECTIONS, RuleFile


@dataclass(frozen=True)
class Problem:
    file: str
    rule: str | None
    key: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = " ".join(part for part in (self.rule, self.key) if part)
        return f"{where}: {what}: {self.message}" if what else f"{where}: {self.message}"


class RuleError(Exception):
    """A rules directory that cannot be used; `problems` lists every mistake found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers on which line it and each of its keys stand."""

    line: int | None = None
    key_lines: dict[Any, int]

    def __init__(self) -> None:
        super().__init__()
        self.key_lines = {}


class LineList(list[Any]):
    """A YAML sequence that remembers the line of each item."""

    line: int | None = None
    item_lines: list[int]

    def __init__(self, items: Sequence[Any] = ()) -> None:
        super().__init__(items)
        self.item_lines = []


def _item_label(parent_key: Any, index: int, item: Any) -> str | None:
    if parent_key == "rungs":
        return f"rung {index + 1}"
    singular = LIST_SECTIONS.get(str(parent_key))
    if singular is None:
        return None
    ident = item.get("id") if isinstance(item, dict) else None
    return f"{singular} {ident!r}" if isinstance(ident, str) else f"{singular} #{index + 1}"


def locate(raw: Any, loc: Sequence[int | str]) -> tuple[str | None, str | None, int | None]:
    """(rule, key, line) for a location in a file's parsed YAML, e.g.
    ("ladder 'x'", "rung 2 actions[0].form", 31)."""
    tokens: list[tuple[str, str]] = []  # ("name" | "index" | "label", text)
    node, line, parent_key = raw, getattr(raw, "line", None), None
    for segment in loc:
        if isinstance(segment, int):
            item = node[segment] if isinstance(node, list) and -len(node) <= segment < len(node) else None
            if isinstance(node, LineList) and 0 <= segment < len(node.item_lines):
                line = node.item_lines[segment]
            label = _item_label(parent_key, segment, item)
            if label is not None and tokens and tokens[-1] == ("name", str(parent_key)):
                tokens[-1] = ("label", label)
            else:
                tokens.append(("index", str(segment)))
            node, parent_key = item, None
            continue
        if isinstance(node, dict) and segment not in node and node.get("type") == segment:
            continue  # the tag pydantic adds for a discriminated union: not a key in the file
        tokens.append(("name", segment))
        if isinstance(node, LineDict) and segment in node.key_lines:
            line = node.key_lines[segment]
        node = node.get(segment) if isinstance(node, dict) else None
        parent_key = segment
    rule: str | None = None
    if tokens and tokens[0][0] == "label":
        rule, tokens = tokens[0][1], tokens[1:]
    elif tokens and tokens[0] == ("name", "calendar"):
        rule, tokens = "calendar", tokens[1:]
    text = ""
    for position, (kind, value) in enumerate(tokens):
        if kind == "index":
            text += f"[{value}]"
        elif position == 0:
            text += value
        else:
            text += ("." if tokens[position - 1][0] != "label" and kind == "name" else " ") + value
    return rule, text or None, line


def _members(annotation: Any) -> list[Any]:
    """The types an annotation may hold: Annotated stripped, Optional and unions opened."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        return [member for arg in get_args(annotation) if arg is not type(None) for member in _members(arg)]
    return [annotation]


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _step(annotation: Any, segment: int | str) -> Any:
    """The type one step further along a pydantic location, or None where it cannot be told."""
    for member in _members(annotation):
        if isinstance(segment, int) and get_origin(member) is list:
            return get_args(member)[0]
        if isinstance(segment, str) and _is_model(member):
            field = member.model_fields.get(segment)
            if field is not None:
                return field.annotation
            tag = member.model_fields.get("type")  # a discriminated union's tag picks the member
            if (
                tag is not None
                and get_origin(tag.annotation) is Literal
                and segment in get_args(tag.annotation)
            ):
                return member
    return None


def _allowed_keys(loc: Sequence[int | str]) -> list[str]:
    """The keys the model at `loc` accepts, for "unknown key … expected one of …"."""
    current: Any = RuleFile
    for segment in loc:
        current = _step(current, segment)
        if current is None:
            return []
    models = [member for member in _members(current) if _is_model(member)]
    return list(models[0].model_fields) if models else []


def _short(value: Any) -> str:
    text = repr(dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_of(expected: str) -> str:
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


def explain(error: Any) -> tuple[tuple[int | str, ...], str]:
    """(location, message) for one pydantic error dict, in the words of the rule author."""
    loc: tuple[int | str, ...] = tuple(error["loc"])
    kind, ctx, got = error["type"], error.get("ctx") or {}, _short(error.get("input"))
    if "key" in ctx:
        loc = (*loc, ctx["key"])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        what = "section" if len(loc) == 1 else "key"
        return (
            loc,
            f"unknown {what} ({hint}expected one of {', '.join(allowed)})" if allowed else f"unknown {what}",
        )
    if kind == "missing":
        return loc, "missing: this key is required"
    if kind in ("enum", "literal_error"):
        return loc, f"expected one of {_one_of(ctx.get('expected', ''))}, got {got}"
    if kind == "union_tag_invalid":
        return (
            *loc,
            "type",
        ), f"expected one of {_one_of(ctx.get('expected_tags', ''))}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return (
            *loc,
            "type",
        ), "missing: say which action (remind, notify_head, supervision_order, escalate, bulletin)"
    if kind == "too_short":
        return loc, f"expected at least {ctx.get('min_length')}, got {ctx.get('actual_length')}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return loc, f"expected a mapping (key: value), got {got}"
    message: str = error["msg"]
    if message.startswith("Value error, "):
        return loc, message.removeprefix("Value error, ")
    if message.startswith("Input should be "):
        return loc, f"expected {message.removeprefix('Input should be ')}, got {got}"
    return loc, message
