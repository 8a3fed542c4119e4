"""Domain errors that carry their HTTP status, so the API maps them without knowing each case."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jianyi.services.actors import Actor


@dataclass(frozen=True)
class Refusal:
    """What to audit of a refused change; the entry point records it after rolling the change back
    (jianyi.refusals)."""

    action: str  # e.g. "step.refused"
    actor: Actor
    suggestion_id: int | None = None
    step_id: int | None = None


class JianyiError(Exception):
    status_code = 400
    code = "bad_request"
    refusal: Refusal | None = None  # set when the refusal itself is to be audited

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@contextmanager
def audited_refusal(
    action: str, actor: Actor, *, suggestion_id: int | None = None, step_id: int | None = None
) -> Iterator[None]:
    """A domain error raised inside is a refused change to audit: it leaves carrying its ``Refusal``."""
    try:
        yield
    except JianyiError as exc:
        exc.refusal = Refusal(action, actor, suggestion_id=suggestion_id, step_id=step_id)
        raise


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
