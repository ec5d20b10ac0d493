"""When the follower (``hoso project``, or ``hoso serve`` following in-process) signs the next
checkpoint: within a few minutes, and at local midnight.

A checkpoint is due at the earlier of ``now + interval`` and the next midnight in
Asia/Ho_Chi_Minh, so the signer wakes at 00:00 local time exactly — not up to an interval
later — and the checkpoint made then closes the day (made only if the log grew; otherwise the
last one already covers the day). ``sleep_until`` waits on a ``threading.Event`` so shutdown
is prompt, and waits again if it woke before the wall clock reached the time due.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo

from domain.working_days import HCMC

log = logging.getLogger(__name__)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a checkpoint schedule needs a time-zone-aware datetime")
    return moment


def next_local_midnight(now: datetime, tz: tzinfo = HCMC) -> datetime:
    """The first 00:00 in ``tz`` strictly after ``now``."""
    tomorrow = _aware(now).astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=tz)


def next_checkpoint(now: datetime, interval: timedelta, tz: tzinfo = HCMC) -> datetime:
    """When the next checkpoint is due: ``now + interval`` or the next local midnight,
    whichever comes first (in ``tz``)."""
    if interval <= timedelta(0):
        raise ValueError(f"the checkpoint interval must be positive, got {interval}")
    return min(_aware(now) + interval, next_local_midnight(now, tz)).astimezone(tz)


def utc_now() -> datetime:
    return datetime.now(UTC)


def sleep_until(due: datetime, stop: threading.Event,
                now: Callable[[], datetime] = utc_now) -> bool:
    """Wait until the wall clock reaches ``due``; False as soon as ``stop`` is set."""
    _aware(due)
    while (left := (due - now()).total_seconds()) > 0:
        # The wait runs on the monotonic clock and may end a hair early: look again.
        if stop.wait(left):
            return False
    return not stop.is_set()


class CheckpointSigner:
    """A thread that calls ``make`` (sign a checkpoint if the log grew) on the schedule above
    until stopped; a failed round is logged and the next one tries again."""

    def __init__(self, make: Callable[[], object], interval: timedelta) -> None:
        self.make = make
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hoso-checkpoints")

    def _run(self) -> None:
        while sleep_until(next_checkpoint(utc_now(), self.interval), self._stop):
            try:
                self.make()
            except Exception:  # the next round tries again; following goes on
                log.exception("could not make a checkpoint")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
