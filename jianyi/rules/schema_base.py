"""Building blocks every rule model shares: strict models, ids, codes, working-day counts."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from jianyi.models.enums import StepKind


class RuleModel(BaseModel):
    """extra="forbid" so a misspelt key is named, not ignored; frozen so no caller edits live rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CODE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")  # the unit codes of jianyi/data/units.yaml


def refuse(kind: str, message: str, *, key: str | None = None) -> PydanticCustomError:
    """A validation error whose message is shown as written (file, rule and key are added around it).

    `key` names the field a model-level check is about: pydantic would place such an error on the
    model itself, and the report should still name the key the author has to change.
    """
    # The message goes in as context, not as the template, so braces in it (CEL errors) stay literal.
    context = {"reason": message} if key is None else {"reason": message, "key": key}
    return PydanticCustomError(kind, "{reason}", context)


def _rule_id(value: str) -> str:
    if not _ID.match(value):
        raise refuse(
            "rule_id",
            f"expected an id of lowercase letters, digits, '-' or '_' (e.g. opinion-general), got {value!r}",
        )
    return value


def _unit_code(value: str) -> str:
    if not _CODE.match(value):
        raise refuse("unit_code", f"expected a unit code such as city-transport, got {value!r}")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise refuse("blank", "expected some text, got an empty string")
    return value.strip()


RuleId = Annotated[str, AfterValidator(_rule_id)]
UnitCode = Annotated[str, AfterValidator(_unit_code)]
Text = Annotated[str, Field(max_length=200), AfterValidator(_text)]
# strict: YAML's `yes` or `1.5` must not quietly become a count of days.
WorkingDays = Annotated[int, Field(strict=True, ge=0, le=250)]
PositiveWorkingDays = Annotated[int, Field(strict=True, ge=1, le=250)]
StepKinds = Annotated[list[StepKind], Field(min_length=1)]


def unique(values: list[str], what: str) -> None:
    """Refuse a list that names the same thing twice (a copy-paste slip, never intended)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise refuse("duplicate", f"{what} {value!r} is listed twice")
        seen.add(value)
