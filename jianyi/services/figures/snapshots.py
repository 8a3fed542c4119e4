"""The figures as a short-lived snapshot shared by every request of one API process (the board, its
polling partial and export, ``/api/figures`` and its export), and the board's late units with them:
computing them reads every item of the period or every overdue step (hundreds and tens of ms on a
large database), while they change only as steps are answered.

An entry at most ``max_age`` seconds old is served as it is; an older one is served at once while one
background thread recomputes it; a missing one (or one ``EXPIRED`` times too old) is computed by the
first caller while the others asking for it wait for that computation. The access check runs for
every call, before the cache is consulted. The figures carry ``computed_at``: the pages say when
they were computed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from jianyi.models.board_schemas import LateUnit
from jianyi.services import board
from jianyi.services.actors import Actor
from jianyi.services.figures import access
from jianyi.services.figures.compute import compute_figures
from jianyi.services.figures.periods import Period, Scope
from jianyi.services.figures.schemas import FigureSet

log = logging.getLogger("jianyi.figures")

Compute = Callable[..., FigureSet]  # compute_figures(session, *, actor, period, scope, now)
# What the figures depend on: the period, the scope (its parts sorted) and the district office the
# actor is confined to (None: not confined). Nothing else of the actor: access.resolve is the rule.
Key = tuple[str, str, int | None]
Shared = FigureSet | list[LateUnit]  # what is kept: the figures, the late units ("late-units" keys)
# A snapshot this many times its maximum age (a board left idle overnight) is not served while it is
# refreshed: the caller computes afresh, as for a missing one.
EXPIRED = 10


def canonical(scope: Scope) -> str:
    """The scope's parts sorted: office:a + channel:b and channel:b + office:a count the same."""
    return " + ".join(sorted(str(part) for part in scope.parts()))


@dataclass
class _Entry:
    value: Shared
    at: float  # the clock's reading when their computation began
    refreshing: threading.Thread | None = None  # the one background refresh under way


class FigureSnapshots:
    """The snapshots of one application instance: at most ``size`` of them, least recently used out
    first; ``max_age`` 0 computes every time. ``clock`` (monotonic seconds) and ``compute`` are
    there for the tests."""

    def __init__(
        self,
        *,
        max_age: float,
        size: int = 64,
        clock: Callable[[], float] = time.monotonic,
        compute: Compute = compute_figures,
    ) -> None:
        self.max_age = max_age
        self.size = size
        self._clock = clock
        self._compute = compute
        self._lock = threading.Lock()  # guards the two dicts below, held only to read and write them
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()  # least recently used first
        self._pending: dict[Key, Future[Shared]] = {}  # the misses being computed

    def figures(
        self, session: Session, *, actor: Actor, period: Period, scope: Scope, now: datetime
    ) -> FigureSet:
        """What ``compute_figures`` answers, computed at most ``max_age`` seconds ago (or a stale
        snapshot, while one thread recomputes it). 403 or 422 as ``compute_figures``, every time."""
        where = access.resolve(session, actor=actor, scope=scope)  # before the cache, whatever it holds

        def compute(reading: Session) -> FigureSet:
            return self._compute(reading, actor=actor, period=period, scope=scope, now=now)

        found = self._cached(session, (period.code, canonical(scope), where.office_id), compute)
        assert isinstance(found, FigureSet)
        return _as_asked(found, scope)

    def late_units(self, session: Session, *, actor: Actor, now: datetime, among: Scope) -> list[LateUnit]:
        """The board's late units among the scope's suggestions (``board.late_units``: every overdue
        step counted, tens of ms on a large database), shared as the figures are. 403 as it, every time."""
        office = board.scope(session, actor)  # before the cache: a department, a leader: 403
        access.resolve(session, actor=actor, scope=among)  # …and a district office another's: 403

        def compute(reading: Session) -> list[LateUnit]:
            return board.late_units(reading, actor=actor, now=now, among=among)

        found = self._cached(session, ("late-units", canonical(among), office), compute)
        assert isinstance(found, list)
        return found

    def _cached(self, session: Session, key: Key, compute: Callable[[Session], Shared]) -> Shared:
        if self.max_age <= 0:  # no snapshots: computed every time
            return compute(session)
        with self._lock:
            entry = self._entries.get(key)
            age = self._clock() - entry.at if entry is not None else float("inf")
            if entry is not None and age < EXPIRED * self.max_age:
                self._entries.move_to_end(key)
                if entry.refreshing is None and age >= self.max_age:
                    entry.refreshing = threading.Thread(
                        target=self._refresh,
                        args=(session.get_bind(), key, compute),
                        name="figures-refresh",
                        daemon=True,
                    )
                    entry.refreshing.start()
                return entry.value
            pending = self._pending.get(key)
            leader = pending is None
            if pending is None:
                pending = self._pending[key] = Future()
        if not leader:  # another request computes them: wait for its answer (or its error)
            return pending.result()
        at = self._clock()
        try:
            found = compute(session)
        except BaseException as exc:
            with self._lock:
                del self._pending[key]
            pending.set_exception(exc)
            raise
        with self._lock:
            self._store(key, found, at)
            del self._pending[key]
        pending.set_result(found)
        return found

    def settle(self, timeout: float | None = None) -> None:
        """Wait for the background refreshes under way (the tests, before they look)."""
        with self._lock:
            threads = [e.refreshing for e in self._entries.values() if e.refreshing is not None]
        for thread in threads:
            thread.join(timeout)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _store(self, key: Key, found: Shared, at: float) -> None:
        self._entries[key] = _Entry(found, at)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def _refresh(self, bind: Engine | Connection, key: Key, compute: Callable[[Session], Shared]) -> None:
        """Recompute one stale entry in a session of its own (the request's engine, read-only as the
        request's was); on an error the older snapshot stays and the next reader tries again."""
        at = self._clock()
        found: Shared | None = None
        try:
            with Session(bind=bind) as session:
                try:
                    found = compute(session)
                finally:
                    session.rollback()
        except Exception as exc:  # logged without its message: SQL parameters stay out of the log
            log.error(
                "figures %s [%s]: refresh failed (%s); the older snapshot stays",
                key[0],
                key[1],
                type(exc).__name__,
            )
        with self._lock:
            entry = self._entries.get(key)
            if found is not None:
                self._store(key, found, at)
            elif entry is not None:
                entry.refreshing = None


def _as_asked(found: FigureSet, scope: Scope) -> FigureSet:
    """The snapshot with the scope as this caller wrote it (its parts perhaps in another order)."""
    return found if found.scope == scope else found.model_copy(update={"scope": scope})
