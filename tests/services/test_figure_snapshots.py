"""The figures' snapshots (services/figures/snapshots.py) through the real computation over a seeded
database, on SQLite and PostgreSQL: a snapshot holds within its age and is refreshed in the background
once stale, concurrent misses compute once, the access check runs before the cache every time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest
from clock import Clock
from sqlalchemy.orm import Session, sessionmaker

from jianyi.db import READ_ONLY
from jianyi.errors import Forbidden
from jianyi.services.figures import FigureSet, Period, Scope, compute_figures
from jianyi.services.figures.snapshots import EXPIRED, FigureSnapshots

MONDAY = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
NOVEMBER = Period.parse("2026-11")
CITY = Scope.city()


class Ticks:
    """The snapshots' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counted:
    """compute_figures, counting its calls (by scope); ``fail`` makes the next ones raise."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = False

    def __call__(self, session: Session, **kwargs: Any) -> FigureSet:
        self.calls.append(str(kwargs["scope"]))
        if self.fail:
            raise RuntimeError("the database went away")
        return compute_figures(session, **kwargs)


@pytest.fixture
def seeded(sessions: sessionmaker[Session], users: Any) -> Clock:
    """One November suggestion at the city office, one at Huangpu's."""
    clock = Clock(sessions, users)
    clock.submit(MONDAY, who="office")
    clock.submit(MONDAY, who="huangpu")
    return clock


def received(
    snapshots: FigureSnapshots,
    sessions: sessionmaker[Session],
    users: Any,
    who: str = "admin",
    scope: Scope = CITY,
) -> FigureSet:
    """The figures as a GET reads them: in a read-only session (on SQLite no write lock)."""
    with Session(bind=sessions.kw["bind"].execution_options(**{READ_ONLY: True})) as session:
        return snapshots.figures(session, actor=users.actors[who], period=NOVEMBER, scope=scope, now=NOW)


def total(figures: FigureSet) -> int:
    return figures.table("by_stage").total


def test_a_snapshot_holds_within_its_age_and_is_refreshed_once_stale(
    sessions: sessionmaker[Session], users: Any, seeded: Clock
) -> None:
    ticks = Ticks()
    snapshots = FigureSnapshots(max_age=60, clock=ticks)
    first = received(snapshots, sessions, users)
    assert total(first) == 2
    seeded.submit(MONDAY, who="office")  # a third suggestion, recorded after the snapshot
    ticks.now += 59
    assert total(received(snapshots, sessions, users)) == 2  # within its age: the snapshot
    ticks.now += 1
    stale = received(snapshots, sessions, users)  # stale: served at once, refreshed behind
    assert total(stale) == 2 and stale.computed_at == first.computed_at
    snapshots.settle(timeout=60)
    fresh = received(snapshots, sessions, users)
    assert total(fresh) == 3 and fresh.computed_at > first.computed_at


def test_a_snapshot_far_too_old_is_not_served(
    sessions: sessionmaker[Session], users: Any, seeded: Clock
) -> None:
    ticks = Ticks()
    snapshots = FigureSnapshots(max_age=60, clock=ticks)
    assert total(received(snapshots, sessions, users)) == 2
    seeded.submit(MONDAY, who="office")
    ticks.now += 60 * EXPIRED  # a board left idle overnight: computed afresh in the caller
    assert total(received(snapshots, sessions, users)) == 3


def test_max_age_zero_computes_every_time(sessions: sessionmaker[Session], users: Any, seeded: Clock) -> None:
    snapshots = FigureSnapshots(max_age=0)
    assert total(received(snapshots, sessions, users)) == 2
    seeded.submit(MONDAY, who="office")
    assert total(received(snapshots, sessions, users)) == 3


def _waited_on(snapshots: FigureSnapshots, count: int) -> Future[FigureSet]:
    """The one miss being computed, once ``count`` other callers wait for it."""
    for _ in range(10_000):
        pending = list(snapshots._pending.values())
        if pending and len(pending[0]._condition._waiters) >= count:  # type: ignore[attr-defined]
            return pending[0]
        threading.Event().wait(0.005)
    raise AssertionError(f"not {count} callers waiting on one computation")


def test_concurrent_misses_wait_on_one_computation(
    sessions: sessionmaker[Session], users: Any, seeded: Clock
) -> None:
    inside, release = threading.Event(), threading.Event()
    counted = Counted()

    def held(session: Session, **kwargs: Any) -> FigureSet:
        inside.set()
        assert release.wait(60)
        return counted(session, **kwargs)

    snapshots = FigureSnapshots(max_age=60, compute=held)
    answers: list[int] = []

    def read(who: str) -> Callable[[], None]:
        return lambda: answers.append(total(received(snapshots, sessions, users, who=who)))

    threads = [threading.Thread(target=read("admin"))]
    threads[0].start()
    assert inside.wait(60)
    # The city office's supervisor sees what the administrator sees: the same snapshot.
    threads += [threading.Thread(target=read("supervisor")), threading.Thread(target=read("office"))]
    for thread in threads[1:]:
        thread.start()
    _waited_on(snapshots, 2)
    release.set()
    for thread in threads:
        thread.join(60)
    assert counted.calls == ["city"] and answers == [2, 2, 2]


def test_access_is_checked_before_the_cache(
    sessions: sessionmaker[Session], users: Any, seeded: Clock
) -> None:
    counted = Counted()
    snapshots = FigureSnapshots(max_age=3600, compute=counted)
    office, unit = Scope.parse("office:city-office"), Scope.parse("unit:city-transport")
    for scope in (CITY, office, unit, Scope.parse("unit:city-edu")):
        received(snapshots, sessions, users, scope=scope)  # all cached, by the administrator
    assert len(counted.calls) == 4
    for who, scope in (("transport", CITY), ("huangpu", office), ("edu", unit), ("transport", office)):
        with pytest.raises(Forbidden):
            received(snapshots, sessions, users, who=who, scope=scope)
    # A district office's "city" is its own suggestions: not the administrator's snapshot.
    assert total(received(snapshots, sessions, users, who="huangpu")) == 1
    assert total(received(snapshots, sessions, users, who="admin")) == 2
    # A unit sees its own unit's snapshot, the one the administrator's request made.
    assert received(snapshots, sessions, users, who="transport", scope=unit).scope == unit
    assert len(counted.calls) == 5  # only Huangpu's own


def test_combined_scopes_share_a_snapshot_and_the_oldest_is_dropped(
    sessions: sessionmaker[Session], users: Any, seeded: Clock
) -> None:
    counted = Counted()
    snapshots = FigureSnapshots(max_age=3600, compute=counted, size=2)
    one = Scope.combine([Scope.parse("office:city-office"), Scope.parse("channel:web")])
    other = Scope.combine([Scope.parse("channel:web"), Scope.parse("office:city-office")])
    assert received(snapshots, sessions, users, scope=one).scope == one
    assert received(snapshots, sessions, users, scope=other).scope == other  # as asked
    assert len(counted.calls) == 1
    received(snapshots, sessions, users, scope=Scope.parse("channel:letter"))
    received(snapshots, sessions, users, scope=Scope.parse("channel:visit"))  # drops the first
    received(snapshots, sessions, users, scope=one)
    assert len(counted.calls) == 4


def test_a_failed_refresh_keeps_the_older_snapshot(
    sessions: sessionmaker[Session], users: Any, seeded: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    ticks, counted = Ticks(), Counted()
    snapshots = FigureSnapshots(max_age=60, clock=ticks, compute=counted)
    first = received(snapshots, sessions, users)
    ticks.now += 60
    counted.fail = True
    with caplog.at_level(logging.ERROR, logger="jianyi.figures"):
        assert received(snapshots, sessions, users) == first
        snapshots.settle(timeout=60)
    assert "refresh failed (RuntimeError)" in caplog.text and "went away" not in caplog.text
    assert received(snapshots, sessions, users) == first  # still served; tried again behind
    snapshots.settle(timeout=60)
    counted.fail = False
    received(snapshots, sessions, users)
    snapshots.settle(timeout=60)
    assert received(snapshots, sessions, users).computed_at > first.computed_at
    assert len(counted.calls) == 4


def test_the_late_units_are_shared_as_the_figures_are_and_refused_as_before(
    sessions: sessionmaker[Session], users: Any, seeded: Clock
) -> None:
    ticks = Ticks()
    snapshots = FigureSnapshots(max_age=60, clock=ticks)

    def late(who: str) -> list[tuple[str, int]]:
        with Session(bind=sessions.kw["bind"].execution_options(**{READ_ONLY: True})) as session:
            found = snapshots.late_units(session, actor=users.actors[who], now=NOW, among=CITY)
            return [(u.unit, u.overdue) for u in found]

    assert late("admin") == [("city-office", 1), ("huangpu-office", 1)]  # both triage steps are late
    assert late("huangpu") == [("huangpu-office", 1)]  # a district office: its own, a key of its own
    seeded.submit(MONDAY, who="office")
    ticks.now += 30
    assert late("admin") == [("city-office", 1), ("huangpu-office", 1)]  # within its age
    with pytest.raises(Forbidden):  # a department: refused, whatever the cache holds
        late("transport")
    ticks.now += 30
    late("admin")  # stale: served, refreshed behind
    snapshots.settle(timeout=60)
    assert late("admin") == [("city-office", 2), ("huangpu-office", 1)]
