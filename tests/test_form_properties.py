"""Property tests over the forms not covered by the dossier actions' (test_hostile_input):
the receipt, the administrator's, sign-in and its code, two-step enrolment and the
citizen's rating. Whatever is posted: an answer in words, never a 500, and a refused form
records nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from domain.application import HosoApplication
from tests.conftest import PUBLIC_URL
from tests.helpers import receive
from tests.test_hostile_input import CONTROL, HOSTILE
from tests.test_web import PASSWORD, receive_form
from tests.web_helpers import sign_in_as
from web.accounts import StaffAccounts

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
values = st.one_of(
    st.sampled_from(HOSTILE + CONTROL + [
        "", " ", "0", "-1", "9" * 40, "2026-13-45", "2026-11-24T08:00", "STP-HCTP", "TTHCC",
        "2.000488", "counter", "post", "online", "reception", "specialist", "x" * 3000]),
    st.text(max_size=60))


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "quantri", **PUBLIC_URL)


def _newest(app: HosoApplication) -> int:
    return app.recorder.max_notification_id() or 0


def _answered_in_words(response: Any) -> None:
    event(f"status {response.status_code}")  # shown by --hypothesis-show-statistics
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert "<html" in response.text.lower()


RECEIPT_FIELDS = ["procedure_code", "applicant_name", "applicant_phone", "applicant_address",
                  "applicant_id_number", "channel", "documents", "other_documents",
                  "occurred_at", "request_id"]


@PROPERTY
@given(changes=st.dictionaries(st.sampled_from(RECEIPT_FIELDS), values, max_size=5),
       dropped=st.lists(st.sampled_from(RECEIPT_FIELDS), max_size=3))
def test_any_receipt_form(web: TestClient, app: HosoApplication, changes: dict[str, str],
                          dropped: list[str]) -> None:
    if "X-CSRF-Token" not in web.headers:
        sign_in_as(web, "tiepnhan", PASSWORD)
    form = {k: v for k, v in receive_form(**changes).items() if k not in dropped}
    before = _newest(app)
    response = web.post("/dossiers", data=form, follow_redirects=False)
    _answered_in_words(response)
    if response.status_code == 303:
        assert response.headers["location"].endswith("/receipt")
        assert _newest(app) > before
    else:
        assert _newest(app) == before


ADMIN_FIELDS = ["user_id", "full_name", "unit_code", "roles", "password", "reason", "code",
                "agency_code", "name_vi", "name_en", "kind", "procedure_code",
                "processing_days", "legal_basis"]


@PROPERTY
@given(action=st.sampled_from(["appoint", "deactivate", "add_unit", "processing_time",
                               "no_such_action"]),
       form=st.dictionaries(st.sampled_from(ADMIN_FIELDS), values, max_size=7))
def test_any_administrator_form(web: TestClient, app: HosoApplication,
                                accounts: StaffAccounts, action: str,
                                form: dict[str, str]) -> None:
    if "X-CSRF-Token" not in web.headers:
        sign_in_as(web, "quantri", PASSWORD)
    if action == "deactivate" and form.get("user_id", "").strip().lower() == "quantri":
        form["user_id"] = "tiepnhan"  # keep the administrator for the next examples
    before = _newest(app)
    user = form.get("user_id", "").strip().lower()
    had_account = bool(user) and accounts.has_account(user)
    response = web.post(f"/admin/{action}", data=form, follow_redirects=False)
    _answered_in_words(response)
    if response.status_code != 303:
        assert _newest(app) == before
        assert not user or accounts.has_account(user) == had_account


@PROPERTY
@given(username=values, password=values, code=values)
def test_any_sign_in_and_code(web: TestClient, username: str, password: str,
                              code: str) -> None:
    web.cookies.clear()
    web.headers.pop("X-CSRF-Token", None)
    response = web.post("/signin", data={"username": username, "password": password},
                        follow_redirects=False)
    _answered_in_words(response)
    assert response.status_code in (401, 429)  # no made-up password is anyone's
    coded = web.post("/signin/code", data={"code": code}, follow_redirects=False)
    _answered_in_words(coded)
    assert coded.status_code == 401
    assert web.get("/queue", follow_redirects=False).status_code == 303


@PROPERTY
@given(step=st.sampled_from(["begin", "confirm", "remove", "nope"]), code=values)
def test_any_two_step_form(web: TestClient, accounts: StaffAccounts, step: str,
                           code: str) -> None:
    if "X-CSRF-Token" not in web.headers:
        sign_in_as(web, "tiepnhan", PASSWORD)
    response = web.post(f"/account/two-factor/{step}", data={"code": code},
                        follow_redirects=False)
    _answered_in_words(response)
    # No code typed at random turns it on (a 1-in-a-million guess aside: 3 steps × 40 tries).
    assert not accounts.uses_second_factor("tiepnhan")


RATING_FIELDS = ["satisfaction", "came_back", "unofficial_request", "comment", "request_key"]


@PROPERTY
@given(form=st.dictionaries(st.sampled_from(RATING_FIELDS), values, max_size=5),
       token=st.one_of(st.just("real"), values))
def test_any_rating_form(web: TestClient, app: HosoApplication, form: dict[str, str],
                         token: str) -> None:
    dossier_token = app.dossier(receive(app).dossier_id).tracking_token
    # Any token the server could be sent: percent-encoded as a browser would.
    path = f"/t/{dossier_token if token == 'real' else quote(token, safe='')}/rating"
    before = _newest(app)
    response = web.post(path, data=form, follow_redirects=False)
    _answered_in_words(response)
    # Nothing to rate before the result: every one of these is refused.
    assert response.status_code in (400, 404, 405, 422, 429)
    assert _newest(app) == before
