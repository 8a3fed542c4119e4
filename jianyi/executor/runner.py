"""The executor: one long-lived process that runs the lifecycle deployment's flow runs in-process.

Its loops: start a flow run for every stored suggestion that has none; run an attempt
(``jianyi.tasks.attempt``) of every suggestion with a submitted step, and of every due run of the
deployment (new, recovered, or resumed through Prefect), many at once, no process per resume;
heartbeat, and recover the runs of an executor that died mid-attempt; drop the claims of ended
attempts; deliver the proposer outbox. Its scheduler sweeps the rules' deadlines, prunes the
Prefect runs of long-closed suggestions and makes the periodic reports (``executor.reports``). What
the loops share is in ``Bookkeeping``.
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
from typing import TypeVar
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import StateType
from prefect.context import AsyncClientContext, SyncClientContext
from prefect.exceptions import ObjectNotFound
from prefect.logging.loggers import flow_run_logger

from jianyi.executor import cycles, erasure, prefect_glue, reconciler, reports, retention, store, sweeps
from jianyi.executor.bookkeeping import Bookkeeping
from jianyi.executor.dispatcher import OutboxDispatcher
from jianyi.executor.intake_burst import SAMPLE_SECONDS, IntakeBurst
from jianyi.executor.suspender import ClientSuspender
from jianyi.runtime import faults
from jianyi.settings import Settings, get_settings
from jianyi.tasks.attempt import passes, run_attempt

log = logging.getLogger("jianyi.executor")
DEAD_STATES = {StateType.FAILED, StateType.CRASHED}
# Run creations in flight at once: one after another, every suggestion waited behind all the
# others' round trips to a busy Prefect server.
ROUND_TRIPS = 8
BUSY_POLL_SECONDS = 0.05
# Waiting for a server that is down or starting: the first wait, and the longest.
FIRST_WAIT_SECONDS, LONGEST_WAIT_SECONDS = 0.5, 5.0
T = TypeVar("T")


class Executor:
    def __init__(self, settings: Settings | None = None, *, executor_id: str | None = None) -> None:
        self.settings = settings or get_settings()
        self.executor_id = executor_id or f"executor-{uuid.uuid4().hex[:12]}"
        self.deployment_id: UUID | None = None
        self.books = Bookkeeping(
            IntakeBurst(
                self.settings.executor_intake_burst_per_s, self.settings.executor_intake_burst_hold_seconds
            )
        )
        writes = self.settings.executor_prefect_writes
        self._writes: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Semaphore(writes) if writes else contextlib.nullcontext()
        )

    async def run(self, stop: asyncio.Event) -> None:
        # Prefect's server or the database may be restarting as the executor starts: it waits for them.
        cyclic = await until_up("register the deployments", self._register, stop)
        if cyclic is None:  # stopped while waiting
            return
        assert self.deployment_id is not None
        log.info("executor %s running deployment %s", self.executor_id, self.deployment_id)
        poll = self.settings.executor_poll_seconds
        scheduler = sweeps.start_scheduler(self.settings.sweep_seconds)
        if self.settings.prefect_run_retention_days:
            retention.add_job(
                scheduler,
                deployment_id=self.deployment_id,
                older_than=timedelta(days=self.settings.prefect_run_retention_days),
            )
        reconciler.add_job(scheduler)  # flow runs that disagree with the database: repaired or reported
        if self.settings.personal_data_retention_days:
            erasure.add_job(scheduler, older_than=timedelta(days=self.settings.personal_data_retention_days))
        if cyclic:  # the periodic reports: cron jobs here, not Prefect's scheduler
            report_ids, digest_id, campaign_id = cyclic
            reports.add_jobs(scheduler, report_ids)
            cycles.add_jobs(scheduler, digest_id)  # the digest, on the rules' cron
            cycles.add_campaign_jobs(scheduler, campaign_id)
        # One Prefect client of each kind for the whole process, shared by the loops and every
        # attempt (attempt tasks inherit these contexts): building a client is not cheap.
        with SyncClientContext.get_or_create():
            async with AsyncClientContext.get_or_create() as clients:
                await self._serve(clients.client, stop, poll)
        scheduler.shutdown(wait=False)
        # Let attempts under way finish: each ends at its next suspend.
        if self.books.running:
            await asyncio.wait(list(self.books.running.values()), timeout=30)
        await asyncio.to_thread(store.release, self.books.take_releases())

    async def _register(self) -> tuple[dict[str, UUID], UUID, UUID] | tuple[()]:
        """The lifecycle deployment, a first heartbeat, and the deployments of the periodic reports,
        the digest and the campaigns (if scheduled here): their ids, or () if not."""
        self.deployment_id = await prefect_glue.ensure_deployment(self.settings.deployment_name)
        await asyncio.to_thread(store.heartbeat, self.executor_id)
        if not self.settings.reports_scheduled:
            return ()
        return (
            await reports.ensure_deployments(),
            await cycles.ensure_deployment(),
            await cycles.ensure_campaign_deployment(),
        )

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
            dispatcher.run_forever(stop, deferred=lambda: self.books.defers_starts),
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
            # A loop that found work looks again at once: a step completed just after a poll would
            # otherwise wait a whole poll for its attempt.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=BUSY_POLL_SECONDS if busy else seconds)

    # --- start --------------------------------------------------------------------------------

    async def _watch_intake(self) -> None:
        try:
            newest = await asyncio.to_thread(store.newest_suggestion_id)
        except Exception:
            self.books.intake_unknown()
            raise
        self.books.sample_intake(newest, time.monotonic())

    async def _start_runs(self, client: PrefectClient) -> bool:
        assert self.deployment_id is not None
        deployment_id = self.deployment_id
        if self.books.defers_starts:
            return False

        async def start(item: store.Unstarted) -> None:
            if self.books.defers_starts:  # a burst began after these were read: they wait for its end
                return
            async with self._writes:
                run_id = await prefect_glue.create_run(
                    client, deployment_id=deployment_id, suggestion_id=item.suggestion_id, name=item.run_name
                )
            await asyncio.to_thread(faults.halt_at, "start.after_create", item.suggestion_id)
            await asyncio.to_thread(store.record_flow_run, item.suggestion_id, str(run_id))

        items = await asyncio.to_thread(store.unstarted, 200)
        await _at_most(ROUND_TRIPS, [functools.partial(start, item) for item in items])
        return bool(items)

    # --- wake ---------------------------------------------------------------------------------

    async def _wake_runs(self, client: PrefectClient) -> bool:
        read_at = time.monotonic()  # before the read: see Bookkeeping.due
        wakes = await asyncio.to_thread(store.wakes, 500)
        due = self.books.due(wakes, read_at)[: self.books.free(self.settings.executor_concurrency)]
        for wake in due:
            self._launch(client, wake.flow_run_id, wake.suggestion_id, woken=True)
        return bool(due)

    async def _not_resumable(self, client: PrefectClient, run_id: str, reason: str) -> None:
        run = await client.read_flow_run(UUID(run_id))
        state_type = run.state.type if run.state else None
        if state_type in DEAD_STATES:
            # A dead run (an attempt that failed for good, a process killed mid-attempt): re-run it.
            # The step waits in our database, and the attempt applies it exactly once whatever
            # happened before.
            log.warning("run %s is %s and refuses to resume (%s); re-running it", run_id, state_type, reason)
            await prefect_glue.reschedule(client, UUID(run_id), why=f"resume refused: {reason}"[:500])
            self.books.resumed(run_id)
            return
        # Anything else (cancelled in Prefect's UI, say) is for a person to look at.
        wait = self.books.not_resumable(run_id)
        log.info("run %s not resumable now (%s): %s; again in %.2f s", run_id, state_type, reason, wait)

    # --- claim and run ------------------------------------------------------------------------

    async def _claim_and_run(self, client: PrefectClient) -> bool:
        """Scheduled runs: new ones, recovered ones, and any resumed through Prefect's UI or API."""
        assert self.deployment_id is not None
        free = self.books.free(self.settings.executor_concurrency)
        if not free or self.books.defers_starts:  # first attempts are part of a start: they wait too
            return False
        runs = await prefect_glue.ready_runs(client, deployment_id=self.deployment_id, limit=free)
        fresh = [run for run in runs if not self.books.is_running(str(run.id))]
        for run in fresh:
            self._launch(client, str(run.id), int(run.parameters["suggestion_id"]), woken=False)
        return bool(fresh)

    def _launch(self, client: PrefectClient, run_id: str, suggestion_id: int, *, woken: bool) -> None:
        """Claim and run one attempt in a task of its own: the loop that found the run goes on looking
        at once, instead of waiting for every claim it started to get its answer from Prefect."""
        self.books.launched(
            run_id,
            asyncio.create_task(
                self._claim_and_attempt(client, run_id, suggestion_id, woken), name=f"attempt-{run_id}"
            ),
        )

    async def _claim_and_attempt(
        self, client: PrefectClient, run_id: str, suggestion_id: int, woken: bool
    ) -> None:
        claim = None
        try:
            # The claim in our database before Running: it is the lock between executors (Prefect
            # accepts Running for a run already Running), and if we die after Prefect accepts
            # Running, recovery finds the claim.
            claim = await asyncio.to_thread(
                functools.partial(store.claim, self.executor_id, run_id, suggestion_id, first=not woken)
            )
            if claim is None:
                self.books.claimed_elsewhere(run_id)
                return
            async with self._writes:
                accepted, reason = await prefect_glue.start_attempt(
                    client, UUID(run_id), message=claim.attempt_name, resuming=woken
                )
            if not accepted:
                if woken:
                    await self._not_resumable(client, run_id, reason)
                return
            self.books.resumed(run_id)
            await run_attempt(
                suggestion_id,
                ClientSuspender(client, UUID(run_id), writes=self._writes),
                log=flow_run_logger(flow_run_id=UUID(run_id)),
            )
        except ObjectNotFound:
            await self._missing(client, run_id)
        except Exception:
            log.exception("attempt of run %s failed", run_id)
        finally:
            self.books.ended(run_id, claim)

    async def _missing(self, client: PrefectClient, run_id: str) -> None:
        """Prefect answered 404 about the run. If it has no such run (deleted, or a Prefect database
        restored from before it), the case gets a new run, whose first attempt applies what waits in
        the database; woken again and again, it would wait for ever."""
        try:
            await client.read_flow_run(UUID(run_id))
        except ObjectNotFound:
            log.warning("run %s is unknown to Prefect: its suggestion gets a new run", run_id)
            await asyncio.to_thread(store.forget_missing_run, run_id)
            return
        log.error("run %s: Prefect answered 404 during an attempt, yet has the run", run_id)

    async def _release_claims(self, stop: asyncio.Event, poll: float) -> None:
        """Drop the claims of ended attempts, those that ended together in one transaction (one
        writer fewer per step queueing for SQLite's lock)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.books.release_due.wait(), timeout=poll)
            batch = self.books.take_releases()
            try:
                await asyncio.to_thread(store.release, batch)
            except Exception:  # a locked database, a dropped connection: kept for the next try
                log.exception("dropping %d claims failed; retrying", len(batch))
                self.books.release_failed(batch)

    # --- heartbeat and recovery ---------------------------------------------------------------

    async def _keep_alive(self, client: PrefectClient) -> None:
        await asyncio.to_thread(store.heartbeat, self.executor_id)
        for run_id in await asyncio.to_thread(store.orphaned_claims, self.settings.executor_lease_seconds):
            try:
                run = await client.read_flow_run(UUID(run_id))
            except ObjectNotFound:  # gone from Prefect: nothing to recover, the case gets a new run
                log.warning("run %s of a silent executor is unknown to Prefect: a new run", run_id)
                await asyncio.to_thread(store.forget_missing_run, run_id)
                await asyncio.to_thread(store.drop_claim, run_id)
                continue
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
            if not self.books.is_running(str(run.id)):
                log.warning("re-running crashed run %s", run.id)
                await prefect_glue.reschedule(client, run.id, why="its attempt crashed")


def unavailable(exc: BaseException) -> bool:
    """A server that is down or starting: no connection, one dropped, an answer 5xx; or a database
    error that passes (``tasks.attempt.passes``)."""
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return passes(exc)


async def until_up(what: str, work: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
    """``work``'s result, tried again while a server it needs is down or starting (after 0.5 s, then
    twice as long each time, at most 5 s); None if stopped meanwhile. Any other error is raised."""
    wait = FIRST_WAIT_SECONDS
    while not stop.is_set():
        try:
            return await work()
        except Exception as exc:
            if not unavailable(exc):
                raise
            log.warning("cannot %s yet (%s: %s); trying again in %.1f s", what, type(exc).__name__, exc, wait)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
        wait = min(2 * wait, LONGEST_WAIT_SECONDS)
    return None


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
