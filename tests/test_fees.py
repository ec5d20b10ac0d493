"""Issue 19: fees. The catalogue's fee schedule (changed by administrators as register
events, kept by each dossier as received), shown on the receipt, the public page and the
online form; amounts as exact integers of đồng, written per language."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.errors import AccessDenied, DomainError
from domain.fees import FeeSchedule, parse_amount
from domain.register import OrganisationRegister
from tests.conftest import PUBLIC_URL
from tests.helpers import APPLICANT, PROCEDURE, receive
from tests.web_helpers import PASSWORD, read_in, sign_in_as
from web.formatting import vnd
from web.i18n import using

NBSP = "\u00a0"
LAND = "1.004227"  # first land registration: an obligation fixed during processing


def test_amounts_are_written_as_each_language_writes_money() -> None:
    with using("vi"):
        assert vnd(1_250_000) == f"1.250.000{NBSP}₫"
        assert vnd(0) == f"0{NBSP}₫"
    with using("en"):
        assert vnd(1_250_000) == f"VND{NBSP}1,250,000"
    with pytest.raises(TypeError):
        vnd(1250000.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("typed", "amount"), [
    ("1.250.000", 1_250_000), ("1,250,000", 1_250_000), ("1250000", 1_250_000),
    ("200.000 ₫", 200_000), ("", None), ("0", 0)])
def test_typed_amounts_are_read_exactly(typed: str, amount: int | None) -> None:
    assert parse_amount(typed) == amount


@pytest.mark.parametrize("typed", ["1.5", "12,50", "-3", "mười", "1.2500.000"])
def test_typed_amounts_that_could_be_misread_are_refused(typed: str) -> None:
    with pytest.raises(DomainError, match="Số tiền"):
        parse_amount(typed)


def test_a_dossier_keeps_the_fee_schedule_it_was_received_under(
        app: HosoApplication) -> None:
    before = receive(app)
    app.set_fee_schedule(admin_id="quantri", procedure_code=PROCEDURE, amount_vnd=250_000,
                         legal_basis="Thông tư 99/2026/TT-BTC")
    after = receive(app)
    assert app.directory.procedure(PROCEDURE).fee == FeeSchedule(
        250_000, "Thông tư 99/2026/TT-BTC")
    old, new = app.dossier(before.dossier_id), app.dossier(after.dossier_id)
    assert old.fee_schedule is not None and old.fee_schedule.amount_vnd == 200_000
    assert new.fee_schedule is not None and new.fee_schedule.amount_vnd == 250_000
    [changed] = app.register_history()
    assert isinstance(changed, OrganisationRegister.FeeScheduleSet)
    assert (changed.actor_id, changed.amount_vnd) == ("quantri", 250_000)


def test_fee_schedule_changes_are_refused_in_words(app: HosoApplication) -> None:
    with pytest.raises(AccessDenied):
        app.set_fee_schedule(admin_id="tiepnhan", procedure_code=PROCEDURE, amount_vnd=1,
                             legal_basis="x")
    with pytest.raises(DomainError, match="cách xác định mức thu"):
        app.set_fee_schedule(admin_id="quantri", procedure_code=PROCEDURE, amount_vnd=None,
                             legal_basis="x")
    with pytest.raises(DomainError, match="căn cứ pháp lý"):
        app.set_fee_schedule(admin_id="quantri", procedure_code=PROCEDURE, amount_vnd=1,
                             legal_basis=" ")
    assert app.register_history() == []


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "quantri", **PUBLIC_URL)


def test_receipt_public_page_and_online_form_show_the_fee(web: TestClient) -> None:
    sign_in_as(web, "tiepnhan", PASSWORD)
    receipt = web.post("/dossiers", data={
        "procedure_code": PROCEDURE, "channel": "counter",
        "documents": ["Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp"], **APPLICANT})
    assert receipt.status_code == 200
    assert f"200.000{NBSP}₫" in receipt.text and "Thông tư số 244/2016/TT-BTC" in receipt.text
    link = re.search(r'href="https://hoso\.example\.vn(/t/[A-Za-z0-9_-]{22})"', receipt.text)
    assert link
    citizen = TestClient(web.app)
    page = citizen.get(link.group(1)).text
    assert f"200.000{NBSP}₫" in page and "hộ nghèo" in page
    read_in(citizen, "en")
    page = citizen.get(link.group(1)).text
    assert f"VND{NBSP}200,000" in page and "poor households" in page
    form = citizen.get(f"/online/{PROCEDURE}").text
    assert f"VND{NBSP}200,000" in form


def test_an_administrator_changes_a_fee_and_new_receipts_print_it(web: TestClient) -> None:
    sign_in_as(web, "quantri", PASSWORD)
    refused = web.post("/admin/fee_schedule", data={
        "procedure_code": PROCEDURE, "amount_vnd": "1.5", "legal_basis": "TT 1"})
    assert refused.status_code == 422 and "Số tiền ghi bằng chữ số" in refused.text
    changed = web.post("/admin/fee_schedule", data={
        "procedure_code": PROCEDURE, "amount_vnd": "1.250.000",
        "legal_basis": "Thông tư 99/2026/TT-BTC"})
    assert changed.status_code == 200
    assert f"Lệ phí thủ tục {PROCEDURE}: 1.250.000{NBSP}₫ (Thông tư 99/2026/TT-BTC)" \
        in changed.text
    land = web.post("/admin/fee_schedule", data={
        "procedure_code": LAND, "amount_vnd": "", "legal_basis": "Nghị định 1",
        "rule_vi": "Theo thông báo thuế", "rule_en": "As the tax office notifies"})
    assert land.status_code == 200 and "Theo thông báo thuế" in land.text
    sign_in_as(web, "tiepnhan", PASSWORD)
    receipt = web.post("/dossiers", data={
        "procedure_code": PROCEDURE, "channel": "counter", "documents": ["Tờ khai"],
        **APPLICANT})
    assert f"1.250.000{NBSP}₫" in receipt.text
