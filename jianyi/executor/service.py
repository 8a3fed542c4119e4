"""The executor: one long-lived process that runs the lifecycle deployment's flow runs in-process.

Its loops: start a flow run for every stored suggestion that has none; run an attempt
(``attempt.run_attempt``) of every suggestion with a submitted step, and of every due run of the
deployment (new, recovered, or resumed through Prefect), many at once, no process per resume;
heartbeat, and recover the runs of an executor that died mid-attempt; dispatch the proposer outbox.
Its scheduler sweeps the rules' deadlines and prunes the Prefect runs of long-closed suggestions.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import StateType
from prefect.context import AsyncClientContext, SyncClientContext

from jianyi.executor import attempt, prefect_glue, retention, store, supervision
from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.executor.intake_burst import SAMPLE_SECONDS, IntakeBurst
from jianyi.settings import Settings, get_settings

log = logging.getLogger("jianyi.executor")
DEAD_STATES = {StateType.FAILED, StateType.CRASHED}
# Run creations in flight at once. Each is a round trip of 0.1 s or more to a busy Prefect
# server; one after another, every suggestion waited behind all the others at each step.
ROUND_TRIPS = 8
BUSY_POLL_SECONDS = 0.05
# A run another executor is attempting: its attempt applies the step; look again after this.
CLAIMED_ELSEWHERE_SECONDS = 1.0


class Executor:
    def __init__(self, settings: Settings | None = None, *, executor_id: str | None = None) -> None:
        self.settings = settings or get_settings()
        self.executor_id = executor_id or f"executor-{uuid.uuid4().hex[:12]}"
        self.running: dict[str, asyncio.Task[None]] = {}
        self._ended_at: dict[str, float] = {}
        self._retry_at: dict[str, tuple[float, int]] = {}
        self.deployment_id: UUID | None = None
        self._intake = IntakeBurst(
            self.settings.executor_intake_burst_per_s, self.settings.executor_intake_burst_hold_seconds
        )
        self._intake_burst = False  # while true, run starts and deliveries wait for intake (intake_burst.py)
        # Claims of ended attempts, dropped in batches by their own loop (``_release_claims``).
        self._releases: list[store.Claim] = []
        self._release_due = asyncio.Event()
        writes = self.settings.executor_prefect_writes
        self._writes: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Semaphore(writes) if writes else contextlib.nullcontext()
        )

    async def run(self, stop: asyncio.Event) -> None:
        self.deployment_id = await prefect_glue.ensure_deployment(self.settings.deployment_name)
        await asyncio.to_thread(store.heartbeat, self.executor_id)
        log.info("executor %s running deployment %s", self.executor_id, self.deployment_id)
        poll = self.settings.executor_poll_seconds
        scheduler = supervision.start(self.settings.sweep_seconds)
        if self.settings.prefect_run_retention_days:
            retention.add_job(
                scheduler,
                deployment_id=self.deployment_id,
                older_than=timedelta(days=self.settings.prefect_run_retention_days),
            )
        # One Prefect client of each kind for the whole process, shared by the loops and every attempt
        # (attempt tasks inherit these contexts): each client built loads the CA bundle, ~0.05 CPU-s.
        with SyncClientContext.get_or_create():
            async with AsyncClientContext.get_or_create() as clients:
                await self._serve(clients.client, stop, poll)
        scheduler.shutdown(wait=False)
        # Let attempts under way finish: each ends at its next suspend within a second or two.
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=30)
        await asyncio.to_thread(store.release, self._releases)

    async def _serve(self, client: PrefectClient, stop: asyncio.Event, poll: float) -> None:
        dispatcher = OutboxDispatcher()
        loops = [
            self._every(poll, stop, lambda: self._start_runs(client)),
            self._every(poll, stop, lambda: self._wake_runs(client)),
            self._every(poll, stop, lambda: self._claim_and_run(client)),
            self._every(
                min(5.0, self.settings.executor_lease_seconds / 3), stop, lambda: self._keep_alive(client)
            ),
            self._release_claims(stop, poll),
            dispatcher.run_forever(stop, hold=lambda: self._intake_burst),
        ]
        if self.settings.executor_intake_burst_per_s:
            loops.append(self._every(SAMPLE_SECONDS, stop, self._watch_intake))
        await asyncio.gather(*loops)

    async def _every(
        self, seconds: float, stop: asyncio.Event, work: Callable[[], Awaitable[object]]
    ) -> None:
        while not stop.is_set():
            busy = False
            try:
                busy = bool(await work())
            except Exception:  # a loop must outlive a dropped connection or a locked database
                log.exception("executor loop failed; retrying")
            # A loop that found work looks again at once: while departments are at work, a step
            # completed just after a poll would otherwise wait a whole poll for its attempt.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=BUSY_POLL_SECONDS if busy else seconds)

    # --- start --------------------------------------------------------------------------------

    async def _watch_intake(self) -> None:
        try:
            newest = await asyncio.to_thread(store.newest_suggestion_id)
        except Exception:
            self._intake_burst = False  # blind to intake: hold nothing on a reading that failed
            raise
        self._intake_burst = self._intake.hold(newest, time.monotonic())

    async def _start_runs(self, client: PrefectClient) -> bool:
        assert self.deployment_id is not None
        deployment_id = self.deployment_id
        if self._intake_burst:
            return False

        async def start(item: store.Unstarted) -> None:
            if self._intake_burst:  # a burst began after these were read: they wait for its end
                return
            async with self._writes:
                run_id = await prefect_glue.create_run(
                    client, deployment_id=deployment_id, suggestion_id=item.suggestion_id, name=item.run_name
                )
            await asyncio.to_thread(store.record_flow_run, item.suggestion_id, str(run_id))

        items = await asyncio.to_thread(store.unstarted, 200)
        await _at_most(ROUND_TRIPS, [functools.partial(start, item) for item in items])
        return bool(items)

    # --- wake ---------------------------------------------------------------------------------

    async def _wake_runs(self, client: PrefectClient) -> bool:
        read_at = time.monotonic()
        wakes = await asyncio.to_thread(store.wakes, 500)
        # Remember only what still matters, so a months-long executor does not grow a map per run.
        waiting = {wake.flow_run_id for wake in wakes}
        self._retry_at = {r: v for r, v in self._retry_at.items() if r in waiting}
        self._ended_at = {r: t for r, t in self._ended_at.items() if read_at - t < 60.0}
        due = [
            wake
            for wake in wakes
            # An attempt under way applies the step itself, and one that ended after the steps were
            # read has applied them (they were read as still submitted).
            if wake.flow_run_id not in self.running
            and self._ended_at.get(wake.flow_run_id, -1e9) < read_at
            and read_at >= self._retry_at.get(wake.flow_run_id, (0.0, 0))[0]
        ]
        free = max(0, self.settings.executor_concurrency - len(self.running))
        for wake in due[:free]:
            self._launch(client, wake.flow_run_id, wake.suggestion_id, woken=True)
        return bool(due[:free])

    async def _not_resumable(self, client: PrefectClient, run_id: str, reason: str) -> None:
        run = await client.read_flow_run(UUID(run_id))
        state_type = run.state.type if run.state else None
        _, failures = self._retry_at.get(run_id, (0.0, 0))
        if state_type in DEAD_STATES:
            # A dead run (an attempt that failed for good, a process killed mid-attempt): re-run it.
            # The step waits in our database, and the attempt applies it exactly once whatever
            # happened before.
            log.warning("run %s is %s and refuses to resume (%s); re-running it", run_id, state_type, reason)
            await prefect_glue.reschedule(client, UUID(run_id), why=f"resume refused: {reason}"[:500])
            self._retry_at.pop(run_id, None)
            return
        # Anything else (cancelled in Prefect's UI, say) is for a person to look at: try again later,
        # backing off so one stuck run cannot hog the loop.
        self._retry_at[run_id] = (time.monotonic() + min(30.0, 0.25 * 2**failures), failures + 1)
        log.info("run %s not resumable now (%s): %s", run_id, state_type, reason)

    # --- claim and run ------------------------------------------------------------------------

    async def _claim_and_run(self, client: PrefectClient) -> bool:
        """Scheduled runs: new ones, recovered ones, and any resumed through Prefect's UI or API."""
        assert self.deployment_id is not None
        free = self.settings.executor_concurrency - len(self.running)
        if free <= 0 or self._intake_burst:  # first attempts are part of a start: they wait too
            return False
        runs = await prefect_glue.ready_runs(client, deployment_id=self.deployment_id, limit=free)
        fresh = [run for run in runs if str(run.id) not in self.running]
        for run in fresh:
            self._launch(client, str(run.id), int(run.parameters["suggestion_id"]), woken=False)
        return bool(fresh)

    def _launch(self, client: PrefectClient, run_id: str, suggestion_id: int, *, woken: bool) -> None:
        """Claim and run one attempt in a task of its own: the loop that found the run goes on looking
        at once, instead of waiting for every claim it started to get its answer from Prefect."""
        self.running[run_id] = asyncio.create_task(
            self._claim_and_attempt(client, run_id, suggestion_id, woken), name=f"attempt-{run_id}"
        )

    async def _claim_and_attempt(
        self, client: PrefectClient, run_id: str, suggestion_id: int, woken: bool
    ) -> None:
        claim = None
        try:
            # Claim in our database first: it is the lock between executors, and if we die after
            # Prefect accepts Running, recovery finds the claim.
            claim = await asyncio.to_thread(store.claim, self.executor_id, run_id, suggestion_id)
            if claim is None:  # another executor's attempt: it applies the step
                self._retry_at[run_id] = (time.monotonic() + CLAIMED_ELSEWHERE_SECONDS, 0)
                return
            async with self._writes:
                accepted, reason = await prefect_glue.start_attempt(
                    client, UUID(run_id), message=claim.attempt_name
                )
            if not accepted:
                if woken:
                    await self._not_resumable(client, run_id, reason)
                return
            self._retry_at.pop(run_id, None)
            await attempt.run_attempt(client, UUID(run_id), suggestion_id, writes=self._writes)
        except Exception:
            log.exception("attempt of run %s failed", run_id)
        finally:
            # The attempt is over once its run is suspended: a step submitted meanwhile (the next
            # department at work) is attempted at once, not after its claim is dropped. The claim
            # goes in the next batch; a new attempt of ours takes it again before that, harmlessly.
            self._ended_at[run_id] = time.monotonic()
            self.running.pop(run_id, None)
            if claim is not None:
                self._releases.append(claim)
                self._release_due.set()

    async def _release_claims(self, stop: asyncio.Event, poll: float) -> None:
        """Drop the claims of ended attempts, those that ended together in one transaction: one
        transaction per attempt was one more writer per step queueing for SQLite's lock."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release_due.wait(), timeout=poll)
            self._release_due.clear()
            batch, self._releases = self._releases, []
            try:
                await asyncio.to_thread(store.release, batch)
            except Exception:  # a locked database, a dropped connection: keep them for the next try
                log.exception("dropping %d claims failed; retrying", len(batch))
                self._releases[:0] = batch

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


async def _at_most(limit: int, jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
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
