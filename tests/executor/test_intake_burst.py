"""When the executor defers run starts for intake: the rate read from the newest id, and the bounds."""

from __future__ import annotations

from jianyi.executor.intake_burst import SAMPLE_SECONDS, IntakeBurst


def feed(burst: IntakeBurst, start: float, seconds: float, per_second: float, first_id: int) -> list[bool]:
    """Sample every SAMPLE_SECONDS for ``seconds`` while suggestions arrive at ``per_second``."""
    defers = []
    steps = round(seconds / SAMPLE_SECONDS)
    for n in range(1, steps + 1):
        now = start + n * SAMPLE_SECONDS
        defers.append(burst.defers_starts(first_id + int(per_second * n * SAMPLE_SECONDS), now))
    return defers


def test_a_desk_typing_suggestions_in_is_not_a_burst() -> None:
    burst = IntakeBurst(per_second=20, longest=10)
    assert not any(feed(burst, 0.0, 30, per_second=3, first_id=100))


def test_a_burst_defers_starts_within_half_a_second_and_lets_go_when_it_ends() -> None:
    burst = IntakeBurst(per_second=20, longest=10)
    assert not any(feed(burst, 0.0, 5, per_second=0, first_id=100))  # quiet
    during = feed(burst, 5.0, 4, per_second=50, first_id=100)
    assert during[:2] == [False, True]  # seen at the second sample (0.5 s in)
    assert all(during[1:])
    after = feed(burst, 9.0, 3, per_second=0, first_id=300)
    assert after[0] is True  # the last second still counts the burst's arrivals
    assert not any(after[-6:])  # a second and a half later: starts resume


def test_a_lull_within_a_burst_keeps_deferring() -> None:
    """Requests arrive in clumps: deferring ends only once the rate is below half the threshold."""
    burst = IntakeBurst(per_second=20, longest=10)
    feed(burst, 0.0, 2, per_second=0, first_id=1)
    assert feed(burst, 2.0, 2, per_second=50, first_id=1)[-1]
    assert all(feed(burst, 4.0, 2, per_second=15, first_id=101)[4:])  # 15/s: still deferred
    assert not feed(burst, 6.0, 2, per_second=5, first_id=131)[-1]


def test_a_flood_defers_starts_at_most_the_longest_then_starts_as_long() -> None:
    burst = IntakeBurst(per_second=20, longest=2)
    defers = feed(burst, 0.0, 10, per_second=50, first_id=1)
    samples_per_longest = round(2 / SAMPLE_SECONDS)
    first = defers.index(True)
    deferred = defers[first:].index(False)
    assert deferred == samples_per_longest
    released = defers[first + deferred :].index(True)
    assert released == samples_per_longest  # not deferred again for as long


def test_zero_never_defers() -> None:
    burst = IntakeBurst(per_second=0, longest=10)
    assert not any(feed(burst, 0.0, 5, per_second=500, first_id=1))


def test_an_empty_database_is_no_burst() -> None:
    burst = IntakeBurst(per_second=20, longest=10)
    assert not burst.defers_starts(None, 0.0)
    assert not burst.defers_starts(None, 1.0)
    assert burst.rate() == 0.0
