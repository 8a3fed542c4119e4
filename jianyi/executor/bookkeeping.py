"""What the executor's loops know about its attempts, in one place, and the orderings they keep.

The loops share one event loop: each method runs without a pause in between, so a run marked
running is never launched twice, and an attempt's end is recorded in one step (its end time, its
run no longer running, its claim queued for release).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from jianyi.executor.intake_burst import IntakeBurst
from jianyi.executor.store import Claim, Wake

W = TypeVar("W", bound=Wake)

# A run another executor is attempting: its attempt applies the step; look again after this.
CLAIMED_ELSEWHERE_SECONDS = 1.0
# A run that refuses to resume (cancelled in Prefect's UI, say) is tried again after 0.25 s, then
# twice as long each time, up to this.
LONGEST_BACKOFF_SECONDS = 30.0
# How long an attempt's end is remembered: longer than any read of the wakes takes.
REMEMBER_ENDS_SECONDS = 60.0


class Bookkeeping:
    """Runs with an attempt under way, when each attempt ended, runs backing off, claims to drop,
    and whether intake defers the starting of runs."""

    def __init__(self, intake: IntakeBurst | None = None, *, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.intake = intake
        self.running: dict[str, asyncio.Task[None]] = {}
        self._ended_at: dict[str, float] = {}
        self._retry_at: dict[str, tuple[float, int]] = {}  # run → (not before, failures so far)
        self._releases: list[Claim] = []
        self.release_due = asyncio.Event()
        self.defers_starts = False  # while true, run starts and deliveries wait for intake

    # --- attempts -------------------------------------------------------------------------------

    def free(self, concurrency: int) -> int:
        """How many more attempts may run at once."""
        return max(0, concurrency - len(self.running))

    def launched(self, run_id: str, attempt: asyncio.Task[None]) -> None:
        self.running[run_id] = attempt

    def is_running(self, run_id: str) -> bool:
        return run_id in self.running

    def ended(self, run_id: str, claim: Claim | None) -> None:
        """The attempt is over (its run suspended, completed, refused or failed). Its claim is queued
        for the next batch of releases: a step submitted meanwhile is attempted at once, not after
        the claim is dropped."""
        self._ended_at[run_id] = self.clock()
        self.running.pop(run_id, None)
        if claim is not None:
            self._releases.append(claim)
            self.release_due.set()

    def due(self, wakes: Iterable[W], read_at: float) -> list[W]:
        """The wakes to attempt now, of those read from the database after ``read_at``: not those
        whose run has an attempt under way (it applies the step itself), nor those whose attempt
        ended after ``read_at`` (its transaction committed after the read began, so it applied what
        was read as submitted), nor those backing off."""
        wakes = list(wakes)
        waiting = {wake.flow_run_id for wake in wakes}
        # Remember only what still matters, so a months-long executor does not grow a map per run.
        self._retry_at = {r: v for r, v in self._retry_at.items() if r in waiting}
        self._ended_at = {r: t for r, t in self._ended_at.items() if read_at - t < REMEMBER_ENDS_SECONDS}
        return [
            wake
            for wake in wakes
            if wake.flow_run_id not in self.running
            and self._ended_at.get(wake.flow_run_id, float("-inf")) < read_at
            and read_at >= self._retry_at.get(wake.flow_run_id, (0.0, 0))[0]
        ]

    # --- backing off ----------------------------------------------------------------------------

    def claimed_elsewhere(self, run_id: str) -> None:
        """Another executor holds the run: its attempt applies the step; look again in a while."""
        self._retry_at[run_id] = (self.clock() + CLAIMED_ELSEWHERE_SECONDS, 0)

    def not_resumable(self, run_id: str) -> float:
        """The run refused to resume and needs a person: try again later, backing off, so that one
        stuck run cannot hog the loop. Returns the wait."""
        _, failures = self._retry_at.get(run_id, (0.0, 0))
        wait = min(LONGEST_BACKOFF_SECONDS, 0.25 * 2**failures)
        self._retry_at[run_id] = (self.clock() + wait, failures + 1)
        return wait

    def resumed(self, run_id: str) -> None:
        """The run accepted Running, or was re-scheduled: no more backing off."""
        self._retry_at.pop(run_id, None)

    # --- claims ---------------------------------------------------------------------------------

    def take_releases(self) -> list[Claim]:
        """The claims of ended attempts, to be dropped together in one transaction."""
        self.release_due.clear()
        batch, self._releases = self._releases, []
        return batch

    def release_failed(self, batch: list[Claim]) -> None:
        """Dropping them failed (a locked database, a lost connection): they go first next time."""
        self._releases[:0] = batch

    # --- intake first ---------------------------------------------------------------------------

    def sample_intake(self, newest_id: int | None, now: float) -> bool:
        """Record the newest suggestion's id; whether run starts and deliveries now wait for intake."""
        self.defers_starts = self.intake.defers_starts(newest_id, now) if self.intake else False
        return self.defers_starts

    def intake_unknown(self) -> None:
        """The newest id could not be read: defer nothing on a reading that failed."""
        self.defers_starts = False
