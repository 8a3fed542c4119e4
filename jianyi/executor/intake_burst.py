"""Intake first: while suggestions pour in, the executor holds back the starting of their runs
and the outbox's deliveries.

On two cores, an intake burst (50 a second, an emergency's hotline) and the starting of its runs
compete for the same CPU and the same SQLite write lock: each run started is a creation in Prefect,
a first attempt and the acknowledgement's delivery, several times the work of taking the suggestion
in. Measured (bench group `intake`): with the executor at work, an intake's p95 in a 50/s burst was
0.2 to 0.7 s; with nothing else running, 18 ms; with the hold, 19 to 156 ms in nine bursts of ten
(601 ms in the other; why was not found). The starts cannot keep pace with such a burst anyway
(Prefect creates a few runs a second here): with the hold, the backlog of a burst of 200 drained in
38 to 71 s, as it did without (43 to 77 s).

A burst is read from the application database, so every executor sees the same one: the newest
suggestion's id, sampled every ``SAMPLE_SECONDS``, gives the rate of arrivals (on PostgreSQL an id
lost to a rolled-back intake counts too: an attempt at intake all the same). The hold is bounded:
after ``longest`` seconds the runs are started whatever the rate, and the hold is not taken again
for as long, so a flood that never ends cannot starve the starts.
"""

from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger("jianyi.executor")

# Arrivals are counted over about this long: long enough that a few intakes typed in a row at a
# desk are not a burst.
WINDOW_SECONDS = 1.0
# How often the newest id is sampled: a burst is seen within half a second of its start (before,
# the starter takes up its first suggestions as usual). One indexed max() each time.
SAMPLE_SECONDS = 0.25


class IntakeBurst:
    """Whether intake is in a burst, from successive samples of the newest suggestion's id."""

    def __init__(self, per_second: float, longest: float) -> None:
        self.per_second = per_second  # 0: never hold
        self.longest = longest
        self._samples: deque[tuple[float, int]] = deque()
        self._holding_since: float | None = None
        self._no_hold_until = 0.0

    def rate(self) -> float:
        """Suggestions received per second over the last window (0 until there are two samples)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, id0), (t1, id1) = self._samples[0], self._samples[-1]
        return (id1 - id0) / (t1 - t0) if t1 > t0 else 0.0

    def hold(self, newest_id: int | None, now: float) -> bool:
        """Record a sample taken at ``now`` (monotonic seconds); whether run starts and deliveries
        should wait."""
        if not self.per_second:
            return False
        self._samples.append((now, newest_id or 0))
        # Keep one sample at least a window old, as the base the rate is counted from.
        while len(self._samples) > 2 and self._samples[1][0] <= now - WINDOW_SECONDS:
            self._samples.popleft()
        known = now - self._samples[0][0] >= WINDOW_SECONDS / 2
        if self._holding_since is None:
            if known and self.rate() >= self.per_second and now >= self._no_hold_until:
                self._holding_since = now
                log.info("intake burst: %.0f suggestions/s; run starts and deliveries wait", self.rate())
            return self._holding_since is not None
        # Let go only once the rate is well down: requests arrive in clumps, and a hold that ended at
        # every lull would start runs in the middle of the burst.
        bursting = self.rate() >= self.per_second / 2
        if bursting and now - self._holding_since < self.longest:
            return True
        held = now - self._holding_since
        self._holding_since = None
        if bursting:  # held as long as allowed: start runs for as long before holding again
            self._no_hold_until = now + self.longest
        log.info("run starts resume after %.1f s held for intake (%.0f/s now)", held, self.rate())
        return False
