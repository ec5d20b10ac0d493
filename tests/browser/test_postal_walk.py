"""Issue 23 in a real browser, on each store: a dossier the post collects at the citizen's
address, received at the counter, processed, sent back by post, not delivered the first time
and delivered the second — the post's agent working from the post's own list on a phone."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from domain.application import HosoApplication
from projections.key_vault import open_key_vault
from projections.store import Store
from tests.browser.support import PASSWORD, STAFF, save_screenshot
from tests.conftest import _free_port
from tests.helpers import PROCEDURE, ensure_signing_key, url_of, walk_to_signed
from tests.reliability.test_crash_mid_write import Server
from web.accounts import open_accounts

PHONE = {"width": 360, "height": 780}


@dataclass(frozen=True)
class Served:
    base: str
    store: Store
    dossier_id: UUID
    code: str
    token: str

    def public(self) -> str:
        return f"{self.base}/t/{self.token}"


@contextmanager
def application(store: Store) -> Iterator[HosoApplication]:
    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    try:
        yield app
    finally:
        app.close()
        vault.close()


@pytest.fixture
def served(store: Store, tmp_path: Path) -> Iterator[Served]:
    """``hoso serve`` on the test store, after the citizen phoned the counter and a clerk
    asked the post to collect the dossier at her address."""
    accounts = open_accounts(store)
    try:
        for user in STAFF:
            accounts.set_password(user, PASSWORD)
    finally:
        accounts.close()
    with application(store) as app:
        ensure_signing_key(app)
        outcome = app.request_pickup(
            actor_id="tiepnhan", procedure_code=PROCEDURE, applicant_name="Vũ Thị Mai",
            applicant_phone="0934567812", applicant_address="45 Lê Thánh Tôn, Q.1",
            pickup_address="45 Lê Thánh Tôn, Quận 1, TP.HCM", documents=["Tờ khai"],
            idempotency_key="browser-pickup")
        dossier = app.dossier(outcome.dossier_id)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    env |= {"HOSO_DATABASE_URL": url_of(store), "PYTHONUNBUFFERED": "1",
            "HOSO_PUBLIC_URL": f"http://127.0.0.1:{port}", "HOSO_PUBLIC_RATE_LIMIT": "0"}
    server = Server(env, port, tmp_path / "serve.log")
    server.start()
    try:
        yield Served(server.base, store, dossier.id, dossier.code, dossier.tracking_token)
    finally:
        server.stop()


@pytest.fixture
def signed_in(served: Served,
              new_context: Callable[..., BrowserContext]) -> Callable[[str], Page]:
    def sign_in(user: str) -> Page:
        page = new_context().new_page()
        page.goto(f"{served.base}/signin")
        page.get_by_label("Tên đăng nhập").fill(user)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(lambda url: "/signin" not in url)
        return page

    return sign_in


def act(page: Page, action: str, fill: Callable[[Locator], object], then: str) -> None:
    """Do ``action`` from the dossier page's panel; its history then begins with ``then``."""
    panel = page.locator("#dossier-panel")
    form = panel.locator("details").filter(
        has=page.locator("summary", has_text=re.compile(f"^{action}$"))).locator("form")
    if not form.is_visible():
        panel.locator("summary", has_text=re.compile(f"^{action}$")).click()
    fill(form)
    form.get_by_role("button", name=action, exact=True).click()
    expect(panel.locator("ol.history li").first).to_contain_text(then)


def fits(page: Page) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def test_a_pickup_reaches_the_counter_and_its_result_the_citizen_on_the_second_attempt(
        served: Served, signed_in: Callable[[str], Page], citizen: Page) -> None:
    post = signed_in("buudien")
    post.set_viewport_size(PHONE)
    # The post's agent's home is the post's own list: one dossier to collect.
    post.get_by_role("link", name="hoso").click()
    expect(post).to_have_url(re.compile(r"/post$"))
    to_collect = post.locator("section#to_collect")
    expect(to_collect.get_by_role("heading")).to_have_text("Cần đến lấy hồ sơ (1)")
    assert fits(post)
    save_screenshot(post, "post-work-list-phone.png")
    to_collect.get_by_role("link", name=served.code).click()
    act(post, "Đã lấy hồ sơ tại địa chỉ", lambda form: (
        form.get_by_label("Mã bưu gửi").fill("EP777VN"),
        form.get_by_label("Giấy tờ đã nhận").fill("Tờ khai\nBản chụp CCCD")),
        then="Bưu điện đã lấy hồ sơ")
    post.goto(f"{served.base}/post")
    in_transit = post.locator("section#in_transit")
    expect(in_transit.get_by_role("heading")).to_have_text(
        "Đang chuyển đến bộ phận một cửa (1)")
    expect(in_transit).to_contain_text("EP777VN")
    in_transit.get_by_role("link", name=served.code).click()
    act(post, "Giao hồ sơ cho bộ phận một cửa", lambda form: None,
        then="Bưu điện giao hồ sơ cho bộ phận một cửa")

    # The counter's side of the hand-over: the processing clock starts here.
    clerk = signed_in("tiepnhan")
    clerk.get_by_role("link", name="Hồ sơ đến").click()
    clerk.get_by_role("link", name=served.code).click()
    act(clerk, "Nhận hồ sơ từ bưu điện", lambda form: None, then="Nhận hồ sơ từ bưu điện")
    expect(clerk.locator("#dossier-panel")).to_contain_text(
        "không tính vào thời gian giải quyết")

    # Processing (transfers, the signature) as tests/browser/test_counter_to_citizen.py
    # walks it in the browser: recorded here beside the server, which follows the log.
    with application(served.store) as app:
        walk_to_signed(app, served.dossier_id)

    clerk.reload()
    act(clerk, "Trả kết quả", lambda form: (
        form.get_by_role("radio", name="Gửi qua bưu điện").check(),
        form.get_by_label("Mã bưu gửi (khi gửi qua bưu điện)").fill("EB888VN")),
        then="Trả kết quả / gửi đi")

    post.goto(f"{served.base}/post")
    to_deliver = post.locator("section#to_deliver")
    expect(to_deliver.get_by_role("heading")).to_have_text("Cần phát kết quả (1)")
    to_deliver.get_by_role("link", name=served.code).click()
    act(post, "Phát không thành công", lambda form: form.get_by_label(
        "Không có người nhận").check(), then="Bưu điện phát không thành công")
    post.goto(f"{served.base}/post")
    failed = post.locator("section#failed")
    expect(failed.get_by_role("heading")).to_have_text("Phát không thành công, phát lại (1)")
    expect(failed).to_contain_text("đã phát không thành công 1 lần")
    assert fits(post)
    failed.get_by_role("link", name=served.code).click()
    act(post, "Xác nhận đã trao kết quả", lambda form: form.get_by_label(
        "Người nhận kết quả").fill("Vũ Thị Mai"), then="Công dân đã nhận kết quả")
    post.goto(f"{served.base}/post")
    expect(post.locator("section#failed").get_by_role("heading")).to_have_text(
        "Phát không thành công, phát lại (0)")

    # The citizen's page tells the whole way: the post's legs, the failed attempt, delivered.
    citizen.goto(served.public())
    expect(citizen.get_by_role("heading", level=1)).to_have_text("Đã trả kết quả")
    for step in ("Bưu điện đã lấy hồ sơ tại địa chỉ của bạn",
                 "Bộ phận một cửa đã tiếp nhận hồ sơ",
                 "Bưu điện chưa phát được kết quả, sẽ phát lại",
                 "Công dân đã nhận kết quả"):
        expect(citizen.get_by_text(step).first).to_be_visible()
