"""Issue 17, item 11: ``X-Forwarded-For`` is believed only from proxies named in
``HOSO_TRUSTED_PROXIES`` (none by default), on both stores.

The app is assembled as ``hoso serve`` hands it to uvicorn: the command runs with uvicorn's
``run`` replaced by a recorder, and uvicorn's own ``Config`` wraps the app with exactly the
settings the command gave (uvicorn's proxy middleware included, had it been left on). Only
the sockets are left out; the test client plays the peer's address.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import uvicorn
from starlette.testclient import TestClient

from cli import main
from domain.application import HosoApplication
from projections.store import Dialect, Store
from tests.web_helpers import PASSWORD
from web.accounts import StaffAccounts
from web.app import create_app
from web.proxies import ProxySettingError, parse_trusted_proxies
from web.sessions import open_sessions
from web.signin import SIGN_IN_FAILURES_PER_ADDRESS

PROXY = "127.0.0.1"  # a reverse proxy on the same machine, uvicorn's trusted default


def serve_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """What ``hoso serve`` passes to uvicorn with these settings."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: given.update(kwargs))
    main(["serve"])
    return given


@pytest.fixture
def served(store: Store, app: HosoApplication, accounts: StaffAccounts,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., TestClient]]:
    """``served(peer, HOSO_X=...)``: the app as ``hoso serve`` runs it, reached from
    ``peer``; a second call gives another peer on the same app."""
    accounts.set_password("tiepnhan", PASSWORD)
    with ExitStack() as running:
        loaded: list[Any] = []

        def start(peer: str, **env: str) -> TestClient:
            if not loaded:
                given = serve_settings(monkeypatch, **env)
                config = uvicorn.Config(
                    create_app(store, app, accounts), log_config=None,
                    proxy_headers=given.get("proxy_headers", True),
                    forwarded_allow_ips=given.get("forwarded_allow_ips"))
                config.load()
                loaded.append(config.loaded_app)
                return running.enter_context(TestClient(loaded[0], client=(peer, 40000)))
            return TestClient(loaded[0], client=(peer, 40001))  # the app is already started

        yield start


def guess_tokens(client: TestClient, guesses: int, forwarded: Callable[[int], str]) -> Counter[int]:
    return Counter(
        client.get(f"/t/{secrets.token_urlsafe(16)}",
                   headers={"X-Forwarded-For": forwarded(i)}).status_code
        for i in range(guesses))


def rotating(i: int) -> str:
    return f"198.51.{i // 250}.{i % 250 + 1}"


def test_by_default_2000_token_guesses_with_a_rotating_forwarded_address_meet_the_limit(
        served: Callable[..., TestClient], store: Store) -> None:
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("the lookup limit is kept in the web process's memory: one store shows it")
    # 60 lookups as by default, in an hour rather than a minute: on a loaded machine 2,000
    # requests may take longer than a minute, and the window would open again.
    client = served(PROXY, HOSO_PUBLIC_RATE_LIMIT="60/3600")
    assert guess_tokens(client, 2000, rotating) == {404: 60, 429: 1940}


def test_by_default_an_address_locked_out_of_sign_in_stays_locked_out_whatever_it_forwards(
        served: Callable[..., TestClient], store: Store) -> None:
    client = served(PROXY)
    for i in range(SIGN_IN_FAILURES_PER_ADDRESS):  # another account each time: the address
        wrong = client.post("/signin", data={"username": f"khach{i}", "password": "doan"},
                            headers={"X-Forwarded-For": rotating(i)})
        assert wrong.status_code == 401
    right = client.post("/signin", data={"username": "tiepnhan", "password": PASSWORD},
                        headers={"X-Forwarded-For": "203.0.113.77"}, follow_redirects=False)
    assert right.status_code == 429
    assert "Đăng nhập sai quá nhiều lần" in right.text
    sessions = open_sessions(store)
    try:
        assert {a["address"] for a in sessions.attempts()} == {PROXY}
    finally:
        sessions.close()


def test_a_named_proxy_is_believed_and_any_other_peer_is_not(
        served: Callable[..., TestClient], store: Store) -> None:
    through_proxy = served(PROXY, HOSO_TRUSTED_PROXIES=f"{PROXY}, 10.9.0.0/16",
                           HOSO_PUBLIC_RATE_LIMIT="3/60")
    # Clients behind the proxy are told apart: each has its own limit.
    assert guess_tokens(through_proxy, 4, lambda i: "203.0.113.1") == {404: 3, 429: 1}
    assert guess_tokens(through_proxy, 3, lambda i: "203.0.113.2") == {404: 3}
    # Another peer naming addresses of its choosing is counted as itself.
    direct = served("192.0.2.50")
    assert guess_tokens(direct, 10, rotating) == {404: 3, 429: 7}
    # Sign-in: the forwarded client is the one locked out, and stays locked out.
    for i in range(SIGN_IN_FAILURES_PER_ADDRESS):
        through_proxy.post("/signin", data={"username": f"khach{i}", "password": "doan"},
                           headers={"X-Forwarded-For": "203.0.113.9"})
    locked = through_proxy.post("/signin", data={"username": "tiepnhan", "password": PASSWORD},
                                headers={"X-Forwarded-For": "203.0.113.9"})
    assert locked.status_code == 429
    other = through_proxy.post("/signin", data={"username": "tiepnhan", "password": PASSWORD},
                               headers={"X-Forwarded-For": "203.0.113.10"},
                               follow_redirects=False)
    assert other.status_code == 303
    sessions = open_sessions(store)
    try:
        assert sessions.attempts(1)[0]["address"] == "203.0.113.10"
    finally:
        sessions.close()


@pytest.mark.parametrize("setting", ["*", "localhost", "127.0.0.1, proxy.internal"])
def test_a_setting_naming_no_address_is_refused_at_start(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], setting: str,
        tmp_path: Any) -> None:
    monkeypatch.setenv("HOSO_DATABASE_URL", f"sqlite:///{tmp_path / 'hoso.sqlite3'}")
    with pytest.raises(SystemExit) as stopped:
        serve_settings(monkeypatch, HOSO_TRUSTED_PROXIES=setting)
    assert "HOSO_TRUSTED_PROXIES" in str(stopped.value)
    with pytest.raises(ProxySettingError):
        parse_trusted_proxies(setting)


def test_addresses_and_networks_are_accepted() -> None:
    assert parse_trusted_proxies("") == []
    assert parse_trusted_proxies("127.0.0.1, ::1 10.0.0.0/8") == ["127.0.0.1", "::1",
                                                                 "10.0.0.0/8"]
