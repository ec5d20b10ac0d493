"""Real-browser tests: Debian's headless Chromium, driven by Playwright for Python, against a
real ``hoso serve`` process on SQLite.

Playwright is given Debian's ``/usr/bin/chromium`` (``HOSO_CHROMIUM`` to point elsewhere): it
never downloads a browser of its own. ``make test`` installs Chromium and ``zbarimg`` (which
decodes the receipt's QR code) when they are missing. Without them the tests skip with the
reason — except under ``CI=true``, where that is a failure, as for PostgreSQL.

Screenshots go to ``var/test-artifacts/browser/`` on every run; with
``HOSO_UPDATE_SCREENSHOTS=1`` (``make screenshots``) the ones the README shows are copied to
``docs/screenshots/`` as well.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from domain.application import HosoApplication
from projections.key_vault import open_key_vault
from projections.migrate import migrate
from projections.receipt_key import new_receipt_key
from projections.store import Store
from tests.browser.support import (
    CHROMIUM_FLAGS,
    DESKTOP,
    PASSWORD,
    STAFF,
    Site,
    chromium_path,
    official_forms,
)
from tests.conftest import _free_port
from tests.helpers import ensure_signing_key, receive, url_of, walk_to_delivered_by_post
from tests.reliability.test_crash_mid_write import Server
from web.accounts import open_accounts

# Generous: under `make test` two workers share two cores with these pages.
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session", autouse=True)
def _chromium_is_there() -> None:
    # Before any server is started for nothing.
    chromium_path()


# The server and the browser live for one test file: the rest of the suite, run by the same
# worker afterwards, meets neither (nor Playwright's event loop).
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser-site")
    store = Store.from_url(f"sqlite:///{tmp / 'hoso.sqlite3'}")
    migrate(store)
    # The served app unlocks gd.stp's key from the same vault table, with the same passphrase.
    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    accounts = open_accounts(store)
    try:
        for user in STAFF:
            accounts.set_password(user, PASSWORD)
        ensure_signing_key(app)
        received = app.dossier(receive(app).dossier_id)
        delivered = []
        for _ in range(2):
            dossier_id = receive(app).dossier_id
            walk_to_delivered_by_post(app, dossier_id)
            delivered.append(app.dossier(dossier_id))
        forms = official_forms(app, received.id)
    finally:
        accounts.close()
        app.close()
        vault.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    env |= {"HOSO_DATABASE_URL": url_of(store), "PYTHONUNBUFFERED": "1",
            # The receipt's QR code must open this server, so the test can follow it.
            "HOSO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            # Every test opens public pages from 127.0.0.1: no per-address limit here.
            "HOSO_PUBLIC_RATE_LIMIT": "0",
            # The agency's key for the promise in the receipt's QR code, on either store.
            "HOSO_RECEIPT_SIGNING_KEY": new_receipt_key()}
    server = Server(env, port, tmp / "serve.log")
    server.start()
    try:
        built = Site(server.base, received.code, received.tracking_token,
                     delivered[0].tracking_token, delivered[1].tracking_token, forms)
        # The server's own follower fills the read models just after it starts.
        _wait_for(lambda: all(httpx2.get(built.public(token), timeout=5).status_code == 200
                              for token in (built.received_token,
                                            built.delivered_for_rating_token)),
                  "the public pages of the dossiers made beforehand")
        yield built
    finally:
        server.stop()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()  # skips (or fails under CI) before starting the driver
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS,
                                          headless=True)
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser profiles (no cookies, no storage), closed after the test."""
    opened: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(**({"viewport": DESKTOP, "locale": "vi-VN",
                                          "timezone_id": "Asia/Ho_Chi_Minh"} | options))
        context.set_default_timeout(TIMEOUT_MS)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture
def citizen(new_context: Callable[..., BrowserContext]) -> Page:
    """An anonymous visitor: nobody has signed in in this profile."""
    return new_context().new_page()


@pytest.fixture
def signed_in(site: Site, new_context: Callable[..., BrowserContext]) -> Callable[[str], Page]:
    """A member of staff signed in through the sign-in form, in a profile of their own."""

    def sign_in(user: str) -> Page:
        page = new_context().new_page()
        page.goto(f"{site.base}/signin")
        page.get_by_label("Tên đăng nhập").fill(user)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(lambda url: "/signin" not in url)
        expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
        return page

    return sign_in
