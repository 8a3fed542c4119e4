"""The baseline: the same lifecycle flow run the standard Prefect way, one process per attempt.

What changes from jianyi's executor is only who executes a flow run, and how:

- the lifecycle deployment is registered in a *process* work pool (as deployments/prefect.yaml
  does with ``prefect deploy``), and a stock ``prefect worker start --type process`` claims its due
  runs and runs each in a new Python process (``prefect.engine``, through the worker's workspace
  supervisor), with Prefect's engine unpatched: what any Prefect 3 user gets;
- our executor still creates each suggestion's run, resumes the run of a completed step and sends
  the outbox, because Prefect knows nothing of our database: run with ``python -m
  bench.prefect_standard``, it does all that but never claims or runs a flow run itself.

The flow, its task, its suspend and typed inputs, the database and the API are the same code.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound
from prefect.types.entrypoint import EntrypointType
from prefect.workers.process import ProcessWorker

from jianyi.executor import prefect_glue
from jianyi.executor.service import Executor
from jianyi.flows.lifecycle import suggestion_lifecycle

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
            await client.create_work_pool(
                WorkPoolCreate(name=POOL, type="process", base_job_template=template)
            )
    deployment = await suggestion_lifecycle.ato_deployment(
        name=name, tags=["jianyi"], work_pool_name=POOL, entrypoint_type=EntrypointType.MODULE_PATH
    )
    return await deployment.aapply(work_pool_name=POOL)


class StandardExecutor(Executor):
    """Starts, wakes (resumes) and recovers runs, sends the outbox; the process worker runs them."""

    async def _claim_and_run(self, client: PrefectClient) -> None:
        return None


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
