"""The executor's bookkeeping and the orderings it keeps (plain objects, a clock the test moves)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from jianyi.executor.bookkeeping import (
    CLAIMED_ELSEWHERE_SECONDS,
    LONGEST_BACKOFF_SECONDS,
    REMEMBER_ENDS_SECONDS,
    Bookkeeping,
)
from jianyi.executor.intake_burst import SAMPLE_SECONDS, IntakeBurst
from jianyi.executor.store import Claim, Wake


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def attempt(loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
    return loop.create_task(asyncio.sleep(0))


def wake(run: str) -> Wake:
    return Wake(suggestion_id=int(run.removeprefix("r")), flow_run_id=run)


def claim(run: str, second: int = 0) -> Claim:
    return Claim(run, "梳理研判 triage", datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC))


def runs(wakes: list[Wake]) -> list[str]:
    return [w.flow_run_id for w in wakes]


def test_a_run_with_an_attempt_under_way_is_not_due(loop: asyncio.AbstractEventLoop) -> None:
    books = Bookkeeping(clock=Clock())
    books.launched("r1", attempt(loop))
    assert runs(books.due([wake("r1"), wake("r2")], read_at=100.0)) == ["r2"]
    assert books.free(4) == 3 and books.free(1) == 0
    loop.run_until_complete(asyncio.gather(*books.running.values()))


def test_an_attempt_that_ended_after_the_read_began_has_applied_what_was_read() -> None:
    """A wake read after ``read_at`` may have been read before that attempt's commit: the step it
    shows as submitted was applied by the attempt. A wake of a run whose attempt ended before the
    read began is a step submitted since, and is due."""
    clock = Clock()
    books = Bookkeeping(clock=clock)
    clock.now = 100.0
    books.ended("r1", None)  # before the read began
    clock.now = 100.5
    books.ended("r2", None)  # while the wakes were being read
    assert runs(books.due([wake("r1"), wake("r2")], read_at=100.2)) == ["r1"]
    assert runs(books.due([wake("r1"), wake("r2")], read_at=100.6)) == ["r1", "r2"]  # the next read


def test_an_ended_attempt_is_no_longer_running_and_its_end_is_forgotten_in_time(
    loop: asyncio.AbstractEventLoop,
) -> None:
    clock = Clock()
    books = Bookkeeping(clock=clock)
    books.launched("r1", attempt(loop))
    books.ended("r1", None)
    assert not books.is_running("r1") and books.free(1) == 1
    books.due([], read_at=clock.now + REMEMBER_ENDS_SECONDS)
    assert books._ended_at == {}  # a months-long executor keeps no map per run
    loop.run_until_complete(asyncio.sleep(0))


def test_a_run_claimed_elsewhere_waits_then_is_due_again() -> None:
    clock = Clock()
    books = Bookkeeping(clock=clock)
    books.claimed_elsewhere("r1")
    assert books.due([wake("r1")], read_at=clock.now) == []
    assert runs(books.due([wake("r1")], read_at=clock.now + CLAIMED_ELSEWHERE_SECONDS)) == ["r1"]


def test_a_run_that_will_not_resume_backs_off_doubling_up_to_the_longest() -> None:
    clock = Clock()
    books = Bookkeeping(clock=clock)
    waits = [books.not_resumable("r1") for _ in range(10)]
    assert waits[:4] == [0.25, 0.5, 1.0, 2.0] and waits[-1] == LONGEST_BACKOFF_SECONDS
    assert books.due([wake("r1"), wake("r2")], read_at=clock.now + 29.0) == [wake("r2")]
    assert runs(books.due([wake("r1")], read_at=clock.now + LONGEST_BACKOFF_SECONDS)) == ["r1"]
    books.resumed("r1")  # accepted Running, or re-scheduled: starts over
    assert books.not_resumable("r1") == 0.25


def test_backing_off_is_forgotten_once_the_run_has_nothing_submitted() -> None:
    clock = Clock()
    books = Bookkeeping(clock=clock)
    books.not_resumable("r1")
    books.not_resumable("r1")
    books.due([wake("r2")], read_at=clock.now)  # r1 is no longer waiting
    assert books.not_resumable("r1") == 0.25


def test_claims_of_ended_attempts_are_released_together_and_kept_when_that_fails() -> None:
    books = Bookkeeping(clock=Clock())
    books.ended("r1", claim("r1"))
    books.ended("r2", None)  # no claim was taken (another executor held the run)
    books.ended("r3", claim("r3"))
    assert books.release_due.is_set()
    batch = books.take_releases()
    assert batch == [claim("r1"), claim("r3")] and not books.release_due.is_set()
    books.ended("r1", claim("r1", second=5))  # the next attempt of r1 ended meanwhile
    books.release_failed(batch)  # a locked database: they go first next time
    assert books.take_releases() == [claim("r1"), claim("r3"), claim("r1", second=5)]
    assert books.take_releases() == []


def test_intake_in_a_burst_defers_starts_and_a_failed_reading_defers_nothing() -> None:
    books = Bookkeeping(IntakeBurst(per_second=20, longest=10), clock=Clock())
    deferred = [books.sample_intake(100 + 50 * n, n * SAMPLE_SECONDS * 4) for n in range(4)]
    assert deferred[-1] and books.defers_starts
    books.intake_unknown()
    assert not books.defers_starts


def test_without_an_intake_threshold_nothing_is_deferred() -> None:
    books = Bookkeeping(None, clock=Clock())
    assert not books.sample_intake(10_000, 1.0)
