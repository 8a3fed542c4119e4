"""The suggestion lifecycle: one long-running flow run per suggestion, through the seven steps.

This is what a Prefect worker runs (deployments/prefect.yaml); jianyi's executor runs the same
attempt (``jianyi.tasks.attempt.run_attempt``) without a process per resume.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.flow_runs import asuspend_flow_run
from prefect.input import RunInput

from jianyi.services.lifecycle.engine import WaitPoint
from jianyi.tasks.advance import advance_named
from jianyi.tasks.attempt import run_attempt

FLOW_NAME = "suggestion-lifecycle"


class _SuspendThisRun:
    """The flow's suspender: Prefect's own suspend of the run in progress."""

    async def suspend(self, wait: WaitPoint, run_input: type[RunInput]) -> bool:
        # Ends this attempt (Prefect's Pause) once the run is Suspended. It returns only when the key
        # had already fired (an attempt replayed after a crash): then the attempt goes again.
        await asuspend_flow_run(wait_for_input=run_input, key=wait.key)
        return False

    async def complete(self) -> None:
        """The flow returns: Prefect completes the run."""

    async def fail(self, reason: str) -> None:
        """The error propagates: Prefect fails the run with it."""


@flow(
    name=FLOW_NAME,
    persist_result=True,
    result_serializer="json",
    log_prints=False,
    # No timeout: a suggestion may wait for months. Deadlines belong to the rules, not to Prefect.
)
async def suggestion_lifecycle(suggestion_id: int) -> str:
    """A suggestion from receipt to its end, through the seven steps: triage 梳理研判, referral
    转办摘报, research 调研论证, coordination 协调督办, feedback 沟通反馈, implementation 落实转化 and
    commendation 表彰奖励 (a case may close earlier: a complaint redirected, a suggestion not adopted).

    Each run of this body is one attempt: it applies the steps the units completed since the last,
    in one transaction of the application database, and suspends the run at the next wait point,
    with a fresh key and the typed input of the steps awaited there. No process stays alive while
    the suggestion waits; a completed step resumes the run, and the next attempt applies it.
    """
    return await run_attempt(suggestion_id, _SuspendThisRun(), advance=advance_named, log=get_run_logger())
