"""The baseline: the same lifecycle flow run the standard Prefect way, one process per attempt.

What changes from jianyi's executor is only who executes a flow run, and how:

- the lifecycle deployment is registered in a *process* work pool (as deployments/prefect.yaml
  does with ``prefect deploy``), and a stock ``prefect worker start --type process`` claims its due
  runs and runs each in a new Python process (``prefect.engine``, through the worker's workspace
  supervisor), with Prefect's engine unpatched: what any Prefect 3 user gets. Each attempt runs the
  lifecycle flow itself: its ``advance`` task, its suspend with a typed input;
- a completed step resumes the run through Prefect's resume endpoint, with the step's input;
- our executor still creates each suggestion's run, does those resumes and sends the outbox,
  because Prefect knows nothing of our database: run with ``python -m bench.prefect_standard``, it
  does all that but never claims or runs a flow run itself.

The flow's code, the database and the API are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
from functools import cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.responses import SetStateStatus
from prefect.context import SettingsContext, get_settings_context
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, Settings
from prefect.types.entrypoint import EntrypointType
from prefect.workers.process import ProcessWorker
from sqlalchemy import func, select

from jianyi.db import session_scope
from jianyi.executor import prefect_glue
from jianyi.executor.runner import Executor
from jianyi.flows.lifecycle import suggestion_lifecycle
from jianyi.models import Step, Suggestion
from jianyi.models.enums import StepState

if TYPE_CHECKING:
    from bench.system_driver import BenchSystem

POOL = "jianyi-process"
DEPLOYMENT = "lifecycle-process"  # the name deployments/prefect.yaml gives it
# No --limit: with one, the 3.8.8 worker dies the first time a resumed run comes back to it ("this
# borrower is already holding one of this CapacityLimiter's tokens": the token taken for the run's
# first attempt is keyed by the run id and still held). Unlimited is Prefect's default.


async def ensure_process_deployment(name: str) -> UUID:
    """The lifecycle deployment in a process work pool (created if missing, as `prefect work-pool
    create --type process` does). A module entrypoint: the worker's processes start in a temporary
    directory, and import the installed package."""
    async with get_client() as client:
        try:
            await client.read_work_pool(POOL)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            # The worker, started beside this process, creates its pool too: whichever is first wins,
            # and the other must not fail on it.
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_work_pool(
                    WorkPoolCreate(name=POOL, type="process", base_job_template=template)
                )
    deployment = await suggestion_lifecycle.ato_deployment(
        name=name, tags=["jianyi"], work_pool_name=POOL, entrypoint_type=EntrypointType.MODULE_PATH
    )
    return await deployment.aapply(work_pool_name=POOL)


# On SQLite, Prefect's resume endpoint reads the run, validates the input against its schema (tens of
# milliseconds of CPU) and then writes, in a deferred transaction: any write committed meanwhile (another
# run's state, a batch of events) makes it fail at once with "database is locked", answered 503, having
# changed nothing. The client's own retry would wait 2 s, then 4 s, holding up every wake behind it;
# what the conflict needs is another try straight away.
RESUME_TRIES = 8
# After a resume the worker starts the run within a poll or two; resuming it again would be refused.
RESUME_GRACE_SECONDS = 2.0


def _submitted_inputs(limit: int) -> dict[str, dict[str, Any]]:
    """Each waiting run's input, as a department would type it into Prefect: its earliest submitted step."""
    with session_scope() as session:
        first = (
            select(Step.suggestion_id, func.min(Step.id).label("step_id"))
            .where(Step.state == StepState.submitted)
            .group_by(Step.suggestion_id)
            .limit(limit)
            .subquery()
        )
        rows = session.execute(
            select(Step, Suggestion.flow_run_id)
            .join(first, first.c.step_id == Step.id)
            .join(Suggestion, Suggestion.id == Step.suggestion_id)
            .where(Suggestion.flow_run_id.is_not(None))
        ).all()
    return {
        str(run_id): {"step_id": step.id, "kind": step.kind.value, "data": step.input}
        for step, run_id in rows
    }


@cache
def _settings_without_client_retries() -> Settings:
    return get_settings_context().settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0})


async def resume(client: PrefectClient, run_id: UUID, run_input: dict[str, Any]) -> bool:
    """Prefect's resume endpoint with the step's input, retried at once on SQLite's 503."""
    for attempt in range(1, RESUME_TRIES + 1):
        try:
            context = get_settings_context()
            with SettingsContext(profile=context.profile, settings=_settings_without_client_retries()):
                result = await client.resume_flow_run(run_id, run_input=run_input)
            return result.status is SetStateStatus.ACCEPT
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code != 503 or attempt == RESUME_TRIES:
                raise
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)  # jittered, growing
    return False


class StandardExecutor(Executor):
    """Starts runs, resumes them through Prefect with each completed step's input, sends the outbox;
    the process worker runs them."""

    def __init__(self) -> None:
        super().__init__()
        self._resumed_at: dict[str, float] = {}

    async def _wake_runs(self, client: PrefectClient) -> bool:
        now = time.monotonic()
        self._resumed_at = {r: t for r, t in self._resumed_at.items() if now - t < RESUME_GRACE_SECONDS}
        for run_id, run_input in (await asyncio.to_thread(_submitted_inputs, 500)).items():
            if run_id in self._resumed_at:
                continue
            # Refused while the run is between attempts (scheduled, running): tried again next poll.
            if await resume(client, UUID(run_id), run_input):
                self._resumed_at[run_id] = now
        return False  # a poll apart, as a worker's

    async def _claim_and_run(self, client: PrefectClient) -> bool:
        return False


def start(bench: BenchSystem, *, poll_seconds: float) -> None:
    """Replace a benchmark system's executor with this baseline: the executor half and a worker."""
    bench.stop_executor()
    env = {"JIANYI_DEPLOYMENT_NAME": DEPLOYMENT, "JIANYI_EXECUTOR_POLL_SECONDS": str(poll_seconds)}
    bench.spawn("executor", [sys.executable, "-m", "bench.prefect_standard"], env=env)
    worker_env = {
        # The worker polls for due runs as often as our executor does (its default, every 10 s, would
        # only measure the poll).
        "PREFECT_WORKER_QUERY_SECONDS": str(poll_seconds),
        # Runs are due the moment they are resumed; no reason to look ahead.
        "PREFECT_WORKER_PREFETCH_SECONDS": "0",
        **env,
    }
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process"]
    bench.spawn("worker", argv, env=worker_env)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(levelname)-7s | %(name)s - %(message)s")
    # In this process only: the baseline executor registers the deployment in the work pool.
    prefect_glue.ensure_deployment = ensure_process_deployment

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await StandardExecutor().run(stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
