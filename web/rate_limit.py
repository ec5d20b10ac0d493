"""Per-client limits on lookups of the public status page (a page per dossier invites
enumeration: 128-bit tokens make guessing hopeless, the limit makes scraping slow and loud),
and per-key limits on partners' API calls (a partner's runaway retry loop must not take the
counter's share of the database).

Counted in the memory of each web process: with N workers a client gets up to N times the
limit, which is still a limit. Sign-in is limited from the database instead
(``web/sessions.py``: every attempt is recorded there anyway, and all workers share it).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable

DEFAULT_PUBLIC_LIMIT = "60/60"  # lookups / seconds, per client address
DEFAULT_API_LIMIT = "600/60"  # calls / seconds, per partner key


class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, int]:
        """Whether one more event is allowed now, and the seconds until the next would be."""
        if self.limit <= 0:
            return True, 0
        now = self.clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._forget_idle(now)
                events = self._events[key] = deque()
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False, max(1, int(events[0] + self.window - now + 0.999))
            events.append(now)
            return True, 0

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, e in self._events.items() if not e or e[-1] <= now - self.window]
        for key in idle or list(self._events)[: self.max_keys // 10]:
            del self._events[key]


def public_limit_from_environment() -> SlidingWindow:
    """HOSO_PUBLIC_RATE_LIMIT: "count/seconds" (default 60/60); "0" turns it off."""
    return _limit_from_environment("HOSO_PUBLIC_RATE_LIMIT", DEFAULT_PUBLIC_LIMIT)


def api_limit_from_environment() -> SlidingWindow:
    """HOSO_API_RATE_LIMIT: "count/seconds" per partner key (default 600/60); "0" turns it
    off."""
    return _limit_from_environment("HOSO_API_RATE_LIMIT", DEFAULT_API_LIMIT)


def _limit_from_environment(name: str, default: str) -> SlidingWindow:
    text = os.environ.get(name, default).strip()
    if text in ("", "0"):
        return SlidingWindow(0, 1)
    count, _, seconds = text.partition("/")
    return SlidingWindow(int(count), float(seconds or 60))
