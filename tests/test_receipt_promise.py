"""A promise the citizen holds (issue 20): the receipt's QR code carries, beside the link, a
statement of what was promised, signed with the agency's key; each extension issues a new one.

The statements are read here as a citizen's phone would: the QR code decoded by zbarimg from
the page's own SVG, the key fetched once from /receipt-key, and the signature checked with
the `cryptography` library directly — not with hoso's reader — against the format docs
describe."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.testclient import TestClient

from domain import check_promise
from domain.application import HosoApplication
from domain.fees import FeeSchedule
from domain.promise import BrokenPromise, Promise, read_signed, sign
from domain.working_days import HCMC
from projections.receipt_key import new_receipt_key, public_pem
from projections.store import Dialect, Store
from tests.conftest import PUBLIC_URL
from tests.helpers import hand_over, receive
from tests.web_helpers import PASSWORD, sign_in_as

PROMISE = Promise.of(
    code="000.00.01.H29-261124-0007", procedure_code="2.000488",
    received_at=datetime(2026, 11, 24, 2, 30, 15, tzinfo=UTC), due_date=date(2026, 12, 8),
    documents=["Tờ khai", "Bản chụp CCCD"], fee_schedule=FeeSchedule(200_000, "TT 244/2016"),
    extension=0)


def test_the_statement_is_canonical_json_of_what_the_receipt_promises() -> None:
    assert PROMISE.statement() == (
        '{"code":"000.00.01.H29-261124-0007","docs":["Tờ khai","Bản chụp CCCD"],'
        '"due":"2026-12-08","ext":0,"fee":200000,"proc":"2.000488",'
        '"recv":"2026-11-24T09:30+07:00"}').encode()
    fixed_later = Promise.of(code="c", procedure_code="p", received_at=PROMISE.received_at,
                             due_date=PROMISE.due_date, documents=[],
                             fee_schedule=FeeSchedule(None, "rule"), extension=1)
    assert fixed_later.as_dict()["fee"] is None
    assert Promise.of(code="c", procedure_code="p", received_at=PROMISE.received_at,
                      due_date=PROMISE.due_date, documents=[], fee_schedule=None,
                      extension=0).as_dict()["fee"] == 0


def test_a_changed_statement_or_another_key_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign(PROMISE, key)
    assert read_signed("https://x/t/abc#" + signed, key.public_key())["due"] == "2026-12-08"
    statement, signature = signed.split(".")
    later = base64.urlsafe_b64encode(base64.urlsafe_b64decode(statement + "==").replace(
        b"2026-12-08", b"2026-12-18")).rstrip(b"=").decode()
    with pytest.raises(BrokenPromise):
        read_signed(f"{later}.{signature}", key.public_key())
    with pytest.raises(BrokenPromise):
        read_signed(signed, Ed25519PrivateKey.generate().public_key())


def test_the_offline_checker_says_what_was_promised(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "receipt-key.pem"
    pem.write_text(public_pem(key))
    scanned = "https://hoso.example.vn/t/abc#" + sign(PROMISE, key)
    out = io.StringIO()
    assert check_promise.main([scanned, str(pem)], out) == check_promise.VALID
    said = out.getvalue()
    assert said.startswith("HỢP LỆ / VALID")
    assert "Hẹn trả / Due on: 2026-12-08" in said
    assert "Giấy tờ đã nộp / Documents handed in: Tờ khai; Bản chụp CCCD" in said
    assert "Lệ phí (đồng) / Fee (VND): 200000" in said
    other = tmp_path / "other.pem"  # another agency's key, or one an impostor published
    other.write_text(public_pem(Ed25519PrivateKey.generate()))
    out = io.StringIO()
    assert check_promise.main([scanned, str(other)], out) == check_promise.INVALID
    assert out.getvalue().startswith("KHÔNG HỢP LỆ / NOT VALID")
    assert check_promise.main([scanned, str(tmp_path / "none.pem")]) == check_promise.UNREADABLE


# ---- as the citizen's phone reads it ---------------------------------------------------

def zbarimg() -> str:
    found = shutil.which("zbarimg")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no zbarimg to decode the QR code: install Debian's zbar-tools")
        pytest.skip("no zbarimg to decode the QR code: install Debian's zbar-tools")
    return found


def scanned(html: str, tmp_path: Path) -> str:
    """The text of the one QR code on the page, decoded from its SVG."""
    svgs = re.findall(r"<figure class=\"qr\">\s*(<svg.*?</svg>)", html, re.S)
    assert len(svgs) == 1, "one QR code on the form"
    picture = tmp_path / "qr.svg"
    picture.write_text(svgs[0])
    result = subprocess.run([zbarimg(), "--quiet", "--raw", str(picture)],
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout.strip()


def checked(scanned_text: str, published_pem: str) -> dict[str, Any]:
    """What an independent verifier does with the docs alone: split the fragment, decode
    base64url, verify Ed25519 over the domain prefix and the statement."""
    _link, fragment = scanned_text.split("#")
    statement_text, signature_text = fragment.split(".")
    statement = base64.urlsafe_b64decode(statement_text + "=" * (-len(statement_text) % 4))
    signature = base64.urlsafe_b64decode(signature_text + "=" * (-len(signature_text) % 4))
    key = load_pem_public_key(published_pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(signature, b"hoso-receipt-promise/1\n" + statement)  # raises if forged
    tampered = statement.replace(b'"ext":', b'"ext":1')
    with pytest.raises(InvalidSignature):
        key.verify(signature, b"hoso-receipt-promise/1\n" + tampered)
    value = json.loads(statement)
    assert isinstance(value, dict)
    return value


@pytest.fixture
def web(serve: Callable[..., TestClient], store: Store) -> TestClient:
    # On SQLite the key file is made beside the store; PostgreSQL needs the setting.
    env = dict(PUBLIC_URL)
    if store.dialect is Dialect.POSTGRESQL:
        env["HOSO_RECEIPT_SIGNING_KEY"] = new_receipt_key()
    return serve("tiepnhan", "hctp", **env)


def test_the_receipt_and_each_extension_carry_a_signed_promise(
        web: TestClient, app: HosoApplication, tmp_path: Path) -> None:
    dossier_id = receive(app).dossier_id
    dossier = app.dossier(dossier_id)
    published = web.get("/receipt-key")
    assert published.status_code == 200
    assert published.text.startswith("-----BEGIN PUBLIC KEY-----")

    sign_in_as(web, "tiepnhan", PASSWORD)
    receipt = web.get(f"/dossiers/{dossier_id}/receipt").text
    text = scanned(receipt, tmp_path)
    # A phone opens the link as before: the promise rides in the fragment.
    assert text.startswith(f"https://hoso.example.vn/t/{dossier.tracking_token}#")
    promise = checked(text, published.text)
    assert promise == {
        "code": dossier.code, "proc": "2.000488",
        "recv": dossier.received_at.astimezone(HCMC).strftime("%Y-%m-%dT%H:%M+07:00"),
        "due": dossier.due_date.isoformat(), "docs": ["Tờ khai", "Bản chụp CCCD"],
        "fee": 200_000, "ext": 0}
    # Where to find the key, broken only between the address and the path, marked as no
    # language (an address, neither Vietnamese nor English: the page walk reads past it).
    assert ('<span lang="zxx"><span class="unbroken">https://hoso.example.vn/</span><wbr>'
            '<span class="unbroken">receipt-key</span></span>') in receipt
    # What the statement says is what the receipt prints.
    assert dossier.code in receipt and dossier.due_date.strftime("%d/%m/%Y") in receipt
    assert dossier.received_at.astimezone(HCMC).strftime("%H:%M %d/%m/%Y") in receipt

    # An extension issues a new promise: printed with the apology and new appointment.
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    new_due = app.calendar.add_working_days(dossier.due_date, 3)
    outcome = app.extend(dossier_id, expected_version=None, actor_id="hctp",
                         new_due_date=new_due, reason="Cần xác minh thêm",
                         apology="Chúng tôi thành thật xin lỗi ông/bà.")
    assert web.app.state.services.read_models.wait(outcome.notification_id)  # type: ignore[attr-defined]
    sign_in_as(web, "hctp", PASSWORD)
    letter = web.get(f"/dossiers/{dossier_id}/apology/1").text
    renewed = checked(scanned(letter, tmp_path), published.text)
    assert (renewed["due"], renewed["ext"]) == (new_due.isoformat(), 1)
    assert {k: v for k, v in renewed.items() if k not in ("due", "ext")} == {
        k: v for k, v in promise.items() if k not in ("due", "ext")}
    assert new_due.strftime("%d/%m/%Y") in letter


def test_without_a_key_the_qr_carries_the_link_alone(
        serve: Callable[..., TestClient], store: Store, app: HosoApplication,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if store.dialect is not Dialect.POSTGRESQL:
        pytest.skip("a SQLite store makes its key file beside it")
    web = serve("tiepnhan", **PUBLIC_URL)
    assert "HOSO_RECEIPT_SIGNING_KEY is not set" in caplog.text  # said once, at start
    assert web.get("/receipt-key").status_code == 404
    dossier_id = receive(app).dossier_id
    sign_in_as(web, "tiepnhan", PASSWORD)
    text = scanned(web.get(f"/dossiers/{dossier_id}/receipt").text, tmp_path)
    assert text == f"https://hoso.example.vn/t/{app.dossier(dossier_id).tracking_token}"
