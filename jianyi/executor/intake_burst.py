"""Intake first: while suggestions pour in, the executor defers the starting of their runs and the
outbox's deliveries (why: docs/executor-notes.md).

A burst is read from the application database, so every executor sees the same one: the newest
suggestion's id, sampled every ``SAMPLE_SECONDS``, gives the rate of arrivals (on PostgreSQL an id
lost to a rolled-back intake counts too: an attempt at intake all the same). Deferring is bounded:
after ``longest`` seconds the runs are started whatever the rate, and starts are not deferred again
for as long, so a flood that never ends cannot starve them.
"""

from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger("jianyi.executor")

# Arrivals are counted over about this long: long enough that a few intakes typed in a row at a
# desk are not a burst.
WINDOW_SECONDS = 1.0
# How often the newest id is sampled (one indexed max() each time): a burst is seen within half a
# second of its start.
SAMPLE_SECONDS = 0.25


class IntakeBurst:
    """Whether intake is in a burst, from successive samples of the newest suggestion's id."""

    def __init__(self, per_second: float, longest: float) -> None:
        self.per_second = per_second  # 0: never defer
        self.longest = longest
        self._samples: deque[tuple[float, int]] = deque()
        self._deferring_since: float | None = None
        self._no_defer_until = 0.0

    def rate(self) -> float:
        """Suggestions received per second over the last window (0 until there are two samples)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, id0), (t1, id1) = self._samples[0], self._samples[-1]
        return (id1 - id0) / (t1 - t0) if t1 > t0 else 0.0

    def defers_starts(self, newest_id: int | None, now: float) -> bool:
        """Record a sample taken at ``now`` (monotonic seconds); whether run starts and deliveries
        should wait."""
        if not self.per_second:
            return False
        self._samples.append((now, newest_id or 0))
        # Keep one sample at least a window old, as the base the rate is counted from.
        while len(self._samples) > 2 and self._samples[1][0] <= now - WINDOW_SECONDS:
            self._samples.popleft()
        known = now - self._samples[0][0] >= WINDOW_SECONDS / 2
        if self._deferring_since is None:
            if known and self.rate() >= self.per_second and now >= self._no_defer_until:
                self._deferring_since = now
                log.info("intake burst: %.0f suggestions/s; run starts and deliveries wait", self.rate())
            return self._deferring_since is not None
        # Let go only once the rate is well down: requests arrive in clumps, and deferring that ended
        # at every lull would start runs in the middle of the burst.
        bursting = self.rate() >= self.per_second / 2
        if bursting and now - self._deferring_since < self.longest:
            return True
        deferred = now - self._deferring_since
        self._deferring_since = None
        if bursting:  # deferred as long as allowed: start runs for as long before deferring again
            self._no_defer_until = now + self.longest
        log.info("run starts resume after %.1f s deferred for intake (%.0f/s now)", deferred, self.rate())
        return False
