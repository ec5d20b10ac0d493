"""The partner API (/api/v1) on both stores: what partners' systems see, and what is recorded
in their name — attribution, scopes, revoked keys, idempotency (sequential and concurrent),
hostile input answered in JSON with a 4xx and never an event."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from starlette.testclient import TestClient

from cli import main
from domain.application import Attachment, HosoApplication
from domain.documents import check_upload
from domain.dossier import Dossier
from domain.working_days import HCMC
from projections.store import Store
from tests.conftest import FakeClock
from tests.document_samples import pdf
from tests.helpers import APPLICANT, PROCEDURE, hand_over, receive, sign, url_of
from web.accounts import StaffAccounts
from web.api.keys import PartnerKeys, Scope, partner_keys_on
from web.app import create_app

# Partners' systems, appointed in the directory like staff: the unit and role their actions
# need, and a key scoped to those actions.
PARTNERS: dict[str, tuple[str, str, list[str], frozenset[Scope]]] = {
    "dichvucong": ("Cổng Dịch vụ công quốc gia", "TTHCC", ["reception"],
                   frozenset({Scope.SUBMIT})),
    "stp.hctp": ("Hệ thống một cửa Sở Tư pháp", "STP-HCTP", ["specialist"],
                 frozenset({Scope.TRANSFER})),
    "tthcc.tra": ("Hệ thống trả kết quả TTHCC", "TTHCC", ["reception"],
                  frozenset({Scope.DISPATCH})),
    "vnpost": ("Bưu điện Việt Nam (VNPost)", "BUUDIEN", ["post_agent"],
               frozenset({Scope.DELIVER, Scope.DISPATCH})),
}
SUBMISSION: dict[str, Any] = {
    "procedure_code": PROCEDURE,
    "channel": "online",
    "applicant": {"name": APPLICANT["applicant_name"], "phone": APPLICANT["applicant_phone"],
                  "address": APPLICANT["applicant_address"],
                  "id_number": APPLICANT["applicant_id_number"]},
    "documents": ["Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp", "Bản chụp CCCD"],
}


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]  # partner → its secret key
    partner_keys: PartnerKeys

    def post(self, path: str, partner: str | None, body: Any = None, *,
             idempotency_key: str | None = None, **headers: str) -> Any:
        sent = {"Idempotency-Key": idempotency_key or uuid4().hex,
                "Content-Type": "application/json", **headers}
        if partner is not None:
            sent["Authorization"] = f"Bearer {self.keys[partner]}"
        return self.client.post(f"/api/v1{path}", content=json.dumps(body).encode(),
                                headers=sent)


def appoint_partners(app: HosoApplication) -> None:
    for user_id, (name, unit, roles, _) in PARTNERS.items():
        app.appoint_staff(admin_id="quantri", user_id=user_id, full_name=name, unit_code=unit,
                          roles=roles)


@pytest.fixture
def api(store: Store, app: HosoApplication, accounts: StaffAccounts, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("HOSO_PUBLIC_URL", "https://hoso.example.vn")
    appoint_partners(app)
    keys = partner_keys_on(accounts.datastore)
    made = {partner: keys.create(partner_id=partner, name=name, scopes=scopes,
                                 now=clock()).secret_key
            for partner, (name, _, _, scopes) in PARTNERS.items()}
    with TestClient(create_app(store, app, accounts)) as client:
        yield Api(client, made, keys)


def events_of(app: HosoApplication, dossier_id: UUID) -> list[Dossier.Event]:
    return [e for e in app.repository.event_store.get(dossier_id)
            if isinstance(e, Dossier.Event)]


def event_count(app: HosoApplication) -> int:
    return app.recorder.max_notification_id() or 0


def at_reception_signed(app: HosoApplication) -> UUID:
    """A dossier signed and back at the counter, its result ready to be handed out."""
    dossier = receive(app).dossier_id
    hand_over(app, dossier, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, dossier, "hctp", "STP-BGD", "gd.stp")
    sign(app, dossier)
    hand_over(app, dossier, "gd.stp", "TTHCC", "tiepnhan")
    return dossier


def assert_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message_vi"] and error["message_en"]
    if code is not None:
        assert error["code"] == code


# ---- the document and the public status ---------------------------------------------------

def test_the_openapi_document_is_served(api: Api) -> None:
    response = api.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/api/v1/dossiers", "/api/v1/dossiers/{dossier_id}/transfers",
        "/api/v1/dossiers/{dossier_id}/dispatch", "/api/v1/dossiers/{dossier_id}/delivery",
        "/api/v1/pickups", "/api/v1/dossiers/{dossier_id}/collection",
        "/api/v1/dossiers/{dossier_id}/handover",
        "/api/v1/dossiers/{dossier_id}/failed-delivery", "/api/v1/dossiers/{dossier_id}/return",
        "/api/v1/status/{token}",
        "/api/v1/dossiers/{dossier_id}/documents",
        "/api/v1/dossiers/{dossier_id}/documents/{sha256}"}


def test_a_submission_is_received_in_the_partners_name_and_its_status_is_public(
        api: Api, app: HosoApplication) -> None:
    response = api.post("/dossiers", "dichvucong", SUBMISSION)
    assert response.status_code == 201, response.text
    receipt = response.json()
    dossier_id = UUID(receipt["dossier_id"])
    [received] = events_of(app, dossier_id)
    assert isinstance(received, Dossier.Received)
    assert (received.actor_id, received.actor_unit, received.channel) == (
        "dichvucong", "TTHCC", "online")
    assert received.idempotency_key.startswith("api-")  # the channel, on record
    assert receipt["code"] == received.code and receipt["due_date"] == str(received.due_date)
    assert receipt["status_url"] == f"https://hoso.example.vn/t/{received.tracking_token}"

    status = api.client.get(receipt["api_status_url"])  # no key: the citizen's own view
    assert status.status_code == 200, status.text
    shown = status.json()
    assert shown["stage"]["code"] == "received" and shown["holder_unit"]["code"] == "TTHCC"
    assert shown["procedure"]["code"] == PROCEDURE and shown["late"] is False
    for private in (APPLICANT["applicant_name"], APPLICANT["applicant_phone"],
                    APPLICANT["applicant_id_number"], "dichvucong", "Bản chụp CCCD"):
        assert private not in status.text
    assert status.headers["cache-control"] == "no-store"


def test_a_submission_may_give_an_email_for_the_applicants_notices(
        api: Api, app: HosoApplication) -> None:
    with_email = {**SUBMISSION, "applicant": {**SUBMISSION["applicant"],
                                              "email": "Ngoc.Tran@Example.VN"}}
    response = api.post("/dossiers", "dichvucong", with_email)
    assert response.status_code == 201, response.text
    [received] = events_of(app, UUID(response.json()["dossier_id"]))
    assert isinstance(received, Dossier.Received)
    assert received.applicant["email"] == "Ngoc.Tran@example.vn"
    assert "Ngoc.Tran" not in api.client.get(response.json()["api_status_url"]).text
    refused = api.post("/dossiers", "dichvucong", {
        **SUBMISSION, "applicant": {**SUBMISSION["applicant"], "email": "not an address"}})
    assert_error(refused, 422)


def test_an_unknown_or_malformed_token_has_no_status(api: Api) -> None:
    for token in ("A" * 22, "x", "%00" * 20, "a" * 300):
        assert_error(api.client.get(f"/api/v1/status/{token}"), 404, "not_found")


def test_transfer_dispatch_and_delivery_are_recorded_in_the_partners_names(
        api: Api, app: HosoApplication) -> None:
    dossier = receive(app).dossier_id
    hand_over(app, dossier, "tiepnhan", "STP-HCTP", "hctp")
    moved = api.post(f"/dossiers/{dossier}/transfers", "stp.hctp",
                     {"to_unit": "STP-BGD", "to_officer": "gd.stp"})
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"dossier_id": str(dossier), "action": "transfer"}
    app.accept_transfer(dossier, expected_version=None, actor_id="gd.stp")
    sign(app, dossier)
    hand_over(app, dossier, "gd.stp", "TTHCC", "tiepnhan")
    sent = api.post(f"/dossiers/{dossier}/dispatch", "tthcc.tra",
                    {"method": "post", "postal_tracking_number": "EB123456789VN"})
    assert sent.status_code == 200, sent.text
    delivered = api.post(f"/dossiers/{dossier}/delivery", "vnpost",
                         {"recipient_name": "Trần Thị Bích Ngọc",
                          "occurred_at": "2026-11-23T09:00:00+07:00"})
    assert delivered.status_code == 200, delivered.text
    by_kind = {type(e).__name__: e for e in events_of(app, dossier)}
    [to_leaders] = [e for e in events_of(app, dossier)
                    if isinstance(e, Dossier.Transferred) and e.to_unit == "STP-BGD"]
    assert (to_leaders.actor_id, to_leaders.actor_unit) == ("stp.hctp", "STP-HCTP")
    assert (by_kind["Dispatched"].actor_id, by_kind["Delivered"].actor_id) == (
        "tthcc.tra", "vnpost")
    assert by_kind["Delivered"].occurred_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    # Each action's handled request, saved with it, says it came through the API.
    handled = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(
        start=1, limit=1000, topics=["domain.requests:HandledRequest.Handled"])]
    assert sorted((h.action, h.key[:4]) for h in handled  # type: ignore[attr-defined]
                  if h.dossier_id == dossier) == [  # type: ignore[attr-defined]
        ("deliver", "api-"), ("dispatch", "api-"), ("transfer", "api-")]
    token = app.dossier(dossier).tracking_token
    status_text = api.client.get(f"/api/v1/status/{token}").text
    shown = json.loads(status_text)
    assert shown["stage"]["code"] == "delivered"
    assert [s["event"] for s in shown["steps"]][-2:] == ["Dispatched", "Delivered"]
    [signature] = shown["signatures"]
    assert signature["valid"] is True and signature["decision_number"] == "15/PLLTP"
    assert "gd.stp" not in json.dumps(shown) and "Phạm Văn Đức" not in status_text


# ---- keys and scopes -----------------------------------------------------------------------

def test_a_call_outside_the_keys_scopes_is_forbidden_and_records_nothing(
        api: Api, app: HosoApplication) -> None:
    dossier = receive(app).dossier_id
    before = event_count(app)
    assert_error(api.post(f"/dossiers/{dossier}/delivery", "dichvucong",
                          {"recipient_name": "A"}), 403, "out_of_scope")
    assert_error(api.post("/dossiers", "vnpost", SUBMISSION), 403, "out_of_scope")
    assert event_count(app) == before


def test_the_dossiers_own_rules_still_apply_to_a_partner(api: Api,
                                                          app: HosoApplication) -> None:
    """A scope lets a key ask; the aggregate decides, as for staff: the counter's system may
    hand the result out only once it is ready (its state), in the rules' own words."""
    dossier = receive(app).dossier_id
    before = event_count(app)
    not_now = api.post(f"/dossiers/{dossier}/dispatch", "tthcc.tra",
                       {"method": "counter_pickup"})
    assert_error(not_now, 422, "refused")
    assert "chưa có kết quả" in not_now.json()["error"]["message_vi"]
    assert event_count(app) == before


def test_a_dossier_the_key_may_not_act_on_gets_one_answer_whatever_the_reason(
        api: Api, app: HosoApplication) -> None:
    """Issue 17, item 12: a key holder used to read "The dossier is held by unit TTHCC" — where
    a file it may not touch is. Unknown, held by another unit, not its role, not its state:
    the same status and the same words, naming no unit."""
    at_counter = receive(app).dossier_id  # held by TTHCC, nothing signed
    signed = at_reception_signed(app)
    before = event_count(app)
    answers = {
        "no such dossier": api.post(f"/dossiers/{uuid4()}/transfers", "stp.hctp",
                                    {"to_unit": "STP-BGD"}),
        "not a dossier id": api.post("/dossiers/not-a-uuid/transfers", "stp.hctp",
                                     {"to_unit": "STP-BGD"}),
        "another unit holds it": api.post(f"/dossiers/{at_counter}/transfers", "stp.hctp",
                                          {"to_unit": "STP-BGD"}),
        "not its role": api.post(f"/dossiers/{signed}/dispatch", "vnpost",
                                 {"method": "post", "postal_tracking_number": "EB123456789VN"}),
        "not handed to the post yet": api.post(f"/dossiers/{signed}/delivery", "vnpost",
                                               {"recipient_name": "A"}),
    }
    for reason, response in answers.items():
        assert_error(response, 404, "not_found")
        assert response.json() == answers["no such dossier"].json(), reason
        assert "TTHCC" not in response.text and "STP" not in response.text, reason
    assert event_count(app) == before


# Each case list is walked in one test: one app per store, not one per case.
NOT_KEYS = [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz",
            "Bearer hoso_0000000000000000_" + "A" * 43, "Bearer not-a-key", "Bearer hoso_\x7f",
            "Bearer hoso_%s_" % ("0" * 16) + "\x00" * 43]


def test_a_call_without_a_valid_key_is_unauthenticated(api: Api, app: HosoApplication) -> None:
    before = event_count(app)
    for authorization in [*NOT_KEYS, f"Bearer {api.keys['dichvucong']}x",
                          f"Bearer {api.keys['dichvucong'][:-1]}"]:
        headers = {"Idempotency-Key": uuid4().hex}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = api.client.post("/api/v1/dossiers", json=SUBMISSION, headers=headers)
        assert_error(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert event_count(app) == before


def test_a_revoked_key_opens_nothing_and_a_new_one_works(api: Api, app: HosoApplication,
                                                         clock: FakeClock) -> None:
    assert api.post("/dossiers", "dichvucong", SUBMISSION).status_code == 201
    [key] = [k for k in api.partner_keys.listing() if k.partner_id == "dichvucong"]
    assert api.partner_keys.revoke(key.key_id, clock())
    assert not api.partner_keys.revoke(key.key_id, clock())  # once
    before = event_count(app)
    assert_error(api.post("/dossiers", "dichvucong", SUBMISSION), 401, "unauthenticated")
    assert event_count(app) == before
    api.keys["dichvucong"] = api.partner_keys.create(
        partner_id="dichvucong", name="Cổng DVC", scopes=[Scope.SUBMIT],
        now=clock()).secret_key
    assert api.post("/dossiers", "dichvucong", SUBMISSION).status_code == 201


def test_a_partner_deactivated_in_the_directory_acts_no_more(api: Api,
                                                             app: HosoApplication) -> None:
    app.deactivate_staff(admin_id="quantri", user_id="dichvucong", reason="Hết hợp đồng")
    assert_error(api.post("/dossiers", "dichvucong", SUBMISSION), 401, "unauthenticated")


def test_calls_are_limited_per_key(store: Store, app: HosoApplication,
                                   accounts: StaffAccounts, clock: FakeClock,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSO_API_RATE_LIMIT", "2/60")
    appoint_partners(app)
    keys = partner_keys_on(accounts.datastore)
    secret = keys.create(partner_id="dichvucong", name="DVC", scopes=[Scope.SUBMIT],
                         now=clock()).secret_key
    with TestClient(create_app(store, app, accounts)) as client:
        api = Api(client, {"dichvucong": secret}, keys)
        assert [api.post("/dossiers", "dichvucong", SUBMISSION).status_code
                for _ in range(2)] == [201, 201]
        limited = api.post("/dossiers", "dichvucong", SUBMISSION)
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1


# ---- idempotency ---------------------------------------------------------------------------

def test_a_repeated_submission_is_one_dossier_with_the_first_answer(
        api: Api, app: HosoApplication) -> None:
    first = api.post("/dossiers", "dichvucong", SUBMISSION, idempotency_key="portal-000123")
    before = event_count(app)
    again = api.post("/dossiers", "dichvucong", SUBMISSION, idempotency_key="portal-000123")
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert event_count(app) == before


def test_a_repeated_action_is_one_event_with_the_first_answer(api: Api,
                                                              app: HosoApplication) -> None:
    dossier = receive(app).dossier_id
    hand_over(app, dossier, "tiepnhan", "STP-HCTP", "hctp")
    body = {"to_unit": "STP-BGD", "note": "Chuyển lãnh đạo ký"}
    first = api.post(f"/dossiers/{dossier}/transfers", "stp.hctp", body,
                     idempotency_key="stp-transfer-42")
    # Accepted meanwhile: the repeat is answered as the first time, not refused as stale.
    app.accept_transfer(dossier, expected_version=None, actor_id="gd.stp")
    again = api.post(f"/dossiers/{dossier}/transfers", "stp.hctp", body,
                     idempotency_key="stp-transfer-42")
    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (
        200, {"dossier_id": str(dossier), "action": "transfer"})
    assert sum(isinstance(e, Dossier.Transferred) for e in events_of(app, dossier)) == 2


def _concurrently(count: int, call: Any) -> list[Any]:
    start = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def run(i: int) -> None:
        start.wait()
        answers[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_concurrent_repeats_record_one_event_and_all_get_the_first_answer(
        api: Api, app: HosoApplication) -> None:
    submitted = _concurrently(4, lambda: api.post(
        "/dossiers", "dichvucong", SUBMISSION, idempotency_key="portal-concurrent-1"))
    assert {r.status_code for r in submitted} == {201}, [r.text for r in submitted]
    assert len({json.dumps(r.json(), sort_keys=True) for r in submitted}) == 1
    received = [n for n in app.recorder.select_notifications(start=1, limit=1000)
                if n.topic.endswith("Dossier.Received")]
    assert len(received) == 1

    dossier = at_reception_signed(app)
    app.dispatch(dossier, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB123456789VN")
    delivered = _concurrently(4, lambda: api.post(
        f"/dossiers/{dossier}/delivery", "vnpost", {"recipient_name": "Trần Thị Bích Ngọc"},
        idempotency_key="vnpost-EB123456789VN"))
    assert [r.status_code for r in delivered] == [200] * 4, [r.text for r in delivered]
    assert sum(isinstance(e, Dossier.Delivered) for e in events_of(app, dossier)) == 1


def test_the_same_key_with_another_body_is_refused(api: Api, app: HosoApplication) -> None:
    api.post("/dossiers", "dichvucong", SUBMISSION, idempotency_key="portal-000777")
    before = event_count(app)
    other = SUBMISSION | {"documents": ["Tờ khai"]}
    assert_error(api.post("/dossiers", "dichvucong", other, idempotency_key="portal-000777"),
                 409, "idempotency_key_reused")
    assert event_count(app) == before
    dossier = receive(app).dossier_id
    hand_over(app, dossier, "tiepnhan", "STP-HCTP", "hctp")
    before = event_count(app)
    api.post(f"/dossiers/{dossier}/transfers", "stp.hctp", {"to_unit": "STP-BGD"},
             idempotency_key="stp-transfer-77")
    assert event_count(app) == before + 2  # the transfer and its handled request
    assert_error(api.post(f"/dossiers/{dossier}/transfers", "stp.hctp",
                          {"to_unit": "STP-BGD", "note": "khác"},
                          idempotency_key="stp-transfer-77"), 409, "idempotency_key_reused")
    assert event_count(app) == before + 2


def test_partners_idempotency_keys_never_meet(api: Api, app: HosoApplication,
                                              clock: FakeClock) -> None:
    """Two partners choosing the same key get two dossiers, not each other's answer."""
    app.appoint_staff(admin_id="quantri", user_id="dichvucong2", full_name="Cổng thứ hai",
                      unit_code="TTHCC", roles=["reception"])
    api.keys["dichvucong2"] = api.partner_keys.create(
        partner_id="dichvucong2", name="Cổng thứ hai", scopes=[Scope.SUBMIT],
        now=clock()).secret_key
    one = api.post("/dossiers", "dichvucong", SUBMISSION, idempotency_key="order-0001")
    two = api.post("/dossiers", "dichvucong2", SUBMISSION, idempotency_key="order-0001")
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["dossier_id"] != two.json()["dossier_id"]


# ---- hostile input -------------------------------------------------------------------------

def _with_applicant(**changes: Any) -> dict[str, Any]:
    return SUBMISSION | {"applicant": SUBMISSION["applicant"] | changes}


HOSTILE_BODIES: list[tuple[Any, int]] = [
    (SUBMISSION | {"procedure_code": 2000488}, 400),
    (SUBMISSION | {"documents": "Tờ khai"}, 400),
    (SUBMISSION | {"documents": []}, 400),
    (SUBMISSION | {"documents": [None]}, 400),
    (SUBMISSION | {"channel": "counter"}, 400),  # a counter receipt is a clerk's
    (SUBMISSION | {"applicant": "Trần Thị Bích Ngọc"}, 400),
    (SUBMISSION | {"unexpected": True}, 400),
    ({k: v for k, v in SUBMISSION.items() if k != "applicant"}, 400),
    (SUBMISSION | {"occurred_at": "yesterday"}, 400),
    (SUBMISSION | {"occurred_at": "2026-11-23T09:00:00"}, 400),  # no offset
    (SUBMISSION | {"occurred_at": "2099-01-01T09:00:00+07:00"}, 422),  # in the future
    (SUBMISSION | {"procedure_code": "9.999999"}, 422),  # no such procedure
    (SUBMISSION | {"procedure_code": "2.000488\x00"}, 400),
    (_with_applicant(name="x" * 201), 400),
    (_with_applicant(name="x" * 10_000), 400),
    (_with_applicant(name="null\x00byte"), 422),  # PostgreSQL would refuse NUL in text
    (_with_applicant(name="chuông\x07"), 422),
    (_with_applicant(name="\ud800"), 400),  # a lone surrogate: no UTF-8 holds it
    (_with_applicant(address="esc\x1b[31m"), 422),
    (_with_applicant(phone="not a phone"), 422),
    (SUBMISSION | {"documents": ["Tờ khai\x00"]}, 422),
    ([SUBMISSION], 400),
    ("Tờ khai", 400),
    (None, 400),
    (12, 400),
]


def test_hostile_json_is_refused_in_json_and_records_nothing(api: Api,
                                                             app: HosoApplication) -> None:
    before = event_count(app)
    for body, status in HOSTILE_BODIES:
        response = api.post("/dossiers", "dichvucong", body)
        assert response.status_code == status, (body, response.text[:300])
        assert_error(response, status)
    assert event_count(app) == before


MALFORMED_BODIES: list[tuple[bytes, str, int]] = [
    (b"{not json", "application/json", 400),
    (b"\xff\xfe{}", "application/json", 400),  # not UTF-8
    (b'{"procedure_code": NaN}', "application/json", 400),
    (b"[" * 50_000 + b"]" * 50_000, "application/json", 413),
    (b"[" * 5_000 + b"]" * 5_000, "application/json", 400),  # deeper than a parser goes
    (b"", "application/json", 400),
    (b"procedure_code=2.000488", "application/x-www-form-urlencoded", 415),
    (json.dumps(SUBMISSION).encode(), "text/plain", 415),
    (b'{"a": "' + b"x" * 70_000 + b'"}', "application/json", 413),
]


def test_malformed_bodies_are_refused_in_json(api: Api, app: HosoApplication) -> None:
    before = event_count(app)
    for content, content_type, status in MALFORMED_BODIES:
        response = api.client.post("/api/v1/dossiers", content=content, headers={
            "Authorization": f"Bearer {api.keys['dichvucong']}",
            "Idempotency-Key": uuid4().hex, "Content-Type": content_type})
        assert response.status_code == status, (content[:50], response.text[:300])
        assert_error(response, status)
    assert event_count(app) == before


def test_a_state_changing_call_needs_a_valid_idempotency_key(api: Api,
                                                            app: HosoApplication) -> None:
    before = event_count(app)
    for key in [None, "short", "x" * 101, "with space 123", "ключ-1234567", "tab\tkey-123"]:
        headers = {"Authorization": f"Bearer {api.keys['dichvucong']}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = api.client.post("/api/v1/dossiers", json=SUBMISSION,
                                   headers={k.encode(): v.encode() for k, v in headers.items()})
        assert_error(response, 400, "malformed_request")
    assert event_count(app) == before


def test_unknown_dossiers_paths_and_methods_are_answered_in_json(
        api: Api, app: HosoApplication) -> None:
    for dossier in (uuid4(), "not-a-uuid", "%00"):
        assert_error(api.post(f"/dossiers/{dossier}/delivery", "vnpost",
                              {"recipient_name": "A"}), 404, "not_found")
    assert_error(api.client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(api.client.get("/api/v1/dossiers"), 405, "method_not_allowed")
    dossier = receive(app).dossier_id
    hand_over(app, dossier, "tiepnhan", "STP-HCTP", "hctp")
    assert_error(api.post(f"/dossiers/{dossier}/transfers", "stp.hctp", {"to_unit": "KHONGCO"}),
                 422, "refused")  # no such unit: the body's fault, not the path's


# ---- forgery -------------------------------------------------------------------------------

def test_a_browser_on_another_site_is_refused_but_servers_are_not(
        api: Api, app: HosoApplication) -> None:
    before = event_count(app)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert_error(api.post("/dossiers", "dichvucong", SUBMISSION, **headers), 403,
                     "cross_site")
    assert event_count(app) == before
    # Same origin, or no Origin at all (a partner's server): accepted.
    assert api.post("/dossiers", "dichvucong", SUBMISSION,
                    Origin="http://testserver").status_code == 201


def test_a_staff_session_cookie_does_not_get_in_the_way(api: Api, accounts: StaffAccounts,
                                                        app: HosoApplication) -> None:
    """A browser signed in as staff that also holds a partner key: the API ignores the
    session (no anti-forgery token needed), and the session gives no access by itself."""
    from tests.web_helpers import sign_in_as

    accounts.set_password("tiepnhan", "mat-khau-thu-nghiem")
    sign_in_as(api.client, "tiepnhan", "mat-khau-thu-nghiem")
    api.client.headers.pop("X-CSRF-Token", None)
    assert api.post("/dossiers", "dichvucong", SUBMISSION).status_code == 201
    assert_error(api.post("/dossiers", None, SUBMISSION), 401, "unauthenticated")


# ---- the command ---------------------------------------------------------------------------

def test_partner_keys_are_made_listed_and_revoked_by_the_command(
        store: Store, app: HosoApplication, accounts: StaffAccounts,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOSO_DATABASE_URL", url_of(store))
    appoint_partners(app)
    with pytest.raises(SystemExit, match="no member 'khongco'"):
        main(["partner-key", "create", "--partner", "khongco", "--scopes", "deliver"])
    with pytest.raises(SystemExit, match="scopes"):
        main(["partner-key", "create", "--partner", "vnpost", "--scopes", "deliver,fly"])
    main(["partner-key", "create", "--partner", "vnpost", "--scopes", "dispatch,deliver"])
    printed, warned = capsys.readouterr()
    # The post office delivers; handing results out is the counter's (the dossier's rules).
    assert "vnpost's roles (post_agent) cannot dispatch" in warned
    assert "cannot deliver" not in warned
    secret = printed.strip().splitlines()[-1]
    assert secret.startswith("hoso_") and "scopes deliver,dispatch" in printed
    keys = partner_keys_on(accounts.datastore)
    key = keys.authenticate(secret)
    assert key is not None and key.partner_id == "vnpost"
    main(["partner-key", "list"])
    listed = capsys.readouterr().out
    assert key.key_id in listed and "live" in listed and secret not in listed
    main(["partner-key", "revoke", key.key_id])
    assert keys.authenticate(secret) is None
    with pytest.raises(SystemExit, match="no live key"):
        main(["partner-key", "revoke", key.key_id])


# ---- the store away, a bug -------------------------------------------------------------------

def test_the_store_away_a_late_answer_and_a_bug_are_answered_in_json(
        store: Store, app: HosoApplication, accounts: StaffAccounts, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSO_REQUEST_DEADLINE", "0.5")
    appoint_partners(app)
    keys = partner_keys_on(accounts.datastore)
    secret = keys.create(partner_id="dichvucong", name="DVC", scopes=[Scope.SUBMIT],
                         now=clock()).secret_key
    web = create_app(store, app, accounts)
    with TestClient(web, raise_server_exceptions=False) as client:
        api = Api(client, {"dichvucong": secret}, keys)

        def away(*args: Any, **kwargs: Any) -> Any:
            raise psycopg.OperationalError("the database is restarting")

        with monkeypatch.context() as patch:
            patch.setattr(keys.__class__, "authenticate", away)
            unavailable = api.post("/dossiers", "dichvucong", SUBMISSION)
        assert_error(unavailable, 503, "store_unavailable")
        assert unavailable.headers["retry-after"] == "5"

        with monkeypatch.context() as patch:
            patch.setattr(app, "receive", lambda **_: time.sleep(2))
            late = api.post("/dossiers", "dichvucong", SUBMISSION)
        assert_error(late, 503, "store_unavailable")  # the request deadline

        def bug(**_: Any) -> Any:
            raise RuntimeError("a bug")

        with monkeypatch.context() as patch:
            patch.setattr(app, "receive", bug)
            broken = api.post("/dossiers", "dichvucong", SUBMISSION)
        assert_error(broken, 500, "internal_error")  # never an HTML page, never a trace
        assert "RuntimeError" not in broken.text


# ---- documents -----------------------------------------------------------------------------

def test_a_partner_lists_and_downloads_a_dossiers_documents_in_its_own_name(
        api: Api, app: HosoApplication, clock: FakeClock) -> None:
    scan = pdf(text="to khai")
    dossier = app.receive(actor_id="tiepnhan", procedure_code=PROCEDURE,
                          documents=["Bản chụp CCCD"],
                          attachments=[Attachment("Bản chụp CCCD", check_upload(
                              io.BytesIO(scan), "cccd.pdf"))], **APPLICANT).dossier_id
    reader = api.partner_keys.create(partner_id="tthcc.tra", name="Trả kết quả",
                                     scopes=[Scope.DOCUMENTS], now=clock()).secret_key
    bearer = {"Authorization": f"Bearer {reader}"}
    listed = api.client.get(f"/api/v1/dossiers/{dossier}/documents", headers=bearer)
    assert listed.status_code == 200, listed.text
    [entry] = listed.json()["documents"]
    assert (entry["document_type"], entry["file_name"], entry["purpose"]) == (
        "Bản chụp CCCD", "cccd.pdf", "received")
    got = api.client.get(f"/api/v1/dossiers/{dossier}/documents/{entry['sha256']}",
                         headers=bearer)
    assert got.status_code == 200 and got.content == scan
    # Both reads are on record in the partner's name, as a clerk's would be.
    today = clock().astimezone(HCMC).date()
    assert [(r.dossier_id, r.page) for r in app.readings("tthcc.tra", today)] == [
        (str(dossier), "document")] * 2
    assert_error(api.client.get(f"/api/v1/dossiers/{dossier}/documents/{'0' * 64}",
                                headers=bearer), 404)
    # A key without the scope, and a partner whose unit never held the dossier.
    assert_error(api.client.get(f"/api/v1/dossiers/{dossier}/documents",
                                headers={"Authorization": f"Bearer {api.keys['tthcc.tra']}"}),
                 403, "out_of_scope")
    outsider = api.partner_keys.create(partner_id="stp.hctp", name="STP",
                                       scopes=[Scope.DOCUMENTS], now=clock()).secret_key
    assert_error(api.client.get(f"/api/v1/dossiers/{dossier}/documents",
                                headers={"Authorization": f"Bearer {outsider}"}), 404)
