"""The executor: one long-lived process that runs the lifecycle deployment's flow runs in-process.

Its loops: start a flow run for every stored suggestion that has none; wake (resume) the run of
every suggestion with a submitted step; claim the deployment's due runs (new and resuming) and run
many attempts at once with ``run_flow_async``, no process per resume; heartbeat, and recover the
runs of an executor that died mid-attempt; dispatch the proposer outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.context import AsyncClientContext, SyncClientContext
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow_async

from jianyi.executor import engine_patches, prefect_glue, store, supervision
from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.flows.lifecycle import suggestion_lifecycle
from jianyi.settings import Settings, get_settings

log = logging.getLogger("jianyi.executor")
DEAD_STATES = {StateType.FAILED, StateType.CRASHED}
# Starts, resumes and claims in flight at once. Each is a round trip of 0.1 s or more to a busy Prefect
# server; one after another, every suggestion waited behind all the others at each step.
ROUND_TRIPS = 8
# After a resume, the run is claimed and its attempt applies the step within about a poll or two;
# resuming it again in that time would only be refused.
RESUME_GRACE_SECONDS = 2.0


class Executor:
    def __init__(self, settings: Settings | None = None, *, executor_id: str | None = None) -> None:
        self.settings = settings or get_settings()
        self.executor_id = executor_id or f"executor-{uuid.uuid4().hex[:12]}"
        self.running: dict[str, asyncio.Task[None]] = {}
        self._resumed_at: dict[str, float] = {}
        self._retry_at: dict[str, tuple[float, int]] = {}
        self.deployment_id: UUID | None = None

    async def run(self, stop: asyncio.Event) -> None:
        engine_patches.apply()
        self.deployment_id = await prefect_glue.ensure_deployment(self.settings.deployment_name)
        await asyncio.to_thread(store.heartbeat, self.executor_id)
        log.info("executor %s running deployment %s", self.executor_id, self.deployment_id)
        poll = self.settings.executor_poll_seconds
        scheduler = supervision.start(self.settings.sweep_seconds)
        # One Prefect client of each kind for the whole process, shared by the loops and every attempt
        # (attempt tasks inherit these contexts). Without them the engine builds two clients per
        # attempt, an async one for the run and a sync one to look up result storage, and each loads
        # the CA bundle: ~0.1 CPU-s per human step, a third of the executor's share.
        with SyncClientContext.get_or_create():
            async with AsyncClientContext.get_or_create() as clients:
                await self._serve(clients.client, stop, poll)
        scheduler.shutdown(wait=False)
        # Let attempts under way finish: each ends at its next suspend within a second or two.
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=30)

    async def _serve(self, client: PrefectClient, stop: asyncio.Event, poll: float) -> None:
        dispatcher = OutboxDispatcher()
        loops = [
            self._every(poll, stop, lambda: self._start_runs(client)),
            self._every(poll, stop, lambda: self._wake_runs(client)),
            self._every(poll, stop, lambda: self._claim_and_run(client)),
            self._every(
                min(5.0, self.settings.executor_lease_seconds / 3), stop, lambda: self._keep_alive(client)
            ),
            dispatcher.run_forever(stop),
        ]
        await asyncio.gather(*loops)

    async def _every(
        self, seconds: float, stop: asyncio.Event, work: Callable[[], Awaitable[object]]
    ) -> None:
        while not stop.is_set():
            try:
                await work()
            except Exception:  # a loop must outlive a dropped connection or a locked database
                log.exception("executor loop failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)

    # --- start --------------------------------------------------------------------------------

    async def _start_runs(self, client: PrefectClient) -> None:
        assert self.deployment_id is not None
        deployment_id = self.deployment_id

        async def start(item: store.Unstarted) -> None:
            run_id = await prefect_glue.create_run(
                client, deployment_id=deployment_id, suggestion_id=item.suggestion_id, name=item.run_name
            )
            await asyncio.to_thread(store.record_flow_run, item.suggestion_id, str(run_id))

        items = await asyncio.to_thread(store.unstarted, 200)
        await _at_most(ROUND_TRIPS, [functools.partial(start, item) for item in items])

    # --- wake ---------------------------------------------------------------------------------

    async def _wake_runs(self, client: PrefectClient) -> None:
        now = time.monotonic()
        wakes = await asyncio.to_thread(store.wakes, 500)
        # Remember only what still matters, so a months-long executor does not grow a map per run:
        # resumes younger than the grace, backoffs of runs that still have a step waiting.
        waiting = {wake.flow_run_id for wake in wakes}
        self._resumed_at = {r: t for r, t in self._resumed_at.items() if now - t < RESUME_GRACE_SECONDS}
        self._retry_at = {r: v for r, v in self._retry_at.items() if r in waiting}
        due = [
            wake
            for wake in wakes
            # An attempt under way or about to be will apply the step itself.
            if wake.flow_run_id not in self.running
            and now - self._resumed_at.get(wake.flow_run_id, -1e9) >= RESUME_GRACE_SECONDS
            and now >= self._retry_at.get(wake.flow_run_id, (0.0, 0))[0]
        ]
        # One at a time: on SQLite, Prefect's resume fails on any write committed while it validates,
        # and resumes in flight together are each other's conflicts.
        await _at_most(1, [functools.partial(self._wake, client, wake, now) for wake in due])

    async def _wake(self, client: PrefectClient, wake: store.Wake, now: float) -> None:
        resumed, reason = await prefect_glue.resume(client, UUID(wake.flow_run_id), wake.run_input)
        if resumed:
            self._resumed_at[wake.flow_run_id] = now
            self._retry_at.pop(wake.flow_run_id, None)
            return
        await self._not_resumable(client, wake.flow_run_id, reason)

    async def _not_resumable(self, client: PrefectClient, run_id: str, reason: str) -> None:
        run = await client.read_flow_run(UUID(run_id))
        state_type = run.state.type if run.state else None
        _, failures = self._retry_at.get(run_id, (0.0, 0))
        if state_type in DEAD_STATES or (state_type is StateType.PAUSED and failures >= 2):
            # A dead run, or a suspended one that refuses its input (its attempt died between suspending
            # and saving the input schema): re-run it. The step waits in our database, and the attempt
            # applies it exactly once whatever happened before.
            log.warning("run %s is %s and refuses to resume (%s); re-running it", run_id, state_type, reason)
            await prefect_glue.reschedule(client, UUID(run_id), why=f"resume refused: {reason}"[:500])
            self._retry_at.pop(run_id, None)
            return
        # Scheduled, pending or running (an attempt will apply the step), or suspended a moment ago with
        # its input schema not yet saved: try again soon, backing off so one stuck run cannot hog the loop.
        self._retry_at[run_id] = (time.monotonic() + min(30.0, 0.25 * 2**failures), failures + 1)
        log.info("run %s not resumable now (%s): %s", run_id, state_type, reason)

    # --- claim and run ------------------------------------------------------------------------

    async def _claim_and_run(self, client: PrefectClient) -> None:
        assert self.deployment_id is not None
        free = self.settings.executor_concurrency - len(self.running)
        if free <= 0:
            return
        runs = await prefect_glue.ready_runs(client, deployment_id=self.deployment_id, limit=free)
        fresh = [run for run in runs if str(run.id) not in self.running]
        await _at_most(ROUND_TRIPS, [functools.partial(self._claim, client, run) for run in fresh])

    async def _claim(self, client: PrefectClient, run: FlowRun) -> None:
        run_id = str(run.id)
        # Claim in our database first: if we die after winning Pending, recovery finds the claim.
        await asyncio.to_thread(store.add_claim, self.executor_id, run_id)
        if not await prefect_glue.claim(client, run.id):
            await asyncio.to_thread(store.drop_claim, run_id)
            return
        self.running[run_id] = asyncio.create_task(self._attempt(client, run.id), name=f"attempt-{run_id}")

    async def _attempt(self, client: PrefectClient, run_id: UUID) -> None:
        try:
            run: FlowRun = await client.read_flow_run(run_id)
            await run_flow_async(
                suggestion_lifecycle, flow_run=run, parameters=run.parameters, return_type="state"
            )
        except Pause:
            pass  # the normal end of an attempt: the run is suspended at its next wait point
        except Exception:
            log.exception("attempt of run %s failed", run_id)
        finally:
            await asyncio.to_thread(store.drop_claim, str(run_id))
            self.running.pop(str(run_id), None)

    # --- heartbeat and recovery ---------------------------------------------------------------

    async def _keep_alive(self, client: PrefectClient) -> None:
        await asyncio.to_thread(store.heartbeat, self.executor_id)
        for run_id in await asyncio.to_thread(store.orphaned_claims, self.settings.executor_lease_seconds):
            run = await client.read_flow_run(UUID(run_id))
            state_type = run.state.type if run.state else None
            if state_type in (StateType.RUNNING, StateType.PENDING, *DEAD_STATES):
                log.warning("recovering run %s (%s) of a silent executor", run_id, state_type)
                await prefect_glue.reschedule(client, UUID(run_id), why="its executor stopped mid-attempt")
            await asyncio.to_thread(store.drop_claim, run_id)
        await asyncio.to_thread(store.forget_dead_executors, self.settings.executor_lease_seconds)
        await self._rerun_crashed(client)

    async def _rerun_crashed(self, client: PrefectClient) -> None:
        """Runs that crashed (a process killed mid-attempt) are re-run: the case waits in our database."""
        assert self.deployment_id is not None
        for run in await prefect_glue.crashed_runs(client, deployment_id=self.deployment_id, limit=50):
            if str(run.id) not in self.running:
                log.warning("re-running crashed run %s", run.id)
                await prefect_glue.reschedule(client, run.id, why="its attempt crashed")


async def _at_most(limit: int, jobs: list[Callable[[], Awaitable[None]]]) -> None:
    """Run the jobs, ``limit`` at a time, each to its end (a claim cut short could leave its run Pending
    with no attempt); then raise the first failure, for the loop to log (it retries next time)."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    results = await asyncio.gather(*(one(job) for job in jobs), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
