"""Paying a fee online in a real browser (issue 19): a financial obligation asked for during
processing (portal status 6) is paid through the local VNPay simulator
(tests/vnpay_simulator.py), which speaks the gateway's protocol: the citizen's page sends the
browser to the gateway with a signed order, the gateway sends its signed notice (IPN) to the
served hoso, then the browser back; the citizen's page has changed.

Its own served hoso (the simulator's settings are read when the server starts), on SQLite
like the other browser tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import UUID

import httpx2
import pytest
from playwright.sync_api import BrowserContext, expect

from domain.application import HosoApplication
from projections.migrate import migrate
from projections.store import Store
from tests.browser.conftest import _wait_for
from tests.browser.support import save_screenshot
from tests.conftest import _free_port
from tests.helpers import APPLICANT, hand_over
from tests.reliability.test_crash_mid_write import Server
from tests.vnpay_simulator import VnpaySimulator

LAND = "1.004227"  # land registration: the tax office's levy is fixed during processing
LEVY = 1_250_000
NBSP = "\u00a0"


@dataclass(frozen=True)
class Payable:
    base: str
    gateway: VnpaySimulator
    app: HosoApplication  # the store's events, read by the test
    dossiers: tuple[UUID, ...]
    tokens: tuple[str, ...]

    def public(self, n: int) -> str:
        return f"{self.base}/t/{self.tokens[n]}"


@pytest.fixture(scope="module")
def payable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Payable]:
    """A served hoso pointed at the simulator, with two land dossiers waiting for the levy."""
    tmp = tmp_path_factory.mktemp("browser-payments")
    store = Store.from_url(f"sqlite:///{tmp / 'hoso.sqlite3'}")
    migrate(store)
    app = HosoApplication(env=store.eventsourcing_env())
    dossiers = []
    for _ in range(2):
        dossier_id = app.receive(actor_id="tiepnhan", procedure_code=LAND, documents=[
            "Đơn đăng ký đất đai", "Giấy tờ về quyền sử dụng đất"], **APPLICANT).dossier_id
        hand_over(app, dossier_id, "tiepnhan", "VPDKDD", "vpdk")
        app.request_payment(dossier_id, expected_version=None, actor_id="vpdk",
                            amount_vnd=LEVY, reason="Lệ phí trước bạ theo thông báo số 12/TB-CCT")
        dossiers.append(dossier_id)
    tokens = tuple(app.tracking_token(d) for d in dossiers)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    def deliver(query: str) -> dict[str, str]:
        """The gateway's notice, server to server, as VNPay sends it: a GET on the IPN URL."""
        answer: dict[str, str] = httpx2.get(f"{base}/payments/vnpay/ipn?{query}",
                                            timeout=20).json()
        return answer

    with VnpaySimulator(deliver) as gateway:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
        env |= {"HOSO_DATABASE_URL": f"sqlite:///{tmp / 'hoso.sqlite3'}",
                "PYTHONUNBUFFERED": "1", "HOSO_PUBLIC_URL": base,
                "HOSO_PUBLIC_RATE_LIMIT": "0", **gateway.env()}
        server = Server(env, port, tmp / "serve.log")
        server.start()
        try:
            built = Payable(base, gateway, app, tuple(dossiers), tokens)
            _wait_for(lambda: all(httpx2.get(built.public(n), timeout=5).status_code == 200
                                  for n in range(len(tokens))),
                      "the public pages of the dossiers waiting for the levy")
            yield built
        finally:
            server.stop()
            app.close()


def _events(payable: Payable, n: int) -> list[str]:
    return [type(e).__name__ for e in payable.app.repository.event_store.get(payable.dossiers[n])]


def test_the_citizen_pays_the_levy_online_and_sees_the_page_change(
        payable: Payable, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    page.goto(payable.public(0))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Chờ thực hiện nghĩa vụ tài chính")
    expect(page.locator("#owed")).to_contain_text(f"1.250.000{NBSP}₫")
    expect(page.get_by_role("status").first).to_contain_text("tạm dừng cho đến khi bạn nộp đủ")
    pay = page.get_by_role("button", name="Thanh toán trực tuyến (VNPay)")
    pay.click()
    # At the gateway, with the amount of the signed order.
    page.wait_for_url(f"{payable.gateway.payment_url}?*")
    expect(page.locator("body")).to_contain_text("Số tiền: 1250000")
    assert "FeePaid" not in _events(payable, 0)
    page.locator("#pay").click()
    # Back on the citizen's page, which says what the gateway's notice recorded.
    page.wait_for_url(f"{payable.public(0)}?payment=returned")
    assert payable.gateway.answers[-1] == {"RspCode": "00", "Message": "Confirm Success"}
    expect(page.get_by_role("heading", level=1)).to_have_text("Đang giải quyết")
    expect(page.locator("#owed")).to_have_text("Đã nhận đủ tiền. Cảm ơn bạn!")
    expect(pay).to_have_count(0)
    expect(page.get_by_text("tạm dừng cho đến khi bạn nộp đủ")).to_have_count(0)
    save_screenshot(page, "public-status-paid-online.png")
    assert _events(payable, 0)[-1] == "FeePaid"
    paid = payable.app.dossier(payable.dossiers[0])
    assert (paid.amount_owed_vnd, paid.amount_paid_vnd) == (0, LEVY)


def test_a_payment_cancelled_at_the_gateway_changes_nothing_on_the_page(
        payable: Payable, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    page.goto(payable.public(1))
    before = _events(payable, 1)
    page.get_by_role("button", name="Thanh toán trực tuyến (VNPay)").click()
    page.wait_for_url(f"{payable.gateway.payment_url}?*")
    payable.gateway.outcome = "24"  # the citizen cancels at the bank
    try:
        page.locator("#pay").click()
        page.wait_for_url(f"{payable.public(1)}?payment=returned")
    finally:
        payable.gateway.outcome = "00"
    assert payable.gateway.answers[-1]["RspCode"] == "00"  # noted, nothing recorded
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Chờ thực hiện nghĩa vụ tài chính")
    expect(page.locator("#owed")).to_contain_text(f"1.250.000{NBSP}₫")
    expect(page.locator("#owed")).to_contain_text("Cổng thanh toán chưa báo đã nhận tiền")
    expect(page.get_by_role("button", name="Thanh toán trực tuyến (VNPay)")).to_be_visible()
    assert _events(payable, 1) == before
