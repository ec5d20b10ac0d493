"""Server-side sessions, anti-forgery tokens and sign-in limits, through the test client."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from projections.store import Store
from tests.conftest import PUBLIC_URL
from tests.helpers import transfers
from tests.test_web import PASSWORD, receive_via_web, version_of
from tests.web_helpers import adopt_csrf_token, sign_in_as
from web.sessions import ABSOLUTE, IDLE, PLAIN_COOKIE, SECURE_COOKIE, open_sessions
from web.signin import SIGN_IN_FAILURES_PER_ACCOUNT


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp", HOSO_PUBLIC_RATE_LIMIT="3/60", **PUBLIC_URL)


def test_sign_in_rotates_the_id_and_sign_out_ends_the_session(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    first = web.cookies[PLAIN_COOKIE]
    # Signing in again in the same browser (the old cookie sent along) gives a new id …
    again = web.post("/signin", data={"username": "tiepnhan", "password": PASSWORD})
    second = web.cookies[PLAIN_COOKIE]
    adopt_csrf_token(web, again.text)  # a new session, a new anti-forgery token
    assert second != first
    stale = TestClient(web.app, cookies={PLAIN_COOKIE: first})
    assert stale.get("/queue", follow_redirects=False).status_code == 303  # … the old one ended
    assert TestClient(web.app, cookies={PLAIN_COOKIE: second}).get("/queue").status_code == 200
    # Signing out ends it on the server: a copy of the cookie opens nothing afterwards.
    assert web.post("/signout", follow_redirects=False).status_code == 303
    copy = TestClient(web.app, cookies={PLAIN_COOKIE: second})
    response = copy.get("/queue", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_cookie_attributes(web: TestClient, store: Store) -> None:
    secure = TestClient(web.app, base_url="https://testserver")
    response = secure.post("/signin", data={"username": "tiepnhan", "password": PASSWORD},
                           follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE}=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert attributes == {"path", "httponly", "samesite", "secure"}  # no Domain: __Host-
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert len(session_id) >= 43  # 256 bits
    plain = web.post("/signin", data={"username": "tiepnhan", "password": PASSWORD},
                     follow_redirects=False).headers["set-cookie"]
    assert plain.startswith(f"{PLAIN_COOKIE}=") and "Secure" not in plain
    # The server keeps a digest of the id, never the id.
    sessions = open_sessions(store)
    try:
        rows = sessions._select("SELECT session_hash FROM {p}staff_session")
        hashes = {r["session_hash"] for r in rows}
        assert hashlib.sha256(session_id.encode()).hexdigest() in hashes
        assert session_id not in hashes
    finally:
        sessions.close()


def test_idle_and_absolute_expiry(web: TestClient, store: Store) -> None:
    sessions = open_sessions(store)
    try:
        now = datetime.now(UTC)
        idle = sessions.create({"user": {"id": "tiepnhan"}}, now, "127.0.0.1")
        assert sessions.load(idle, now + IDLE / 2) is not None
        assert sessions.load(idle, now + IDLE * 2) is None
        assert sessions.load(idle, now) is None  # ended for good, not only judged expired
        busy = sessions.create({"user": {"id": "tiepnhan"}}, now, "127.0.0.1")
        moment = now
        while moment - now < ABSOLUTE - IDLE:
            moment += IDLE / 2
            sessions.touch(busy, moment)
            assert sessions.load(busy, moment) is not None
        assert sessions.load(busy, now + ABSOLUTE) is None  # however busy
        ended = sessions._select("SELECT end_reason FROM {p}staff_session ORDER BY created_at")
        assert {r["end_reason"] for r in ended} == {"expired: idle", "expired: absolute"}
    finally:
        sessions.close()


def test_state_changing_requests_need_the_sessions_token(web: TestClient,
                                                        app: HosoApplication) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    dossier_id, _ = receive_via_web(web)
    token = web.headers.pop("X-CSRF-Token")
    form = {"version": version_of(web, dossier_id), "to_unit": "STP-HCTP"}
    for refused in (web.post(f"/dossiers/{dossier_id}/transfer", data=form),
                    web.post(f"/dossiers/{dossier_id}/transfer",
                             data=form | {"csrf_token": "forged"}),
                    web.post(f"/dossiers/{dossier_id}/transfer", data=form,
                             headers={"X-CSRF-Token": "forged"})):
        assert refused.status_code == 403
        assert "Biểu mẫu đã cũ" in refused.text
    assert transfers(app, UUID(dossier_id)) == 0
    # The page's own form carries the token in a hidden field: a plain post works.
    page = web.get(f"/dossiers/{dossier_id}").text
    hidden = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert hidden and hidden.group(1) == token
    accepted = web.post(f"/dossiers/{dossier_id}/transfer",
                        data=form | {"csrf_token": token})
    assert accepted.status_code == 200
    assert transfers(app, UUID(dossier_id)) == 1


def test_requests_sent_by_another_site_are_refused(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"},
                    # A sandboxed frame or a data: page elsewhere also sends Origin: null.
                    {"Origin": "null"}, {"Origin": "null", "Sec-Fetch-Site": "cross-site"}):
        response = web.post("/signout", headers=headers)
        assert response.status_code == 403, headers
        assert "không gửi từ trang của hoso" in response.text
    assert web.get("/queue", follow_redirects=False).status_code == 200  # still signed in


def test_a_browsers_own_form_is_accepted_although_its_origin_is_null(
        web: TestClient) -> None:
    # What Chromium sends with a form on a page served with `Referrer-Policy: no-referrer`.
    browser = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    signed_in = web.post("/signin", data={"username": "tiepnhan", "password": PASSWORD},
                         headers=browser, follow_redirects=False)
    assert signed_in.status_code == 303
    assert web.get("/queue", follow_redirects=False).status_code == 200


def test_sign_in_is_limited_per_account_and_every_attempt_recorded(web: TestClient,
                                                                  store: Store) -> None:
    for _ in range(SIGN_IN_FAILURES_PER_ACCOUNT):
        wrong = web.post("/signin", data={"username": "tiepnhan", "password": "doan-mo"})
        assert wrong.status_code == 401
    # Now even the right password waits: guessing has to stop.
    limited = web.post("/signin", data={"username": "tiepnhan", "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Đăng nhập sai quá nhiều lần" in limited.text
    # Another account from the same address is not locked out by it.
    assert web.post("/signin", data={"username": "hctp", "password": PASSWORD},
                    follow_redirects=False).status_code == 303
    sessions = open_sessions(store)
    try:
        outcomes = [(a["user_id"], a["outcome"]) for a in reversed(sessions.attempts())]
    finally:
        sessions.close()
    assert outcomes == ([("tiepnhan", "wrong user name or password")]
                        * SIGN_IN_FAILURES_PER_ACCOUNT
                        + [("tiepnhan", "refused: too many failures"), ("hctp", "signed in")])


def test_public_lookups_are_limited_per_client(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    _, link = receive_via_web(web)
    citizen = TestClient(web.app)
    path = link.replace("https://hoso.example.vn", "")
    statuses = [citizen.get(p).status_code for p in (path, "/t/AAAAAAAAAAAAAAAAAAAAAA", path)]
    assert statuses == [200, 404, 200]
    limited = citizen.get(path)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Bạn tra cứu quá nhiều lần" in limited.text
    assert limited.headers["cache-control"] == "no-store"
