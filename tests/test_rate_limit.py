"""Rate limits counted by the ``limits`` library: in one process's memory by default, or once
for every web process in a shared Redis (``HOSO_RATE_LIMIT_STORAGE``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from uuid import uuid4

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from projections.store import Store
from web.accounts import StaffAccounts
from web.app import create_app
from web.rate_limit import RateLimit, RateLimitSettingError, rate_limit, storage_from_setting

REDIS = "redis://127.0.0.1:6379/0"


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    if not _redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not running at 127.0.0.1:6379")
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    return REDIS


@pytest.fixture
def namespace(monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test counts apart, even beside other runs sharing the same Redis."""
    name = f"test-{uuid4().hex[:12]}"
    monkeypatch.setenv("HOSO_RATE_LIMIT_NAMESPACE", name)
    return name


def allowed_of(limits: list[RateLimit], key: str, attempts: int) -> int:
    """How many of ``attempts`` lookups, spread over the limits in turn, were let through."""
    return sum(limits[i % len(limits)].allow(key)[0] for i in range(attempts))


def test_a_limit_lets_through_its_count_then_says_when_to_come_back(namespace: str) -> None:
    limit = rate_limit("3/60", "public", storage_from_setting("memory://"))
    assert [limit.allow("203.0.113.7")[0] for _ in range(3)] == [True, True, True]
    allowed, retry_after = limit.allow("203.0.113.7")
    assert not allowed and 1 <= retry_after <= 60
    assert limit.allow("198.51.100.1") == (True, 0)  # another client counts apart


def test_zero_means_no_limit(namespace: str) -> None:
    limit = rate_limit("0", "public", storage_from_setting("memory://"))
    assert allowed_of([limit], "203.0.113.7", 500) == 500


def test_processes_counting_in_memory_each_allow_the_whole_limit(namespace: str) -> None:
    """The reason for a shared storage: two workers in memory let twice the limit through."""
    workers = [rate_limit("5/60", "public", storage_from_setting("memory://")) for _ in range(2)]
    assert allowed_of(workers, "203.0.113.7", 20) == 10


def test_processes_sharing_redis_allow_the_limit_once(redis_url: str, namespace: str) -> None:
    workers = [rate_limit("5/60", "public", storage_from_setting(redis_url)) for _ in range(3)]
    assert allowed_of(workers, "203.0.113.7", 20) == 5
    assert workers[2].allow("203.0.113.7")[1] >= 1


def test_a_storage_that_stops_answering_is_replaced_by_this_process_count(
        namespace: str, caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens on port 1: the limit still holds, counted here, and it is logged once."""
    limit = rate_limit("4/60", "public", storage_from_setting("redis://127.0.0.1:1/0"))
    assert allowed_of([limit], "203.0.113.7", 10) == 4
    warnings = [r for r in caplog.records if "rate-limit storage unavailable" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize("setting", ["sixty", "60/minute", "/60"])
def test_an_unreadable_limit_is_refused_with_its_setting_named(setting: str) -> None:
    with pytest.raises(RateLimitSettingError, match="count/seconds"):
        rate_limit(setting, "public", storage_from_setting("memory://"))


def test_an_unknown_storage_is_refused_with_its_setting_named() -> None:
    with pytest.raises(RateLimitSettingError, match="HOSO_RATE_LIMIT_STORAGE"):
        storage_from_setting("carrier-pigeon://loft")


def test_two_web_processes_on_one_redis_share_the_public_page_limit(
        serve: Callable[..., TestClient], store: Store, app: HosoApplication,
        accounts: StaffAccounts, redis_url: str, namespace: str) -> None:
    """Two app instances over one store, as two workers are (the second does not follow the
    log): lookups spread across them meet one limit of 3, and the next gets the 429 page."""
    first = serve(HOSO_RATE_LIMIT_STORAGE=redis_url, HOSO_PUBLIC_RATE_LIMIT="3/60")
    with TestClient(create_app(store, app, accounts, follow=False)) as second:
        answers = [client.get("/t/AAAAAAAAAAAAAAAAAAAAAA").status_code
                   for client in (first, second, first, second)]
        assert answers == [404, 404, 404, 429]
        refused = second.get("/t/AAAAAAAAAAAAAAAAAAAAAA")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "quá nhiều lần" in refused.text
