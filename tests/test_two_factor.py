"""The optional second factor: RFC 6238 codes, stored steps, and the two-step sign-in."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from starlette.testclient import TestClient

from projections.store import Store
from tests.helpers import url_of
from tests.test_web import PASSWORD
from tests.web_helpers import sign_in_as
from web import two_factor
from web.accounts import StaffAccounts
from web.sessions import open_sessions
from web.signin import SIGN_IN_FAILURES_PER_ACCOUNT

# RFC 6238 appendix B, SHA-1: the 20-byte ASCII seed "1234…90"; our codes are the last six
# digits of the published eight.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
               (1234567890, "89005924"), (2000000000, "69279037"),
               (20000000000, "65353130")]


@pytest.mark.parametrize(("unix_time", "published"), RFC_VECTORS)
def test_codes_are_rfc_6238s(unix_time: int, published: str) -> None:
    moment = datetime.fromtimestamp(unix_time, UTC)
    assert two_factor.matching_step(RFC_SECRET, published[-6:], moment) == unix_time // 30


def test_a_code_is_accepted_one_step_either_side_and_no_further() -> None:
    moment = datetime.fromtimestamp(1111111109, UTC)
    code = "081804"
    assert two_factor.matching_step(RFC_SECRET, code, moment + timedelta(seconds=30)) \
        == 1111111109 // 30
    assert two_factor.matching_step(RFC_SECRET, code, moment - timedelta(seconds=30)) \
        == 1111111109 // 30
    assert two_factor.matching_step(RFC_SECRET, code, moment + timedelta(seconds=61)) is None
    assert two_factor.matching_step(RFC_SECRET, code, moment - timedelta(seconds=61)) is None


@pytest.mark.parametrize("typed", ["081 804", " 081804 ", "081-804"])
def test_spaces_and_a_dash_are_forgiven(typed: str) -> None:
    moment = datetime.fromtimestamp(1111111109, UTC)
    assert two_factor.matching_step(RFC_SECRET, typed, moment) is not None


@pytest.mark.parametrize("typed", ["", "08180", "0818044", "08180a", "０８１８０４", "081804\x00"])
def test_anything_but_six_ascii_digits_is_refused(typed: str) -> None:
    moment = datetime.fromtimestamp(1111111109, UTC)
    assert two_factor.matching_step(RFC_SECRET, typed, moment) is None


def test_the_app_address_names_hoso_and_the_user() -> None:
    uri = two_factor.provisioning_uri(RFC_SECRET, "tiepnhan")
    assert uri.startswith("otpauth://totp/hoso:tiepnhan?")
    assert f"secret={RFC_SECRET}" in uri and "issuer=hoso" in uri


# ---- stored secrets (both stores) ------------------------------------------------------------

def _code(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def test_an_enrolment_is_in_force_only_once_a_code_confirms_it(accounts: StaffAccounts) -> None:
    now = datetime.now(UTC)
    secret = accounts.begin_second_factor("tiepnhan", now)
    assert len(base64.b32decode(secret)) == 20  # 160 bits
    assert not accounts.uses_second_factor("tiepnhan")
    wrong = f"{(int(_code(secret, now)) + 1) % 1_000_000:06d}"
    assert not accounts.confirm_second_factor("tiepnhan", wrong, now)
    assert not accounts.uses_second_factor("tiepnhan")
    assert accounts.confirm_second_factor("tiepnhan", _code(secret, now), now)
    assert accounts.uses_second_factor("tiepnhan")
    # The code that confirmed it cannot sign in afterwards: its step is spent.
    assert not accounts.check_code("tiepnhan", _code(secret, now), now)


def test_each_code_signs_in_once(accounts: StaffAccounts) -> None:
    now = datetime.now(UTC)
    secret = accounts.begin_second_factor("hctp", now)
    assert accounts.confirm_second_factor("hctp", _code(secret, now), now)
    later = now + timedelta(seconds=60)
    assert accounts.check_code("hctp", _code(secret, later), later)
    assert not accounts.check_code("hctp", _code(secret, later), later)  # replayed
    # An older code, still inside the drift window, is refused too: steps only go forward.
    assert not accounts.check_code("hctp", _code(secret, later - timedelta(seconds=30)), later)
    assert accounts.check_code("hctp", _code(secret, later + timedelta(seconds=30)), later)


def test_a_new_enrolment_replaces_an_unconfirmed_one_but_never_one_in_force(
        accounts: StaffAccounts) -> None:
    now = datetime.now(UTC)
    first = accounts.begin_second_factor("tiepnhan", now)
    second = accounts.begin_second_factor("tiepnhan", now)
    assert first != second
    assert not accounts.confirm_second_factor("tiepnhan", _code(first, now), now)
    assert accounts.confirm_second_factor("tiepnhan", _code(second, now), now)
    assert accounts.remove_second_factor("tiepnhan")
    assert not accounts.uses_second_factor("tiepnhan")
    assert not accounts.remove_second_factor("tiepnhan")


# ---- through the pages ------------------------------------------------------------------------

@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp")


SHOWN_SECRET = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')


def _turn_on(web: TestClient, user: str) -> str:
    """Enrol as a staff member does: read the key off the page, type the app's code."""
    sign_in_as(web, user, PASSWORD)
    page = web.post("/account/two-factor/begin")
    assert page.status_code == 200
    assert "<svg" in page.text  # the QR code for the app
    match = SHOWN_SECRET.search(page.text)
    assert match, page.text
    secret = match.group(1).replace(" ", "")
    confirmed = web.post("/account/two-factor/confirm",
                         data={"code": _code(secret, datetime.now(UTC))})
    assert "Đã bật xác thực hai bước" in confirmed.text
    return secret


def test_two_step_sign_in(web: TestClient, store: Store) -> None:
    secret = _turn_on(web, "tiepnhan")
    web.post("/signout")
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token", None)
    first = web.post("/signin", data={"username": "tiepnhan", "password": PASSWORD,
                                      "next": "/incoming"}, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/signin/code"
    # The right password alone opens nothing.
    assert web.get("/queue", follow_redirects=False).status_code == 303
    form = web.get("/signin/code")
    assert 'autocomplete="one-time-code"' in form.text
    wrong = web.post("/signin/code", data={"code": "000000" if _code(
        secret, datetime.now(UTC)) != "000000" else "111111"})
    assert wrong.status_code == 401
    assert "Mã xác thực không đúng hoặc đã dùng" in wrong.text
    code = _code(secret, datetime.now(UTC) + timedelta(seconds=30))  # the next step's
    done = web.post("/signin/code", data={"code": code}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/incoming"
    page = web.get("/queue")
    assert page.status_code == 200 and "Đăng xuất" in page.text
    # The same code in another browser is refused: it was used.
    other = TestClient(web.app)
    other.post("/signin", data={"username": "tiepnhan", "password": PASSWORD})
    again = other.post("/signin/code", data={"code": code})
    assert again.status_code == 401
    outcomes = [a["outcome"] for a in _attempts(store, "tiepnhan")]
    assert outcomes[:4] == ["wrong or reused one-time code", "password right; one-time code asked",
                            "signed in with a one-time code", "wrong or reused one-time code"]


def _attempts(store: Store, user: str) -> list[dict[str, object]]:
    sessions = open_sessions(store)
    try:
        return [a for a in sessions.attempts() if a["user_id"] == user]
    finally:
        sessions.close()


def test_a_code_more_than_five_minutes_after_the_password_starts_again(
        web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = _turn_on(web, "hctp")
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token", None)
    web.post("/signin", data={"username": "hctp", "password": PASSWORD})
    monkeypatch.setattr(two_factor, "CODE_WAIT", timedelta(seconds=-1))
    late = web.post("/signin/code", data={"code": _code(secret, datetime.now(UTC))})
    assert late.status_code == 401 and "Đã quá 5 phút" in late.text
    assert web.get("/queue", follow_redirects=False).status_code == 303
    assert web.get("/signin/code", follow_redirects=False).headers["location"] == "/signin"


def test_guessing_codes_is_stopped(web: TestClient) -> None:
    secret = _turn_on(web, "tiepnhan")
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token", None)
    web.post("/signin", data={"username": "tiepnhan", "password": PASSWORD})
    current = {_code(secret, datetime.now(UTC) + timedelta(seconds=s)) for s in (-30, 0, 30)}
    guesses = [f"{n:06d}" for n in range(1, 40) if f"{n:06d}" not in current]
    statuses = [web.post("/signin/code", data={"code": g}).status_code
                for g in guesses[:SIGN_IN_FAILURES_PER_ACCOUNT + 1]]
    assert statuses == [401] * SIGN_IN_FAILURES_PER_ACCOUNT + [429]
    # Even the right code waits out the window now.
    right = web.post("/signin/code", data={"code": _code(secret, datetime.now(UTC) + timedelta(
        seconds=30))})
    assert right.status_code == 429 and "Đăng nhập sai quá nhiều lần" in right.text


def test_turning_it_off_needs_a_current_code(web: TestClient) -> None:
    secret = _turn_on(web, "tiepnhan")
    page = web.post("/account/two-factor/begin")  # already on: nothing changes
    assert "Đang bật" in page.text and SHOWN_SECRET.search(page.text) is None
    refused = web.post("/account/two-factor/remove", data={"code": "12345"})
    assert refused.status_code == 422 and "Mã không đúng" in refused.text
    code = _code(secret, datetime.now(UTC) + timedelta(seconds=30))
    off = web.post("/account/two-factor/remove", data={"code": code})
    assert "Đã tắt xác thực hai bước" in off.text
    # Without it, the password alone signs in again.
    response = sign_in_as(web, "tiepnhan", PASSWORD)
    assert "Đăng xuất" in html.unescape(response.text)


def test_an_administrator_resets_a_lost_phone(web: TestClient, store: Store,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from cli import main

    _turn_on(web, "hctp")
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    main(["reset-second-factor", "hctp"])
    assert "two-step sign-in turned off for hctp" in capsys.readouterr().out
    response = sign_in_as(web, "hctp", PASSWORD)
    assert "Đăng xuất" in response.text
