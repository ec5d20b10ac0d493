"""Signed decisions: officers' keys registered and revoked by events, the passphrase asked at
signing, the signature checked on every view and loud when it fails."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.dossier import Dossier
from domain.errors import AccessDenied, DomainError
from domain.keyring import OfficerKeyring
from domain.signing import (
    DecisionStatement,
    RegisteredKey,
    SignatureStatus,
    check_signature,
    generate_key,
    key_id_of,
    unseal,
)
from domain.transparency.entry import log_entry
from projections.runners import ReadModels
from projections.store import Store
from projections.verify import FindingKind, verify
from tests.conftest import FakeClock
from tests.helpers import (
    SIGNING_PASSPHRASE,
    ensure_signing_key,
    hand_over,
    receive,
    sign,
    walk_to_signed,
)
from tests.test_transparency_log import _edit, _raw, _row, _set_state
from tests.web_helpers import sign_in_as

STATEMENT = DecisionStatement(
    dossier_id=UUID("6f1c1b1e-0000-4000-8000-000000000001"), version=7,
    decision_number="15/QĐ-STP", decision_title="Phiếu lý lịch tư pháp số 1",
    document_sha256=None, unit="STP-BGD", key_id="gd.stp+0123456789abcdef",
    signed_at=datetime(2026, 11, 23, 3, 4, 5, 678000, tzinfo=UTC))


def test_the_statement_is_domain_separated_canonical_json() -> None:
    assert STATEMENT.message() == (
        b"hoso-decision-signature/1\n"
        b'{"decision_number":"15/Q\xc4\x90-STP","decision_title":"Phi\xe1\xba\xbfu l\xc3\xbd '
        b'l\xe1\xbb\x8bch t\xc6\xb0 ph\xc3\xa1p s\xe1\xbb\x91 1","document_sha256":null,'
        b'"dossier_id":"6f1c1b1e-0000-4000-8000-000000000001","key_id":"gd.stp+0123456789abcdef",'
        b'"signed_at":"2026-11-23T03:04:05.678000Z","unit":"STP-BGD","version":7}')


def _key(private: Ed25519PrivateKey, user: str = "gd.stp", **when: datetime | None
         ) -> RegisteredKey:
    public = private.public_key().public_bytes_raw()
    return RegisteredKey(key_id=key_id_of(user, public), user_id=user, unit_code="STP-BGD",
                         public_key=public,
                         registered_at=when.get("registered_at") or STATEMENT.signed_at
                         - timedelta(days=1),
                         revoked_at=when.get("revoked_at"))


def test_check_signature_says_why_it_fails() -> None:
    private = Ed25519PrivateKey.generate()
    key = _key(private)
    statement = DecisionStatement(**{**vars(STATEMENT), "key_id": key.key_id})
    signature = private.sign(statement.message())
    assert check_signature(statement, signature, key) is SignatureStatus.VALID
    edited = DecisionStatement(**{**vars(statement), "decision_number": "16/QĐ-STP"})
    assert check_signature(edited, signature, key) is SignatureStatus.INVALID
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert check_signature(statement, flipped, key) is SignatureStatus.INVALID
    assert check_signature(statement, b"", key) is SignatureStatus.INVALID
    assert check_signature(statement, signature, None) is SignatureStatus.UNKNOWN_KEY
    other = _key(Ed25519PrivateKey.generate())
    assert check_signature(statement, signature, other) is SignatureStatus.UNKNOWN_KEY
    revoked_before = _key(private, revoked_at=statement.signed_at - timedelta(minutes=1))
    assert check_signature(statement, signature, revoked_before) is SignatureStatus.REVOKED
    revoked_after = _key(private, revoked_at=statement.signed_at + timedelta(minutes=1))
    assert check_signature(statement, signature, revoked_after) is SignatureStatus.VALID
    later = _key(private, registered_at=statement.signed_at + timedelta(minutes=1))
    assert check_signature(statement, signature, later) is SignatureStatus.NOT_YET_REGISTERED
    assert check_signature(statement, None, key) is SignatureStatus.UNSIGNED


def test_a_sealed_key_opens_only_with_its_passphrase_and_id() -> None:
    new = generate_key("gd.stp", "một câu mật khẩu dài")
    assert new.public_key not in new.sealed
    opened = unseal(new.sealed, new.key_id, "một câu mật khẩu dài")
    assert opened.public_key().public_bytes_raw() == new.public_key
    with pytest.raises(DomainError, match="Mật khẩu khóa ký không đúng"):
        unseal(new.sealed, new.key_id, "một câu mật khẩu sai")
    with pytest.raises(DomainError, match="không đúng"):
        unseal(new.sealed, "gd.stp+ffffffffffffffff", "một câu mật khẩu dài")
    with pytest.raises(DomainError, match="ít nhất 12 ký tự"):
        generate_key("gd.stp", "ngắn")


def _at_signing_desk(app: HosoApplication) -> UUID:
    d = receive(app).dossier_id
    hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, d, "hctp", "STP-BGD", "gd.stp")
    return d


def test_signing_records_a_signature_that_verifies(app: HosoApplication) -> None:
    d = _at_signing_desk(app)
    document = b"%PDF-1.7 quyet dinh"
    sign(app, d, document=document)
    signed = next(e for e in app.repository.event_store.get(d) if isinstance(e, Dossier.Signed))
    key = app.signing_keys("gd.stp")[0]
    assert signed.key_id == key.key_id
    assert signed.document_sha256 == hashlib.sha256(document).hexdigest()
    [checked] = app.decision_signatures(d)
    assert checked.status is SignatureStatus.VALID
    assert (checked.unit_code, checked.signer_id, checked.decision_number) == (
        "STP-BGD", "gd.stp", "15/PLLTP")


def test_a_wrong_passphrase_or_no_key_signs_nothing(app: HosoApplication) -> None:
    d = _at_signing_desk(app)
    before = app.dossier(d).version
    with pytest.raises(DomainError, match="chưa có khóa ký số"):
        app.sign(d, expected_version=None, actor_id="gd.stp", decision_number="1",
                 decision_title="x", passphrase=SIGNING_PASSPHRASE)
    ensure_signing_key(app)
    with pytest.raises(DomainError, match="Mật khẩu khóa ký không đúng"):
        app.sign(d, expected_version=None, actor_id="gd.stp", decision_number="1",
                 decision_title="x", passphrase="not the passphrase")
    assert app.dossier(d).version == before
    # The rules are checked before the key: another unit's clerk is told the file is not
    # hers to act on, not that she has no key.
    with pytest.raises(AccessDenied, match="chỉ đơn vị đang giữ hồ sơ"):
        app.sign(d, expected_version=None, actor_id="hctp", decision_number="1",
                 decision_title="x", passphrase=SIGNING_PASSPHRASE)


def test_one_key_in_use_at_a_time_and_only_ones_own(app: HosoApplication) -> None:
    ensure_signing_key(app)
    with pytest.raises(DomainError, match="thu hồi khóa đó trước"):
        app.register_signing_key(officer_id="gd.stp", passphrase=SIGNING_PASSPHRASE)
    with pytest.raises(AccessDenied, match="Chỉ người có thẩm quyền ký"):
        app.register_signing_key(officer_id="hctp", passphrase=SIGNING_PASSPHRASE)
    [key] = app.signing_keys("gd.stp")
    with pytest.raises(AccessDenied, match="Chỉ chính cán bộ hoặc quản trị viên"):
        app.revoke_signing_key(actor_id="hctp", key_id=key.key_id, reason="thử")
    app.revoke_signing_key(actor_id="gd.stp", key_id=key.key_id, reason="Quên mật khẩu")
    assert app.key_vault.get(key.key_id) is None  # the private half is destroyed
    ensure_signing_key(app)
    assert [k.revoked_at is None for k in app.signing_keys("gd.stp")] == [False, True]


def test_a_revocation_after_signing_leaves_the_decision_valid(app: HosoApplication,
                                                               clock: FakeClock) -> None:
    d = _at_signing_desk(app)
    sign(app, d)
    clock.advance(hours=1)
    [key] = app.signing_keys("gd.stp")
    app.revoke_signing_key(actor_id="gd.stp", key_id=key.key_id, reason="Chuyển công tác")
    [checked] = app.decision_signatures(d)
    assert checked.status is SignatureStatus.VALID and checked.key_revoked_at is not None
    another = _at_signing_desk(app)
    with pytest.raises(DomainError, match="chưa có khóa ký số"):
        app.sign(another, expected_version=None, actor_id="gd.stp", decision_number="2",
                 decision_title="x", passphrase=SIGNING_PASSPHRASE)


def test_private_keys_never_reach_the_event_store(store: Store, app: HosoApplication) -> None:
    d = _at_signing_desk(app)
    sign(app, d)
    [key] = app.signing_keys("gd.stp")
    sealed = app.key_vault.get(key.key_id)
    assert sealed is not None
    private = unseal(sealed, key.key_id, SIGNING_PASSPHRASE).private_bytes_raw()
    with _raw(store) as (conn, table, _):
        states = [bytes(row[0]) for row in conn.execute(f"SELECT state FROM {table}")]
    secrets = (private, base64.b64encode(private), private.hex().encode(), sealed,
               json.loads(sealed)["ciphertext"].encode())
    assert states and not any(s in state for s in secrets for state in states)


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def test_keyring_events_are_in_the_log_and_verified(store: Store, app: HosoApplication,
                                                    models: ReadModels) -> None:
    d = _at_signing_desk(app)
    sign(app, d)
    models.catch_up()
    keyring = OfficerKeyring.create_id("gd.stp")
    entries = models.transparency_log.dossier_entries(keyring)
    assert [json.loads(e.entry)["type"] for e in entries] == ["Opened", "KeyRegistered"]
    assert json.loads(entries[1].entry)["format"] == "hoso-log-keyring-entry/2"
    assert verify(app, models.transparency_log).ok
    # Swap the registered public key for one the forger holds: the log notices.
    position, state = _row(store, keyring, 2)
    forged = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    _set_state(store, position, _edit(state, public_key=forged.decode()))
    report = verify(app, models.transparency_log)
    assert [(f.kind, f.position, f.dossier_code) for f in report.findings] == [
        (FindingKind.MODIFIED, position, "keyring gd.stp")]


def test_a_decision_edited_in_the_store_is_shown_invalid(store: Store,
                                                          app: HosoApplication) -> None:
    d = _at_signing_desk(app)
    sign(app, d)
    position, state = _row(store, d, app.dossier(d).version)
    _set_state(store, position, _edit(state, decision_number="99/QĐ"))
    [checked] = app.decision_signatures(d)
    assert checked.status is SignatureStatus.INVALID


def test_an_entry_for_a_decision_recorded_before_signatures_is_unchanged() -> None:
    signed = object.__new__(Dossier.Signed)
    signed.__dict__.update(
        originator_id=uuid4(), originator_version=5,
        timestamp=datetime(2026, 11, 2, tzinfo=UTC), actor_id="gd.stp", actor_unit="STP-BGD",
        occurred_at=datetime(2026, 11, 2, tzinfo=UTC), decision_number="1",
        decision_title="x")
    before = log_entry(signed, origin="o", salt=b"s", previous_leaf=None)
    Dossier.Signed.upcast_v1_v2(signed.__dict__)
    assert log_entry(signed, origin="o", salt=b"s", previous_leaf=None) == before


# ---- pages ---------------------------------------------------------------------------


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("gd.stp", "hctp", "quantri", "thanhtra", password="mat-khau-thu")


def _sign_in(client: TestClient, user: str) -> None:
    sign_in_as(client, user, "mat-khau-thu")


def test_the_signing_key_page(web: TestClient, app: HosoApplication) -> None:
    _sign_in(web, "hctp")
    assert web.get("/signing-key").status_code == 403
    _sign_in(web, "gd.stp")
    page = web.get("/signing-key")
    assert "Bạn chưa có khóa ký" in page.text and "Đăng ký khóa ký mới" in page.text
    mismatch = web.post("/signing-key/register", data={
        "passphrase": SIGNING_PASSPHRASE, "passphrase_again": SIGNING_PASSPHRASE + "x"})
    assert mismatch.status_code == 422 and "không khớp" in mismatch.text
    short = web.post("/signing-key/register", data={"passphrase": "ngắn",
                                                     "passphrase_again": "ngắn"})
    assert short.status_code == 422 and "ít nhất 12 ký tự" in short.text
    done = web.post("/signing-key/register", data={
        "passphrase": SIGNING_PASSPHRASE, "passphrase_again": SIGNING_PASSPHRASE})
    [key] = app.signing_keys("gd.stp")
    assert "Đã đăng ký khóa ký mới" in done.text and key.key_id in done.text
    assert "Đăng ký khóa ký mới <span" not in done.text  # one key in use at a time
    _sign_in(web, "quantri")
    admin_page = web.get("/signing-key")
    assert admin_page.status_code == 200 and key.key_id in admin_page.text
    revoked = web.post("/signing-key/revoke", data={"key_id": key.key_id,
                                                    "reason": "Chuyển công tác"})
    assert "Đã thu hồi khóa ký" in revoked.text
    assert app.signing_keys("gd.stp")[0].revoke_reason == "Chuyển công tác"


def test_the_public_page_is_loud_when_a_signature_fails(web: TestClient, store: Store,
                                                         app: HosoApplication) -> None:
    d = receive(app).dossier_id
    walk_to_signed(app, d)
    assert web.app.state.services.read_models.wait(app.recorder.max_notification_id())
    link = f"/t/{app.dossier(d).tracking_token}"
    page = web.get(link).text
    assert "ký bởi Ban Giám đốc Sở Tư pháp" in page and "chữ ký hợp lệ" in page
    assert 'role="alert"' not in page
    signed_version = next(e.originator_version for e in app.repository.event_store.get(d)
                          if isinstance(e, Dossier.Signed))
    position, state = _row(store, d, signed_version)
    _set_state(store, position, _edit(state, decision_title="Một quyết định khác"))
    page = web.get(link).text
    assert "CHỮ KÝ KHÔNG HỢP LỆ" in page and 'role="alert"' in page
    assert "chữ ký hợp lệ" not in page
    _sign_in(web, "thanhtra")
    audit = web.get(f"/dossiers/{d}/audit").text
    [key] = app.signing_keys("gd.stp")
    assert "Chữ ký quyết định" in audit and key.key_id in audit
    assert "CHỮ KÝ KHÔNG HỢP LỆ" in audit


def test_the_audit_page_names_the_key_and_says_valid(web: TestClient,
                                                      app: HosoApplication) -> None:
    d = receive(app).dossier_id
    walk_to_signed(app, d)
    _sign_in(web, "thanhtra")
    audit = web.get(f"/dossiers/{d}/audit").text
    [key] = app.signing_keys("gd.stp")
    assert key.key_id in audit and "Phạm Văn Đức" in audit
    assert re.search(r"ký bởi Ban Giám đốc Sở Tư pháp[^<]*— <strong>chữ ký hợp lệ", audit)


def test_deactivating_an_officer_revokes_their_key_at_once(app: HosoApplication) -> None:
    ensure_signing_key(app)
    [key] = app.signing_keys("gd.stp")
    app.deactivate_staff(admin_id="quantri", user_id="gd.stp", reason="Nghỉ hưu")
    [revoked] = app.signing_keys("gd.stp")
    assert revoked.revoked_at is not None and "Nghỉ hưu" in revoked.revoke_reason
    assert app.key_vault.get(key.key_id) is None
