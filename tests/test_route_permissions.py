"""Every route × every role and anonymous → the expected status, htmx partials included.

The table is the access policy in one place. A route the app serves that is missing here
fails the walk, so a new page cannot ship without saying who may see it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from domain.application import HosoApplication
from projections.store import Dialect, Store
from tests.conftest import PUBLIC_URL
from tests.helpers import receive
from tests.web_helpers import PASSWORD, sign_in_as

# Anonymous, then a counter clerk, a specialist, a signing officer, a post agent, an
# inspector and an administrator.
USERS: tuple[str | None, ...] = (None, "tiepnhan", "hctp", "gd.stp", "buudien", "thanhtra",
                                 "quantri")
STAFF_ONLY = 303  # anonymous visitors are sent to sign in

EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/"): (303, 303, 303, 303, 303, 303, 303),
    ("GET", "/healthz"): (200,) * 7,
    ("GET", "/signin"): (200,) * 7,
    ("POST", "/signout"): (303,) * 7,
    # Anyone may choose the language, citizens with no session included.
    ("POST", "/language"): (303,) * 7,
    # Without a right password in the last 5 minutes there is no code to give.
    ("GET", "/signin/code"): (303,) * 7,
    ("POST", "/signin/code"): (401,) * 7,
    ("GET", "/account/two-factor"): (STAFF_ONLY, 200, 200, 200, 200, 200, 200),
    ("POST", "/account/two-factor/{step}"): (STAFF_ONLY, 422, 422, 422, 422, 422, 422),
    ("GET", "/queue"): (STAFF_ONLY, 200, 200, 200, 200, 200, 200),
    ("GET", "/incoming"): (STAFF_ONLY, 200, 200, 200, 200, 200, 200),
    # The post's own work list: its agents'.
    ("GET", "/post"): (STAFF_ONLY, 403, 403, 403, 200, 403, 403),
    ("GET", "/counter"): (STAFF_ONLY, 200, 403, 403, 403, 403, 403),
    ("GET", "/admin"): (STAFF_ONLY, 403, 403, 403, 403, 403, 200),
    ("POST", "/admin/{action}"): (STAFF_ONLY, 403, 403, 403, 403, 403, 422),
    ("GET", "/signing-key"): (STAFF_ONLY, 403, 403, 200, 403, 403, 200),
    ("POST", "/signing-key/register"): (STAFF_ONLY, 403, 403, 422, 403, 403, 422),
    ("POST", "/signing-key/revoke"): (STAFF_ONLY, 403, 403, 422, 403, 403, 422),
    ("GET", "/dossiers"): (STAFF_ONLY, 200, 200, 200, 200, 200, 200),
    ("POST", "/dossiers"): (STAFF_ONLY, 422, 403, 403, 403, 403, 403),
    ("GET", "/dossiers/new"): (STAFF_ONLY, 200, 403, 403, 403, 403, 403),
    # A post agent sees only files handed to the post.
    ("GET", "/dossiers/{dossier_id}"): (STAFF_ONLY, 200, 200, 200, 403, 200, 200),
    ("GET", "/dossiers/{dossier_id}/receipt"): (STAFF_ONLY, 200, 200, 200, 403, 200, 200),
    # Forms 03 and 05: this dossier was neither refused nor stopped.
    ("GET", "/dossiers/{dossier_id}/refusal"): (STAFF_ONLY, 404, 404, 404, 403, 404, 404),
    ("GET", "/dossiers/{dossier_id}/stop-notice"): (STAFF_ONLY, 404, 404, 404, 403, 404, 404),
    # Form 07: the counters' book, and inspectors'.
    ("GET", "/tracking-book"): (STAFF_ONLY, 200, 403, 403, 403, 200, 200),
    ("GET", "/dossiers/{dossier_id}/apology/{number}"):
        (STAFF_ONLY, 404, 404, 404, 403, 404, 404),  # no apology letter was printed
    ("GET", "/dossiers/{dossier_id}/supplement/{number}"):
        (STAFF_ONLY, 404, 404, 404, 403, 404, 404),  # no supplement was requested
    # Inspectors' pages.
    ("GET", "/dossiers/{dossier_id}/audit"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/dossiers/{dossier_id}/control-slip"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/dossiers/{dossier_id}/proof-bundle.json"):
        (STAFF_ONLY, 403, 403, 403, 403, 404, 404),  # no checkpoint covers it yet
    # Attached files: staff of the units it passed through and inspectors (none is attached
    # here: 404), nobody else; attaching with no file is refused in words.
    ("GET", "/dossiers/{dossier_id}/documents/{sha256}"):
        (STAFF_ONLY, 404, 403, 403, 403, 404, 404),
    ("POST", "/dossiers/{dossier_id}/documents"): (STAFF_ONLY, 422, 422, 422, 403, 422, 422),
    # Only the counter that holds the new file may send it on.
    ("POST", "/dossiers/{dossier_id}/{action}"): (STAFF_ONLY, 303, 403, 403, 403, 403, 403),
    ("GET", "/red-flags"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/red-flags/{flag}"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/red-flags/{flag}.csv"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    # The inspector's cases: no file named, no such case.
    ("POST", "/red-flags/{flag}/cases"): (STAFF_ONLY, 403, 403, 403, 403, 422, 422),
    ("GET", "/red-flags/cases"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/red-flags/cases.csv"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/red-flags/cases/{case_id}"): (STAFF_ONLY, 403, 403, 403, 403, 404, 404),
    ("GET", "/red-flags/cases/{case_id}/report"): (STAFF_ONLY, 403, 403, 403, 403, 404, 404),
    ("POST", "/red-flags/cases/{case_id}/note"): (STAFF_ONLY, 403, 403, 403, 403, 404, 404),
    ("POST", "/red-flags/cases/{case_id}/close"): (STAFF_ONLY, 403, 403, 403, 403, 404, 404),
    ("GET", "/officers/{user_id}"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/units/{unit_code}"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/analytics"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    ("GET", "/analytics/{table}.csv"): (STAFF_ONLY, 403, 403, 403, 403, 200, 200),
    # Public pages.
    ("GET", "/stats"): (200,) * 7,
    ("GET", "/open-data/summary.csv"): (200,) * 7,
    ("GET", "/open-data/fees.csv"): (200,) * 7,
    ("GET", "/log"): (200,) * 7,
    ("GET", "/log/checkpoint"): (404,) * 7,  # none signed yet
    ("GET", "/log/key"): (200,) * 7,
    ("GET", "/receipt-key"): (200,) * 7,  # the agency's key for the receipt's promise
    # Plain text and octet streams for outsiders' tools (c2sp.org/tlog-tiles).
    ("GET", "/log/checkpoints/{size:int}"): (404,) * 7,
    ("GET", "/log/tile/{path:path}"): (404,) * 7,
    ("GET", "/t/{token}"): (200,) * 7,
    # The electronic result's verification page: public; this dossier has no result.
    ("GET", "/verify/{dossier_id}"): (404,) * 7,
    ("POST", "/t/{token}/rating"): (400,) * 7,  # nothing to rate before the result
    # A citizen's feedback: an empty form is refused in words; no such case to close.
    ("POST", "/t/{token}/feedback"): (422,) * 7,
    ("POST", "/t/{token}/feedback/{feedback_id}/close"): (404,) * 7,
    # Answered by the agency's head (signing officers) and the inspectorate only.
    ("GET", "/feedback"): (STAFF_ONLY, 403, 403, 200, 403, 200, 403),
    ("POST", "/feedback/{feedback_id}/answer"): (STAFF_ONLY, 403, 403, 404, 403, 404, 403),
    # Paying online: no gateway is set up here; its return and notice check the signature.
    ("POST", "/t/{token}/pay"): (404,) * 7,
    ("GET", "/payments/vnpay/return"): (400,) * 7,
    ("GET", "/payments/vnpay/ipn"): (200,) * 7,  # answered in VNPay's JSON: 97
    # The citizen's online path and look-up: empty forms are refused in words.
    ("GET", "/online"): (200,) * 7,
    ("GET", "/online/{code}"): (200,) * 7,
    ("POST", "/online/{code}/code"): (422,) * 7,
    ("POST", "/online/{code}"): (422,) * 7,
    ("GET", "/lookup"): (200,) * 7,
    ("POST", "/lookup"): (422,) * 7,
    ("POST", "/lookup/confirm"): (422,) * 7,
    ("POST", "/lookup/result"): (422,) * 7,  # no grant earned by a one-time code
    # The partner API: a partner key or nothing, whoever is signed in (tests/test_api.py).
    ("GET", "/api/v1/openapi.json"): (200,) * 7,
    ("POST", "/api/v1/dossiers"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/transfers"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/dispatch"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/delivery"): (401,) * 7,
    ("POST", "/api/v1/pickups"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/collection"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/handover"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/failed-delivery"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/return"): (401,) * 7,
    ("GET", "/api/v1/status/{token}"): (200,) * 7,  # public, like /t/{token}
    ("GET", "/api/v1/dossiers/{dossier_id}/documents"): (401,) * 7,
    ("GET", "/api/v1/dossiers/{dossier_id}/documents/{sha256}"): (401,) * 7,
    ("POST", "/api/v1/dossiers/{dossier_id}/documents"): (401,) * 7,
}
NOT_WALKED = {("POST", "/signin")}  # its limits and records: tests/test_sessions_and_csrf.py
HTMX_PARTIALS = ("/queue", "/incoming", "/counter", "/dossiers")


@pytest.fixture
def web(store: Store, serve: Callable[..., TestClient]) -> TestClient:
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("the policy is the same on both stores")
    # Every public route as every visitor from one address: more than the default limit of
    # public lookups (tests/test_rate_limit.py tests the limit itself).
    return serve(*[user for user in USERS if user], **PUBLIC_URL, HOSO_PUBLIC_RATE_LIMIT="0")


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    """Every route served, with its full path, those of mounted apps included."""
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, route
        elif isinstance(route, Mount):
            yield from _routes(route.routes, prefix + route.path)


def _path(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def walk(web: TestClient, app: HosoApplication) -> dict[tuple[str, str], list[int]]:
    """Every route in the policy table as anonymous and as each user: the statuses seen."""
    received = receive(app)
    dossier = received.dossier_id
    # The public pages read the read models: they must have the dossier before the walk.
    assert web.app.state.services.read_models.wait(  # type: ignore[attr-defined]
        received.notification_id)
    values = {"dossier_id": str(dossier), "token": app.dossier(dossier).tracking_token,
              "number": "1", "user_id": "hctp", "unit_code": "STP-HCTP", "table": "procedures",
              "code": "2.000488", "sha256": "0" * 64, "size:int": "1",
              "path:path": "0/000", "flag": "off_route",
              "case_id": "00000000-0000-0000-0000-000000000000"}
    found: dict[tuple[str, str], list[int]] = {}
    for user in USERS:
        web.cookies.clear()
        web.headers.pop("X-CSRF-Token", None)
        if user:
            sign_in_as(web, user, PASSWORD)
        for (method, template), _ in EXPECTED.items():
            form: dict[str, Any] | None = {} if method == "POST" else None
            path_values = dict(values)
            if template == "/dossiers/{dossier_id}/{action}":
                # A file of its own for each visitor, which the counter may transfer.
                path_values |= {"dossier_id": str(receive(app).dossier_id),
                                "action": "transfer"}
                form = {"to_unit": "STP-HCTP"}
            elif template == "/admin/{action}":
                path_values["action"] = "appoint"
            elif template == "/account/two-factor/{step}":
                path_values["step"] = "confirm"  # with no code: refused in words
            response = web.request(method, _path(template, path_values), data=form,
                                   follow_redirects=False)
            found.setdefault((method, template), []).append(response.status_code)
            if template.startswith("/api/") and response.status_code >= 400:
                assert "error" in response.json(), (method, template, user)
            elif response.status_code >= 400:
                assert "<html" in response.text.lower() or template.endswith(
                    (".csv", ".json", "/checkpoint", "{size:int}", "{path:path}")), (
                    method, template, user)
            if template == "/signout" and user:
                sign_in_as(web, user, PASSWORD)  # signed out: sign in again for the rest
    return found


def test_every_route_and_role_gets_the_expected_status(web: TestClient,
                                                       app: HosoApplication) -> None:
    served = {(method, path) for path, route in _routes(web.app.routes)  # type: ignore[attr-defined]
              for method in route.methods or () if method != "HEAD"}
    assert served - NOT_WALKED == set(EXPECTED), "routes and the policy table differ"
    found = walk(web, app)
    mismatches = {k: (tuple(v), EXPECTED[k]) for k, v in found.items()
                  if tuple(v) != EXPECTED[k]}
    assert mismatches == {}, "found vs expected, per (anonymous, *users)"


@pytest.mark.parametrize("path", HTMX_PARTIALS)
def test_htmx_partials_follow_the_same_policy(web: TestClient, path: str) -> None:
    partial = {"HX-Request": "true"}
    anonymous = web.get(path, headers=partial, follow_redirects=False)
    # htmx would swap a sign-in page into the middle of the page: it is told to go there.
    assert anonymous.status_code == 401
    assert anonymous.headers["hx-redirect"] == f"/signin?next={path}"
    sign_in_as(web, "buudien", PASSWORD)
    expected = EXPECTED[("GET", path)][USERS.index("buudien")]
    assert web.get(path, headers=partial).status_code == expected
