"""Issue 19.3: paying online through VNPay's protocol, against a local simulator of the
gateway: the signed payment URL, the IPN answered per the protocol (00/01/02/04/97/99),
idempotent, and nothing recorded from the browser's return alone."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.dossier import Dossier
from tests.conftest import PUBLIC_URL, FakeClock
from tests.helpers import hand_over, receive
from tests.vnpay_simulator import HASH_SECRET, TMN_CODE, VnpaySimulator
from tests.web_helpers import read_in
from web.vnpay import VnpaySettings, answer_notice, hash_data, signature, signed

NBSP = "\u00a0"
SETTINGS = VnpaySettings(TMN_CODE, HASH_SECRET, "http://gateway.invalid/pay")


def test_the_signature_covers_the_sorted_url_encoded_parameters() -> None:
    params = {"vnp_TxnRef": "5", "vnp_Amount": "1806000",
              "vnp_OrderInfo": "Thanh toan don hang :5", "vnp_SecureHash": "x", "other": "y"}
    assert hash_data(params) == \
        "vnp_Amount=1806000&vnp_OrderInfo=Thanh+toan+don+hang+%3A5&vnp_TxnRef=5"
    assert len(signature(params, "k")) == 128  # HMAC-SHA512, hex


def test_an_unexpected_failure_is_answered_99() -> None:
    def broken(*_: object) -> object:
        raise RuntimeError("store down")

    gateway = VnpaySimulator(lambda q: {})
    notice = gateway.result({"vnp_Amount": "100", "vnp_OrderInfo": "x",
                             "vnp_CreateDate": "20261123090000", "vnp_TxnRef": "x"})
    assert answer_notice(notice, SETTINGS, broken) == {
        "RspCode": "99", "Message": "Unknown error"}
    assert answer_notice(notice, None, broken)["RspCode"] == "97"  # not set up: refused


@pytest.fixture
def citizen_and_gateway(serve: Callable[..., TestClient],
                        app: HosoApplication) -> Iterator[tuple[TestClient, VnpaySimulator]]:
    holder: list[TestClient] = []

    def deliver(query: str) -> dict[str, str]:
        answer: dict[str, str] = holder[0].get(f"/payments/vnpay/ipn?{query}").json()
        return answer

    with VnpaySimulator(deliver) as gateway:
        web = serve(**PUBLIC_URL, **gateway.env())
        holder.append(web)
        yield web, gateway


def _order(web: TestClient, token: str) -> str:
    """The citizen presses "pay": the signed order the browser is sent to the gateway with."""
    sent = web.post(f"/t/{token}/pay", follow_redirects=False)
    assert sent.status_code == 303
    return sent.headers["location"]


def _paid_through(gateway_url: str) -> str:
    """The browser at the gateway: its page, then its "pay" button; where it is sent back."""
    with urllib.request.urlopen(gateway_url) as page:
        form = page.read().decode()
    order = re.search(r'name="order" value="([^"]+)"', form)
    assert order
    import html

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    pay = urllib.request.Request(
        gateway_url.replace("vpcpay.html", "pay").split("?")[0],
        data=urlencode({"order": html.unescape(order.group(1))}).encode(), method="POST")
    try:
        opener.open(pay)
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
        return str(redirect.headers["Location"])
    raise AssertionError("the gateway sends the browser back")


def test_paying_online_records_the_payment_from_the_notice_only(
        citizen_and_gateway: tuple[TestClient, VnpaySimulator], app: HosoApplication) -> None:
    web, gateway = citizen_and_gateway
    outcome = receive(app)
    token = app.tracking_token(outcome.dossier_id)
    assert web.app.state.services.read_models.wait(outcome.notification_id)  # type: ignore
    page = web.get(f"/t/{token}").text
    assert f"200.000{NBSP}₫" in page and "Thanh toán trực tuyến (VNPay)" in page
    url = _order(web, token)
    order = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith(gateway.payment_url)
    assert (order["vnp_Amount"], order["vnp_CurrCode"], order["vnp_Version"]) == (
        "20000000", "VND", "2.1.0")
    # The browser's return alone, signed as the gateway would, before any notice: nothing.
    early = web.get(f"/payments/vnpay/return?{urlencode(gateway.result(order))}")
    assert early.status_code == 200 and "Cổng thanh toán chưa báo đã nhận tiền" in early.text
    assert app.dossier(outcome.dossier_id).amount_owed_vnd == 200_000
    back = _paid_through(url)
    assert gateway.answers == [{"RspCode": "00", "Message": "Confirm Success"}]
    page = web.get(back.replace("https://hoso.example.vn", "")).text
    assert "Đã nhận đủ tiền" in page and "Thanh toán trực tuyến (VNPay)" not in page
    # The history names the gateway's confirmation, not a clerk's entry.
    assert "Cổng thanh toán đã xác nhận khoản nộp trực tuyến" in page
    assert "Đã ghi nhận khoản đã nộp" not in page
    read_in(web, "en")
    assert "Online payment confirmed by the payment gateway" in web.get(f"/t/{token}").text
    [paid] = [e for e in app.repository.event_store.get(outcome.dossier_id)
              if isinstance(e, Dossier.FeePaid)]
    assert (paid.amount_vnd, paid.method, paid.order_ref) == (
        200_000, "online", order["vnp_TxnRef"])


def test_each_refused_notice_changes_nothing(
        citizen_and_gateway: tuple[TestClient, VnpaySimulator], app: HosoApplication) -> None:
    web, gateway = citizen_and_gateway
    outcome = receive(app)
    token = app.tracking_token(outcome.dossier_id)
    assert web.app.state.services.read_models.wait(outcome.notification_id)  # type: ignore
    order = dict(parse_qsl(urlsplit(_order(web, token)).query))

    def ipn(params: dict[str, str]) -> str:
        code: str = web.get(f"/payments/vnpay/ipn?{urlencode(params)}").json()["RspCode"]
        return code

    def events() -> int:
        return len(list(app.repository.event_store.get(outcome.dossier_id)))

    before = events()
    good = gateway.result(order)
    forged = {**good, "vnp_Amount": "100"}  # altered after signing
    assert ipn(forged) == "97"
    assert ipn({**good, "vnp_SecureHash": "0" * 128}) == "97"
    assert ipn(signed({**good, "vnp_TmnCode": "OTHER"}, HASH_SECRET)) == "97"  # not ours
    assert ipn(signed(good, "another merchant's secret")) == "97"
    assert ipn(gateway.result(order, vnp_Amount="10000000")) == "04"  # half the fee
    assert ipn(gateway.result(order, vnp_Amount="20000050")) == "04"  # not whole đồng
    assert ipn(gateway.result(order, vnp_TxnRef="f" * 32 + "V1Nabc")) == "01"
    assert ipn(gateway.result(order, vnp_TxnRef="not-ours")) == "01"
    assert ipn(gateway.result(order, vnp_TxnRef=order["vnp_TxnRef"].replace("V1N", "V9N"))) \
        == "01"
    gateway.outcome = "24"  # the citizen cancelled at the bank: noted, nothing recorded
    assert ipn(gateway.result(order)) == "00"
    assert events() == before
    assert ipn(good) == "00"
    assert events() == before + 1
    assert ipn(good) == "02"  # the same notice again
    gateway.outcome = "00"
    assert ipn(gateway.result(order)) == "02"  # a replay under another transaction number
    retry = {**order, "vnp_TxnRef": order["vnp_TxnRef"][:-4] + "zzzz"}
    assert ipn(gateway.result(retry)) == "02"  # another attempt at the same order
    assert events() == before + 1
    assert app.dossier(outcome.dossier_id).amount_paid_vnd == 200_000
    assert web.post(f"/t/{token}/pay", follow_redirects=False).status_code == 422


def test_an_obligation_paid_online_moves_the_due_date_by_exactly_the_working_days_waited(
        citizen_and_gateway: tuple[TestClient, VnpaySimulator], app: HosoApplication,
        clock: FakeClock) -> None:
    web, gateway = citizen_and_gateway
    # Received on Monday 23 Nov 2026 at 09:00: 10 working days, due Tuesday 8 Dec.
    outcome = receive(app)
    dossier_id = outcome.dossier_id
    token = app.tracking_token(dossier_id)
    app.record_payment(dossier_id, expected_version=None, actor_id="tiepnhan",
                       amount_vnd=200_000, method="cash", receipt_number="BL-1")
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    assert app.dossier(dossier_id).due_date == date(2026, 12, 8)
    clock.advance(hours=1)
    requested = app.request_payment(dossier_id, expected_version=None, actor_id="hctp",
                                    amount_vnd=1_250_000,
                                    reason="Lệ phí trước bạ theo thông báo thuế")
    assert web.app.state.services.read_models.wait(requested.notification_id)  # type: ignore
    # Paid through the gateway on Wednesday 2 Dec: the wait holds 25, 26, 27 and 30 Nov,
    # 1 and 2 Dec — six working days (24 Nov is a holiday, 28–29 Nov a weekend).
    clock.advance(days=9)
    _paid_through(_order(web, token))
    assert gateway.answers[-1]["RspCode"] == "00"
    [paid] = [e for e in app.repository.event_store.get(dossier_id)
              if isinstance(e, Dossier.FeePaid) and e.method == "online"]
    assert (paid.resumed, paid.paused_working_days, paid.due_date) == (
        True, 6, date(2026, 12, 16))
    assert app.dossier(dossier_id).due_date == date(2026, 12, 16)
    page = web.get(f"/t/{token}").text
    assert "16/12/2026" in page and "Đang giải quyết" in page
    assert "tạm dừng cho đến khi bạn nộp đủ" not in page
