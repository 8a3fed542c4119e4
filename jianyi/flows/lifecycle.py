"""The suggestion lifecycle: one long-running flow run per suggestion, through the seven steps.

Each attempt reads the case from the application database, applies what its units submitted
(``advance``), and suspends at the next wait point with a fresh key and a typed input. No process
stays alive while a suggestion waits; the executor runs the next attempt when a step is completed.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal, Union

from prefect import flow, get_run_logger
from prefect.flow_runs import asuspend_flow_run
from prefect.input import RunInput
from pydantic import create_model

from jianyi.models.enums import STEP_LABELS, StepKind
from jianyi.models.step_inputs import STEP_INPUTS
from jianyi.services.lifecycle.engine import WaitPoint
from jianyi.tasks.advance import advance_case, attempt_name

FLOW_NAME = "suggestion-lifecycle"


@cache  # one model per set of kinds: building it costs more than the rest of an attempt's own work
def completion_input(kinds: tuple[StepKind, ...]) -> type[RunInput]:
    """The typed input a wait point accepts: which step was completed, and its validated data."""
    data_types = tuple(STEP_INPUTS[k] for k in kinds)
    data_type: Any = data_types[0] if len(data_types) == 1 else Union[data_types]  # noqa: UP007
    kind_type: Any = Literal[tuple(k.value for k in kinds)]
    # The data of a lapsed step (no answer in time) is null.
    return create_model(
        "StepCompleted_" + "_".join(k.value for k in kinds),
        __base__=RunInput,
        step_id=(int, ...),
        kind=(kind_type, ...),
        data=(data_type | None, None),
    )


def describe_wait(wait: WaitPoint) -> str:
    return "; ".join(
        f"{STEP_LABELS[s.kind]} #{s.step_id}" + (" (可选)" if s.optional else "") for s in wait.steps
    )


@flow(
    name=FLOW_NAME,
    persist_result=True,
    result_serializer="json",
    log_prints=False,
    # No timeout: a suggestion may wait for months. Deadlines belong to the rules, not to Prefect.
)
async def suggestion_lifecycle(suggestion_id: int) -> str:
    logger = get_run_logger()
    while True:
        name = await attempt_name(suggestion_id)
        wait = await advance_case.with_options(task_run_name=name)(suggestion_id)
        if wait is None:
            logger.info("suggestion %s is closed", suggestion_id)
            return "closed"
        logger.info("%s — waiting for %s (key %s)", wait.label, describe_wait(wait), wait.key)
        # Suspends (ends this attempt) until the executor resumes the run with a completed step.
        # If this key had already fired (an attempt replayed after a crash) it returns at once,
        # and the loop applies what is in the database and waits at a new key.
        await asuspend_flow_run(wait_for_input=completion_input(tuple(wait.kinds)), key=wait.key)
