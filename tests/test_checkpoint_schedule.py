"""When ``hoso serve`` signs checkpoints: every few minutes, and at local midnight exactly."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from domain.working_days import HCMC
from projections.checkpoint_schedule import next_checkpoint, next_local_midnight, sleep_until

FIVE_MINUTES = timedelta(seconds=300)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
          microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=HCMC)


@pytest.mark.parametrize(("now", "due"), [
    # An ordinary morning: the interval.
    (local(2026, 11, 24, 10, 0), local(2026, 11, 24, 10, 5)),
    # Two minutes before midnight: midnight, not 00:03.
    (local(2026, 11, 24, 23, 58), local(2026, 11, 25, 0, 0)),
    # Both at once.
    (local(2026, 11, 24, 23, 55), local(2026, 11, 25, 0, 0)),
    (local(2026, 11, 24, 23, 59, 59, 999999), local(2026, 11, 25, 0, 0)),
    # At midnight itself (the closing checkpoint just made): the interval again.
    (local(2026, 11, 25, 0, 0), local(2026, 11, 25, 0, 5)),
    # Across the year's end.
    (local(2026, 12, 31, 23, 57, 30), local(2027, 1, 1, 0, 0)),
    (local(2026, 12, 31, 23, 50), local(2026, 12, 31, 23, 55)),
])
def test_next_checkpoint_is_the_interval_or_local_midnight(now: datetime, due: datetime) -> None:
    got = next_checkpoint(now, FIVE_MINUTES)
    assert got == due
    assert got.utcoffset() == timedelta(hours=7)


def test_times_in_utc_are_read_in_local_time() -> None:
    # 16:58 UTC is 23:58 in Ho Chi Minh City: due at local midnight, 17:00 UTC.
    due = next_checkpoint(datetime(2026, 11, 24, 16, 58, tzinfo=UTC), FIVE_MINUTES)
    assert due == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert (due.astimezone(HCMC).date(), due.astimezone(HCMC).hour) == (
        datetime(2026, 11, 25).date(), 0)
    # 23:58 UTC is already 06:58 the next morning there: just the interval.
    assert next_checkpoint(datetime(2026, 12, 31, 23, 58, tzinfo=UTC), FIVE_MINUTES) == \
        datetime(2027, 1, 1, 0, 3, tzinfo=UTC)
    # UTC's own midnight means nothing here.
    assert next_checkpoint(datetime(2026, 12, 31, 16, 57, 30, tzinfo=UTC), FIVE_MINUTES) == \
        local(2027, 1, 1, 0, 0)


def test_a_long_interval_still_stops_at_midnight() -> None:
    assert next_checkpoint(local(2026, 11, 24, 10, 0), timedelta(days=2)) == \
        local(2026, 11, 25, 0, 0)
    assert next_local_midnight(local(2026, 2, 28, 12, 0)) == local(2026, 3, 1, 0, 0)


def test_naive_times_and_empty_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_checkpoint(datetime(2026, 11, 24, 23, 58), FIVE_MINUTES)
    with pytest.raises(ValueError, match="positive"):
        next_checkpoint(local(2026, 11, 24, 23, 58), timedelta(0))


class FakeStop(threading.Event):
    """A stop event whose waits move a fake clock on instead of sleeping."""

    def __init__(self, clock: list[datetime], early: timedelta = timedelta(0)) -> None:
        super().__init__()
        self.clock, self.early = clock, early
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        # Early only once, as a clock stepped by NTP would be.
        self.clock[0] += timedelta(seconds=timeout) - self.early
        self.early = timedelta(0)
        return self.is_set()


def test_sleep_until_wakes_at_the_time_due_even_after_an_early_wake() -> None:
    clock = [local(2026, 11, 24, 23, 58)]
    # The wait comes back 0.5 s early (monotonic clock against the wall clock): wait again.
    stop = FakeStop(clock, early=timedelta(seconds=0.5))
    due = next_checkpoint(clock[0], FIVE_MINUTES)
    assert sleep_until(due, stop, now=lambda: clock[0])
    assert clock[0] >= due
    assert clock[0] == due
    assert stop.waits == [120.0, 0.5]


def test_sleep_until_a_time_past_returns_at_once() -> None:
    clock = [local(2026, 11, 25, 0, 0, 1)]
    stop = FakeStop(clock)
    assert sleep_until(local(2026, 11, 25, 0, 0), stop, now=lambda: clock[0])
    assert stop.waits == []


def test_sleep_until_ends_promptly_on_shutdown() -> None:
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    assert not sleep_until(datetime.now(UTC) + timedelta(hours=1), stop)
    assert time.monotonic() - started < 2
