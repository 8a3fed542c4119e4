"""The OpenAPI document, completed to say what the API really answers.

FastAPI documents a 422 of its own shape and no other error; every error here has one body
(``errors.ErrorBody``), so each operation is given the errors it can answer: 401 and 403 where a
token is read, 404 where a path names a record, 422 where anything is parsed, 400 where a body is
read, 413 wherever one may be sent, 429 where lookups are rate-limited, and what its route adds
(409). A body the route takes as a plain object and validates itself is documented by its models (a
step's input, one per step kind; a communication log).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from jianyi.api.errors import DESCRIPTIONS, ErrorBody
from jianyi.models.enums import StepKind
from jianyi.services.communication_duties import CommunicationLog
from jianyi.services.lifecycle.stages import SPECS

# Set on a route (``openapi_extra``) whose body is a plain object validated by the service.
BODY = "x-jianyi-body"
STEP_INPUT = "step-input"
COMMUNICATION_LOG = "communication-log"

_REF = "#/components/schemas/{model}"
# The public tracking routes: failed lookups are rate-limited per client and per code (api/throttle.py).
_THROTTLED_PREFIX = "/api/track/"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def install(app: FastAPI) -> None:
    """Serve the completed document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            complete(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    bodies = {
        STEP_INPUT: _step_input_body(components),
        COMMUNICATION_LOG: _body_of(
            [CommunicationLog], components, "what was held: {kind, method, summary, at?}"
        ),
    }
    _add_models([ErrorBody], components)
    for path, path_item in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is not None:
                marked = operation.pop(BODY, None)
                if marked is not None:
                    operation["requestBody"] = bodies[marked]
                _document_errors(operation, method, throttled=path.startswith(_THROTTLED_PREFIX))
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shape, answered nowhere
        components.pop(unused, None)


def _document_errors(operation: dict[str, Any], method: str, *, throttled: bool) -> None:
    params = operation.get("parameters", [])
    statuses: set[int] = {429} if throttled else set()
    if operation.get("security"):
        statuses |= {401, 403}
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if params or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(400)
    if method in ("post", "put", "patch"):  # the body cap holds whether the route reads a body or not
        statuses.add(413)
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        current = responses.get(str(status))
        if current is None or "HTTPValidationError" in str(current):
            responses[str(status)] = error_response(status)


def error_response(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=ErrorBody.__name__)}}},
    }


def _add_models(models: list[type[BaseModel]], components: dict[str, Any]) -> list[str]:
    """Add the models' schemas (and those they use) to the components; return their refs."""
    refs, document = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    components.update(document.get("$defs", {}))
    return [refs[(m, "validation")]["$ref"] for m in models]


def _body_of(models: list[type[BaseModel]], components: dict[str, Any], description: str) -> dict[str, Any]:
    refs = _add_models(models, components)
    schema: dict[str, Any] = {"$ref": refs[0]} if len(refs) == 1 else {"oneOf": [{"$ref": r} for r in refs]}
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}


def _step_input_body(components: dict[str, Any]) -> dict[str, Any]:
    """One of the step inputs; which one a step takes is its kind's (``GET /api/steps/{id}`` serves it).
    Two kinds that take the same fields share one entry, since ``oneOf`` allows a body to match one only."""
    models: list[type[BaseModel]] = []
    kinds: dict[str, list[str]] = {}
    for kind in StepKind:
        spec = SPECS.get(kind)
        if spec is None:
            continue
        same = next((m for m in models if _same_fields(m, spec.input)), None)
        if same is None:
            models.append(spec.input)
            same = spec.input
        kinds.setdefault(same.__name__, []).append(kind.value)
    which = "; ".join(f"{name}: {', '.join(k)}" for name, k in kinds.items())
    return _body_of(models, components, f"the input of the step's kind ({which})")


def _same_fields(a: type[BaseModel], b: type[BaseModel]) -> bool:
    return _shape(a.model_json_schema()) == _shape(b.model_json_schema())


def _shape(schema: Any) -> Any:
    """A schema without its names and descriptions: what a body must be to match it."""
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k not in ("title", "description")}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema
