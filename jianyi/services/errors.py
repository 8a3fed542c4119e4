"""Domain errors that carry their HTTP status, so the API maps them without knowing each case."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any


class JianyiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(JianyiError):
    status_code = 404
    code = "not_found"


class NotAuthenticated(JianyiError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(JianyiError):
    status_code = 403
    code = "forbidden"


class Conflict(JianyiError):
    status_code = 409
    code = "conflict"


class InvalidInput(JianyiError):
    """422: ``detail`` is a list of {"field": ..., "message": ...}, one per bad field."""

    status_code = 422
    code = "invalid_input"


_FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_.]*(?:, [a-z_][a-z0-9_.]*)*): (.+)$", re.S)


def field_errors(errors: Sequence[Mapping[str, Any]], *, skip: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """One {"field", "message"} per error of a Pydantic ValidationError.

    Model-level validators in jianyi name their field(s) as "field: message", since Pydantic gives
    them no location of their own; the field is then joined to the model's location.
    """
    result = []
    for err in errors:
        loc = [str(p) for p in err["loc"] if str(p) not in skip]
        message = str(err["msg"]).removeprefix("Value error, ")
        match = _FIELD_PREFIX.match(message) if err.get("type") == "value_error" else None
        if match:
            loc.append(match.group(1))
            message = match.group(2)
        result.append({"field": ".".join(loc) or "(body)", "message": message})
    return result
