"""Rate limits of the public tracking routes, in this process: guessing check codes is throttled.

Failed lookups (an unknown tracking code, a wrong or malformed check code) are counted per client
address and per tracking code in token buckets; while either bucket is empty, every lookup and
rating from that client or for that code is answered 429, even with the right check code. Lookups
that succeed cost nothing, so a proposer (or the benchmark's many from one address) is never slowed.
Each API process keeps its own buckets (several workers allow a multiple); the buckets live on the
app, so every app built has fresh ones.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from jianyi.errors import JianyiError

# Per client address: 10 failures at once, then one more every 6 s.
CLIENT_FAILURES, CLIENT_REFILL_SECONDS = 10, 6.0
# Per tracking code: 5 failures at once, then one more a minute.
CODE_FAILURES, CODE_REFILL_SECONDS = 5, 60.0
# Buckets kept per limiter; the least recently used go first (a flood of keys cannot exhaust memory).
MAX_KEYS = 50_000


class TooManyRequests(JianyiError):
    status_code = 429
    code = "too_many_requests"


@dataclass
class _Bucket:
    tokens: float
    at: float


class FailureLimiter:
    """Token buckets of failures by key: ``blocked`` asks, ``failed`` spends one."""

    def __init__(
        self, capacity: int, refill_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()  # the handlers run in the thread pool

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) / self.refill_seconds)
            bucket.at = now
        return bucket

    def blocked(self, key: str) -> bool:
        with self._lock:
            return self._bucket(key).tokens < 1

    def failed(self, key: str) -> None:
        with self._lock:
            bucket = self._bucket(key)
            bucket.tokens = max(0.0, bucket.tokens - 1)


@dataclass
class TrackingLimits:
    clients: FailureLimiter
    codes: FailureLimiter

    @classmethod
    def default(cls) -> TrackingLimits:
        return cls(
            FailureLimiter(CLIENT_FAILURES, CLIENT_REFILL_SECONDS),
            FailureLimiter(CODE_FAILURES, CODE_REFILL_SECONDS),
        )


_CREATING = threading.Lock()


def limits_of(request: Request) -> TrackingLimits:
    """The app's limits, made on first use."""
    state = request.app.state
    with _CREATING:
        limits = getattr(state, "tracking_limits", None)
        if limits is None:
            limits = state.tracking_limits = TrackingLimits.default()
    assert isinstance(limits, TrackingLimits)
    return limits


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_not_blocked(limits: TrackingLimits, *, client: str, code: str) -> None:
    if limits.clients.blocked(client) or limits.codes.blocked(code[:32]):
        raise TooManyRequests("too many failed lookups; try again in a few minutes")


def record_failure(limits: TrackingLimits, *, client: str, code: str) -> None:
    limits.clients.failed(client)
    limits.codes.failed(code[:32])


def limiter_of(request: Request, name: str, capacity: int, refill_seconds: float) -> FailureLimiter:
    """The app's limiter called ``name`` (made on first use): the web pages count submissions and
    failed logins per client with it (jianyi/web)."""
    state = request.app.state
    with _CREATING:
        limiters = getattr(state, "limiters", None)
        if limiters is None:
            limiters = state.limiters = {}
        limiter = limiters.get(name)
        if limiter is None:
            limiter = limiters[name] = FailureLimiter(capacity, refill_seconds)
    assert isinstance(limiter, FailureLimiter)
    return limiter
