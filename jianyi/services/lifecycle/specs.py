"""What a kind of human step is: its label, its typed input, who owes it, what answering it does.

``stages.SPECS`` holds one ``StepSpec`` per step kind, next to the handlers it names. The API, the
flow's typed wait, the views and the engine all read a step kind from there and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy.orm import Session

from jianyi.errors import InvalidInput, field_errors
from jianyi.models import Step
from jianyi.models.enums import Role, StepKind
from jianyi.models.step_inputs import StepInput
from jianyi.services.lifecycle.case import Case

InputT = TypeVar("InputT", bound=StepInput)
FieldError = dict[str, str]


class CaseInvariantError(RuntimeError):
    """An open suggestion with nothing to wait for, or a step applied where it cannot be: a bug."""


@dataclass(frozen=True)
class StepSpec(Generic[InputT]):
    """One kind of human step.

    ``on_complete`` applies a validated answer to the case; ``check`` validates what needs the
    database (units and suggestions named in the answer) at submission; ``on_lapse`` is what an
    unanswered window leads to, for the kinds that may lapse at all.
    """

    label: str
    input: type[InputT]
    owed_by: Role
    on_complete: Callable[[Case, Step, InputT], None]
    # What needs the database (and the instant of submission: an extension asked before the deadline).
    check: Callable[[Session, Step, InputT, datetime], list[FieldError]] | None = None
    on_lapse: Callable[[Case, Step], None] | None = None
    optional: bool = False  # a window its unit may leave unused (an objection, an extension request)
    office_may_lapse: bool = False  # the handling office may close it unanswered by hand (a rating)

    def validate(self, session: Session, step: Step, payload: Any, *, now: datetime) -> InputT:
        """The answer as its model, or ``InvalidInput`` (422) naming every bad field."""
        try:
            data = self.input.model_validate(payload)
        except ValidationError as exc:
            raise _invalid(step, field_errors(exc.errors())) from exc
        errors = self.check(session, step, data, now) if self.check else []
        if errors:
            raise _invalid(step, errors)
        return data

    def apply(self, case: Case, step: Step) -> None:
        """Apply a submitted step: its answer, or its lapse (``step.input`` is None)."""
        if step.input is None:
            if self.on_lapse is not None:
                self.on_lapse(case, step)
            elif not self.optional:
                raise CaseInvariantError(f"a {step.kind.value} step cannot lapse (step {step.id})")
            return  # an optional window closed unused: nothing follows
        self.on_complete(case, step, self.input.model_validate(step.input))

    @property
    def may_lapse(self) -> bool:
        return self.optional or self.on_lapse is not None


def _invalid(step: Step, errors: list[FieldError]) -> InvalidInput:
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return InvalidInput(f"invalid {step.kind.value} input: {summary}", detail=errors)


def step_key(
    kind: StepKind, *, assignment_id: int | None = None, round: int | None = None, timer_id: int | None = None
) -> str:
    """A step's idempotency key within its suggestion: opening the same key twice (an attempt replayed
    after a crash) returns the step opened the first time. ``round``: the n-th step of a repeatable
    kind (opinion after rework, review after a joint meeting, reply, rating, progress)."""
    key = kind.value
    if assignment_id is not None:
        key += f":a{assignment_id}"
    if timer_id is not None:
        key += f":t{timer_id}"
    if round is not None:
        key += f":{round}"
    return key
