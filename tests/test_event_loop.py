"""No request reads or writes the store on the event loop.

One process serves every request on one event loop; a store call made there (instead of in
the thread pool) stops every other request while it waits — during a database outage, for
as long as the library retries (found by the 10-minute outage soak: a sign-in page unanswered
for over 20 s while a receipt form re-read the directory on the loop). Every route is walked
as every role, with refused and malformed forms too, and any store transaction begun on the
loop's thread is a failure.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.sqlite import SQLiteDatastore
from starlette.testclient import TestClient

from domain.application import HosoApplication
from projections.store import Dialect, Store
from tests.conftest import PUBLIC_URL
from tests.helpers import receive
from tests.test_api import PARTNERS, SUBMISSION, appoint_partners
from tests.test_route_permissions import USERS, walk
from tests.web_helpers import PASSWORD, sign_in_as
from web.accounts import StaffAccounts
from web.api.keys import partner_keys_on


@pytest.fixture
def watched(store: Store, serve: Callable[..., TestClient],
            monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, list[str]]:
    if store.dialect is not Dialect.SQLITE:
        pytest.skip("the handlers are the same on both stores")
    client = serve(*[user for user in USERS if user], **PUBLIC_URL)
    on_the_loop: list[str] = []
    real = SQLiteDatastore.transaction

    def transaction(self: SQLiteDatastore, *, commit: bool = False) -> AbstractContextManager[Any]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # a worker thread, the log follower or the test itself: fine
        else:
            on_the_loop.append("".join(traceback.format_stack(limit=14)))
        return real(self, commit=commit)

    # Watched once started: the start itself reads the store before serving anything.
    monkeypatch.setattr(SQLiteDatastore, "transaction", transaction)
    return client, on_the_loop


def test_no_route_touches_the_store_on_the_event_loop(
        watched: tuple[TestClient, list[str]], app: HosoApplication) -> None:
    web, on_the_loop = watched
    walk(web, app)
    assert on_the_loop == [], on_the_loop[0]


def test_refused_and_malformed_forms_stay_off_the_event_loop(
        watched: tuple[TestClient, list[str]], app: HosoApplication) -> None:
    web, on_the_loop = watched
    sign_in_as(web, "tiepnhan", PASSWORD)
    assert web.post("/dossiers", data={"procedure_code": "no-such"}).status_code == 422
    dossier = receive(app).dossier_id
    refused = web.post(f"/dossiers/{dossier}/sign", data={"passphrase": "x"},
                       headers={"HX-Request": "true"})
    assert refused.status_code in (403, 422)
    stale = web.post(f"/dossiers/{dossier}/transfer",
                     data={"to_unit": "STP-HCTP", "version": "99"})
    assert stale.status_code in (409, 422)
    sign_in_as(web, "quantri", PASSWORD)
    assert web.post("/admin/appoint", data={"user_id": "x"}).status_code == 422
    assert web.post("/admin/appoint", data={"user_id": "tiepnhan11", "password": "short"}
                    ).status_code == 422
    assert on_the_loop == [], on_the_loop[0]


def test_partner_api_calls_stay_off_the_event_loop(
        watched: tuple[TestClient, list[str]], app: HosoApplication,
        accounts: StaffAccounts) -> None:
    web, on_the_loop = watched
    appoint_partners(app)
    key = partner_keys_on(accounts.datastore).create(
        partner_id="dichvucong", name="Cổng Dịch vụ công quốc gia",
        scopes=PARTNERS["dichvucong"][3], now=datetime.now(UTC)).secret_key
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for body in (SUBMISSION, {**SUBMISSION, "procedure_code": "0.000000"}, {}):
        response = web.post("/api/v1/dossiers", content=json.dumps(body).encode(),
                            headers={**headers, "Idempotency-Key": uuid4().hex})
        assert response.status_code in (201, 400, 422), response.text
        if response.status_code == 201:
            assert web.get(response.json()["api_status_url"]).status_code == 200
    assert on_the_loop == [], on_the_loop[0]
