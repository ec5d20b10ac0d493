"""The partner API against its own served OpenAPI document, with schemathesis: calls
generated from the document, valid and invalid, each answered without a server error and
as the document says (status, content type, body schema, headers), auth never ignored.

Driven with schemathesis' strategies under hypothesis' ``@given`` rather than its pytest
plugin: the plugin's fixture-based loader (``schemathesis.pytest.from_fixture``, needed for a
store per test) sets ``node._nodeid``, which pytest 9 no longer has (AttributeError).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from domain.application import HosoApplication
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import hand_over, sign
from tests.test_api import SUBMISSION, appoint_partners
from web.accounts import StaffAccounts
from web.api.keys import Scope, partner_keys_on
from web.app import create_app

EXAMPLES = 36  # per operation and mode: 13 operations x 2 modes x 2 stores (as 60 x 5 before)


@pytest.fixture
def partner_key(app: HosoApplication, accounts: StaffAccounts, clock: FakeClock) -> str:
    """A key with every scope, for a reception system of the one-stop centre: valid calls
    reach the application (and its refusals), invalid ones are refused before it."""
    appoint_partners(app)
    return partner_keys_on(accounts.datastore).create(
        partner_id="dichvucong", name="Cổng Dịch vụ công quốc gia", scopes=list(Scope),
        now=clock()).secret_key


@pytest.fixture
def api_schema(store: Store, app: HosoApplication, accounts: StaffAccounts,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("HOSO_API_RATE_LIMIT", "0")
    monkeypatch.setenv("HOSO_PUBLIC_RATE_LIMIT", "0")
    web = create_app(store, app, accounts)
    try:
        yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", web)
    finally:
        asgi.shutdown_lifespans()  # the app's read-model followers, started by the load


def test_every_operation_answers_as_its_document_says(api_schema: Any,
                                                      partner_key: str) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 13
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def answers_as_documented(case: Any) -> None:
                # A valid call may still be refused by the rules (no such dossier, not
                # possible now): accepting valid data is tests/test_api.py's to check, with
                # real dossiers.
                case.call_and_validate(headers={"Authorization": f"Bearer {partner_key}"},
                                       excluded_checks=[positive_data_acceptance])

            answers_as_documented()


def test_a_dossiers_whole_path_answers_as_documented(api_schema: Any, partner_key: str,
                                                     app: HosoApplication,
                                                     accounts: StaffAccounts,
                                                     clock: FakeClock) -> None:
    """Random data seldom gets past the rules (a real phone, a dossier that exists): the
    successful answers are checked here, with every check, on a dossier's whole path."""
    keys = partner_keys_on(accounts.datastore)
    key_of = {partner: keys.create(partner_id=partner, name=partner, scopes=list(Scope),
                                   now=clock()).secret_key
              for partner in ("stp.hctp", "tthcc.tra", "vnpost")} | {"dichvucong": partner_key}

    def call(partner: str | None, method: str, path: str, body: Any = NOT_SET,
             **path_parameters: str) -> Any:
        headers = {"Idempotency-Key": uuid4().hex}
        if partner is not None:
            headers["Authorization"] = f"Bearer {key_of[partner]}"
        case = api_schema[path][method].Case(
            path_parameters=path_parameters or None, headers=headers, body=body,
            media_type="application/json" if body is not NOT_SET else None)
        return case.call_and_validate()

    received = call("dichvucong", "POST", "/api/v1/dossiers", SUBMISSION)
    assert received.status_code == 201
    dossier = received.json()["dossier_id"]
    hand_over(app, UUID(dossier), "tiepnhan", "STP-HCTP", "hctp")
    moved = call("stp.hctp", "POST", "/api/v1/dossiers/{dossier_id}/transfers",
                 {"to_unit": "STP-BGD", "note": "Trình ký"}, dossier_id=dossier)
    assert moved.status_code == 200
    app.accept_transfer(UUID(dossier), expected_version=None, actor_id="gd.stp")
    sign(app, UUID(dossier))
    hand_over(app, UUID(dossier), "gd.stp", "TTHCC", "tiepnhan")
    assert call("tthcc.tra", "POST", "/api/v1/dossiers/{dossier_id}/dispatch",
                {"method": "post", "postal_tracking_number": "EB123456789VN"},
                dossier_id=dossier).status_code == 200
    assert call("vnpost", "POST", "/api/v1/dossiers/{dossier_id}/delivery",
                {"recipient_name": "Trần Thị Bích Ngọc"}, dossier_id=dossier).status_code == 200
    status = call(None, "GET", "/api/v1/status/{token}",
                  token=received.json()["tracking_token"])
    assert status.json()["stage"]["code"] == "delivered"
