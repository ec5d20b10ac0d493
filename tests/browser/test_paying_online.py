"""Paying a fee online in a real browser (issue 19), on each store: a financial obligation
asked for during processing (portal status 6) is paid through the local VNPay simulator
(tests/vnpay_simulator.py), which speaks the gateway's protocol. The citizen's page sends the
browser to the gateway with a signed order; the gateway sends its signed notice (IPN) to the
served hoso, then the browser back. A payment cancelled at the bank leaves the page as it was;
the next one, paid, changes it.

Its own served hoso (the simulator's settings are read when the server starts).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx2
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from domain.application import HosoApplication
from projections.store import Store
from tests.browser.support import save_screenshot
from tests.conftest import _free_port
from tests.helpers import APPLICANT, hand_over, url_of, wait_for
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
    dossier_id: UUID
    public: str  # the citizen's page

    def events(self) -> list[str]:
        return [type(e).__name__ for e in self.app.repository.event_store.get(self.dossier_id)]


@pytest.fixture
def payable(store: Store, tmp_path: Path) -> Iterator[Payable]:
    """A served hoso pointed at the simulator, with a land dossier waiting for the levy."""
    app = HosoApplication(env=store.eventsourcing_env())
    dossier_id = app.receive(actor_id="tiepnhan", procedure_code=LAND, documents=[
        "Đơn đăng ký đất đai", "Giấy tờ về quyền sử dụng đất"], **APPLICANT).dossier_id
    hand_over(app, dossier_id, "tiepnhan", "VPDKDD", "vpdk")
    app.request_payment(dossier_id, expected_version=None, actor_id="vpdk", amount_vnd=LEVY,
                        reason="Lệ phí trước bạ theo thông báo số 12/TB-CCT")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    def deliver(query: str) -> dict[str, str]:
        """The gateway's notice, server to server, as VNPay sends it: a GET on the IPN URL."""
        answer: dict[str, str] = httpx2.get(f"{base}/payments/vnpay/ipn?{query}",
                                            timeout=20).json()
        return answer

    with VnpaySimulator(deliver) as gateway:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
        env |= {"HOSO_DATABASE_URL": url_of(store), "PYTHONUNBUFFERED": "1",
                "HOSO_PUBLIC_URL": base, "HOSO_PUBLIC_RATE_LIMIT": "0", **gateway.env()}
        server = Server(env, port, tmp_path / "serve.log")
        server.start()
        try:
            built = Payable(base, gateway, app, dossier_id,
                            f"{base}/t/{app.tracking_token(dossier_id)}")
            # The server's own follower fills the read models just after it starts.
            assert wait_for(lambda: httpx2.get(built.public, timeout=5).status_code == 200,
                            timeout=20), "the citizen's page of the dossier made beforehand"
            yield built
        finally:
            server.stop()
            app.close()


def _to_the_gateway(page: Page, payable: Payable) -> None:
    page.get_by_role("button", name="Thanh toán trực tuyến (VNPay)").click()
    page.wait_for_url(f"{payable.gateway.payment_url}?*")
    # The gateway's page, with the amount of the signed order.
    expect(page.locator("body")).to_contain_text("Số tiền: 1250000")


def test_the_citizen_pays_the_levy_online_and_sees_the_page_change(
        payable: Payable, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context().new_page()
    page.goto(payable.public)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Chờ thực hiện nghĩa vụ tài chính")
    expect(page.locator("#owed")).to_contain_text(f"1.250.000{NBSP}₫")
    expect(page.get_by_role("status").first).to_contain_text("tạm dừng cho đến khi bạn nộp đủ")
    before = payable.events()

    # First the citizen cancels at the bank: the notice is noted, nothing recorded.
    _to_the_gateway(page, payable)
    payable.gateway.outcome = "24"
    page.locator("#pay").click()
    page.wait_for_url(f"{payable.public}?payment=returned")
    assert payable.gateway.answers == [{"RspCode": "00", "Message": "Confirm Success"}]
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Chờ thực hiện nghĩa vụ tài chính")
    expect(page.locator("#owed")).to_contain_text(f"1.250.000{NBSP}₫")
    expect(page.locator("#owed")).to_contain_text("Cổng thanh toán chưa báo đã nhận tiền")
    assert payable.events() == before

    # Then pays: the gateway's notice records it, and the page the browser returns to says so.
    _to_the_gateway(page, payable)
    payable.gateway.outcome = "00"
    page.locator("#pay").click()
    page.wait_for_url(f"{payable.public}?payment=returned")
    assert payable.gateway.answers[-1] == {"RspCode": "00", "Message": "Confirm Success"}
    expect(page.get_by_role("heading", level=1)).to_have_text("Đang giải quyết")
    expect(page.locator("#owed")).to_have_text("Đã nhận đủ tiền. Cảm ơn bạn!")
    expect(page.get_by_role("button", name="Thanh toán trực tuyến (VNPay)")).to_have_count(0)
    expect(page.get_by_text("tạm dừng cho đến khi bạn nộp đủ")).to_have_count(0)
    expect(page.get_by_text("Cổng thanh toán đã xác nhận khoản nộp trực tuyến")).to_be_visible()
    save_screenshot(page, "public-status-paid-online.png")
    assert payable.events() == [*before, "FeePaid"]
    paid = payable.app.dossier(payable.dossier_id)
    assert (paid.amount_owed_vnd, paid.amount_paid_vnd) == (0, LEVY)
