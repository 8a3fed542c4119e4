"""Rule conditions: CEL expressions compiled against a declared environment when the rules load.

Why cel-expr-python (the CEL C++ runtime): its checker refuses an undeclared variable, a misspelt
field (``suggestion.levl``) and a type error (``step.iteration == 'x'``) at compile time, so a
bad rule file is refused by ``jianyi rules check`` and by a reload, never half-way through a
supervision run (docs/rules.md).

Variables are declared with qualified names (``step.kind``); callers pass nested plain dicts
(``{"step": {"kind": "opinion"}}``), which are flattened here. A value that is absent or None
takes its type's zero value ("" / 0 / 0.0 / false), as in proto3: conditions test
``suggestion.campaign != ''`` rather than null. A key that is not declared is refused, so a typo
on the Python side is not silently ignored either.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from enum import Enum
from functools import lru_cache
from typing import Any

from cel_expr_python import cel
from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

# name → CEL type name. Strings carry enum values (StepKind, Level, Channel, Stage, Role) and unit,
# district and campaign codes; the scheduler builds the context from the step and the suggestion.
VARIABLES: dict[str, str] = {
    "step.kind": "string",  # StepKind value, e.g. "opinion"
    "step.unit": "string",  # code of the unit that owes the step
    "step.role": "string",  # Role value of who owes it
    "step.iteration": "int",  # 1, 2 … (an opinion returned by the review comes back as iteration 2)
    "step.optional": "bool",
    "suggestion.level": "string",  # "general" | "important" ("" before triage)
    "suggestion.channel": "string",  # Channel value
    "suggestion.category": "string",  # e.g. "交通出行"
    "suggestion.campaign": "string",  # campaign code, "" when none
    "suggestion.district": "string",  # code of the district office, e.g. "pudong-office"
    "suggestion.stage": "string",  # Stage value
    "suggestion.outcome": "string",  # Outcome value once closed, e.g. "redirected"; "" before
    "suggestion.rework_count": "int",  # opinions returned by the review
    "suggestion.rehandle_count": "int",  # re-handlings after "not satisfied"
    "suggestion.instructed": "bool",  # a leader wrote an instruction (批示)
    "suggestion.co_unit_count": "int",  # co-handling units (协办单位): several units make a case complex
    "proposer.anonymous": "bool",
    "proposer.has_email": "bool",
    "proposer.has_phone": "bool",  # a mobile or a landline: a call reaches it
    "proposer.has_mobile": "bool",  # a mainland mobile: an SMS reaches it
    "proposer.has_address": "bool",  # a postal address: a letter reaches it
    "reply.method": "string",  # how the office replied (email, phone, letter…); "" outside the reply_sent event
    "overdue_working_days": "int",  # working days past the step's due date (0 when not yet due)
}

_CEL_TYPES: dict[str, cel.Type] = {
    "string": cel.Type.STRING,
    "int": cel.Type.INT,
    "bool": cel.Type.BOOL,
    "double": cel.Type.DOUBLE,
}
_ZERO: dict[str, Any] = {"string": "", "int": 0, "bool": False, "double": 0.0}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "bool": (bool,),
    "double": (float, int),
}
_ROOTS = frozenset(name.split(".", 1)[0] for name in VARIABLES)
# "ERROR: <input>:1:5: undeclared reference to 'x' (in container '')" → column and message.
_CHECK_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")
_NO_CONTAINER = " (in container '')"
_UNDECLARED = re.compile(r"undeclared reference to '([^']*)'")


class ConditionError(ValueError):
    """A condition that does not compile, does not give a boolean, or cannot be evaluated."""


@lru_cache(maxsize=1)
def _env() -> Any:
    return cel.NewEnv(variables={name: _CEL_TYPES[kind] for name, kind in VARIABLES.items()})


def _explain(message: str, column: str) -> str:
    message = message.replace(_NO_CONTAINER, "")
    unknown = _UNDECLARED.match(message)
    if unknown is None:
        return f"{message} (column {column})"
    name = unknown.group(1)
    close = difflib.get_close_matches(name, VARIABLES, n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; declared: {', '.join(VARIABLES)}"
    return f"unknown variable '{name}' (column {column}{hint})"


def _compile_message(exc: Exception) -> str:
    found = [_explain(message, col) for _line, col, message in _CHECK_ERROR.findall(str(exc))]
    return "; ".join(found) if found else str(exc).strip()


class Condition:
    """A compiled, type-checked boolean CEL expression. Immutable; compares by its source."""

    __slots__ = ("_expr", "source")

    def __init__(self, source: str) -> None:
        text = source.strip()
        if not text:
            raise ConditionError("expected a CEL expression, got an empty string")
        try:
            expr = _env().compile(text)
        except RuntimeError as exc:
            raise ConditionError(_compile_message(exc)) from exc
        result = expr.return_type()
        if result != cel.Type.BOOL:
            raise ConditionError(
                f"expected a condition that gives true or false, this one gives {result.name().lower()}"
            )
        self.source = text
        self._expr = expr

    def evaluate(self, context: Mapping[str, Any] | None = None) -> bool:
        """True or false for this context (nested plain dicts, see the module doc)."""
        value = self._expr.eval(data=flatten_context(context))
        if value.type() == cel.Type.ERROR:
            raise ConditionError(f"{self.source!r}: {value.value()}")
        return bool(value.value())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # A YAML string is compiled while the rule model validates, so a CEL mistake is reported
        # like any other field error: file, rule, key, what was expected. One plain validator (not
        # a union) so a bad expression gives one error, not one per union member.
        return core_schema.no_info_plain_validator_function(
            _validate,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda c: c.source),
        )


def _validate(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "cel_condition", "{reason}", {"reason": f"expected a CEL expression as text, got {value!r}"}
        )
    try:
        return Condition(value)
    except ConditionError as exc:
        raise PydanticCustomError("cel_condition", "{reason}", {"reason": str(exc)}) from exc


def compile_condition(source: str) -> Condition:
    """Compile and type-check ``source``; raises ConditionError naming what is wrong."""
    return Condition(source)


def _plain(name: str, kind: str, value: Any) -> Any:
    if value is None:
        return _ZERO[kind]
    if isinstance(value, Enum):
        value = value.value
    # bool is an int in Python: do not let True pass for a count, nor 1 for a flag.
    if kind != "bool" and isinstance(value, bool):
        raise ConditionError(f"context {name}: expected {kind}, got {value!r}")
    if not isinstance(value, _PY_TYPES[kind]):
        raise ConditionError(f"context {name}: expected {kind}, got {value!r}")
    return float(value) if kind == "double" and isinstance(value, int) else value


def flatten_context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"step": {"kind": "opinion"}}`` → every declared variable by its qualified name."""
    flat: dict[str, Any] = {}
    for key, value in (context or {}).items():
        if key in VARIABLES:
            flat[key] = value
        elif key in _ROOTS and isinstance(value, Mapping):
            for sub, item in value.items():
                flat[f"{key}.{sub}"] = item
        else:
            flat[key] = value
    unknown = sorted(set(flat) - set(VARIABLES))
    if unknown:
        raise ConditionError(f"context has undeclared variables: {', '.join(unknown)}")
    return {name: _plain(name, kind, flat.get(name)) for name, kind in VARIABLES.items()}
