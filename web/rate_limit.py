"""Per-client limits on lookups of the public status page (a page per dossier invites
enumeration: 128-bit tokens make guessing hopeless, the limit makes scraping slow and loud),
and per-key limits on partners' API calls (a partner's runaway retry loop must not take the
counter's share of the database).

Counted by the ``limits`` library (moving window) in the storage ``HOSO_RATE_LIMIT_STORAGE``
names: ``memory://`` (the default) counts in each web process, so N workers would allow N
times the limit; ``redis://host:port/db`` counts once for every process that names the same
Redis. If that storage stops answering, the process counts in its own memory until it answers
again (a limit that fails open would invite exactly the scraping it is there to stop, and one
that fails closed would shut citizens out for a cache). Sign-in is limited from the database
instead (``web/sessions.py``: every attempt is recorded there anyway, and all workers share it).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from config.settings import Settings

DEFAULT_STORAGE = "memory://"
STORAGE_ENV = "HOSO_RATE_LIMIT_STORAGE"

log = logging.getLogger("hoso.rate_limit")


class RateLimitSettingError(ValueError):
    """A limit or a storage setting that cannot be understood: stops the server at start."""


@dataclass
class RateLimit:
    """At most ``item`` events per window for each key, counted in a shared storage."""

    item: RateLimitItem | None  # None: no limit
    namespace: str
    limiter: MovingWindowRateLimiter
    fallback: MovingWindowRateLimiter
    _storage_failing_since: float | None = None

    def allow(self, key: str) -> tuple[bool, int]:
        """Whether one more event is allowed now, and the seconds until the next would be."""
        if self.item is None:
            return True, 0
        try:
            allowed = self._allow(self.limiter, key)
        except Exception as error:  # the shared storage is away: count here meanwhile
            if self._storage_failing_since is None:
                self._storage_failing_since = time.monotonic()
                log.warning("rate-limit storage unavailable (%s); counting in this process "
                            "until it answers", type(error).__name__)
            return self._allow(self.fallback, key)
        if self._storage_failing_since is not None:
            self._storage_failing_since = None
            log.warning("rate-limit storage answers again")
        return allowed

    def _allow(self, limiter: MovingWindowRateLimiter, key: str) -> tuple[bool, int]:
        assert self.item is not None
        if limiter.hit(self.item, self.namespace, key):
            return True, 0
        reset_at, _remaining = limiter.get_window_stats(self.item, self.namespace, key)
        return False, max(1, math.ceil(reset_at - time.time()))


def storage_from_setting(text: str) -> Storage:
    uri = text.strip()
    try:
        storage = storage_from_string(uri or DEFAULT_STORAGE)
    except ConfigurationError as error:
        raise RateLimitSettingError(
            f"{STORAGE_ENV}={uri!r} is not a rate-limit storage (memory:// or "
            f"redis://host:port/db): {error}") from None
    if not isinstance(storage, Storage):  # an async+ storage: hoso's handlers are synchronous
        raise RateLimitSettingError(f"{STORAGE_ENV}={uri!r}: use a synchronous storage")
    return storage


def rate_limit(setting: str, namespace: str, storage: Storage, prefix: str = "hoso") -> RateLimit:
    """A limit from its setting, "count/seconds" (e.g. "60/60"); "0" or "" means none.
    ``prefix`` (HOSO_RATE_LIMIT_NAMESPACE) keeps deployments sharing one Redis apart."""
    text = setting.strip()
    item: RateLimitItem | None = None
    if text not in ("", "0"):
        count, _, seconds = text.partition("/")
        try:
            item = RateLimitItemPerSecond(int(count), int(float(seconds or 60)))
        except ValueError:
            raise RateLimitSettingError(
                f"{text!r} is not a rate limit: write count/seconds, e.g. 60/60") from None
    return RateLimit(item=item, namespace=f"{prefix or 'hoso'}-{namespace}",
                     limiter=MovingWindowRateLimiter(storage),
                     fallback=MovingWindowRateLimiter(MemoryStorage()))


def public_limit(settings: Settings, storage: Storage) -> RateLimit:
    """HOSO_PUBLIC_RATE_LIMIT: "count/seconds" per client address (default 60/60); "0" turns
    it off."""
    return rate_limit(settings.public_rate_limit, "public", storage,
                      settings.rate_limit_namespace)


def api_limit(settings: Settings, storage: Storage) -> RateLimit:
    """HOSO_API_RATE_LIMIT: "count/seconds" per partner key (default 600/60); "0" turns it
    off."""
    return rate_limit(settings.api_rate_limit, "api", storage, settings.rate_limit_namespace)
