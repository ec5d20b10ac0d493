"""Issue 19.4: refunds as events, and the fee red flags (a payment unlike the schedule, a
fee recorded after the result), each seen and not seen, on both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from domain.application import HosoApplication
from domain.dossier import Dossier
from domain.errors import DomainError
from domain.working_days import HCMC
from projections.red_flags import Period, RedFlag, ReviewData, red_flags
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, hand_over, receive, walk_to_signed
from tests.web_helpers import PASSWORD, read_in, sign_in_as

Flags = Callable[[], dict[str, RedFlag]]


@pytest.fixture
def flags(store: Store, app: HosoApplication, clock: FakeClock) -> Iterator[Flags]:
    models = ReadModels(store, app)

    def compute() -> dict[str, RedFlag]:
        models.catch_up()
        today = clock().astimezone(HCMC).date()
        data = ReviewData.load(models.review, Period(today - timedelta(days=30),
                                                     today + timedelta(days=1), None),
                               clock(), None, models.readings)
        return {f.key: f for f in red_flags(data)}

    yield compute
    models.close()


def pay(app: HosoApplication, dossier_id: Any, amount: int, number: str = "BL-1") -> None:
    app.record_payment(dossier_id, expected_version=None, actor_id="tiepnhan",
                       amount_vnd=amount, method="cash", receipt_number=number)


def test_a_withdrawn_dossier_gets_its_fee_back_once(app: HosoApplication) -> None:
    d = receive(app).dossier_id
    pay(app, d, 200_000)
    with pytest.raises(DomainError, match="Không có khoản nào cần hoàn trả"):
        app.refund(d, expected_version=None, actor_id="tiepnhan", amount_vnd=200_000,
                   reason="x", receipt_number="PC-1")
    app.withdraw(d, expected_version=None, actor_id="tiepnhan", reason="Công dân rút")
    assert app.dossier(d).refundable_vnd == 200_000 and app.dossier(d).amount_owed_vnd == 0
    with pytest.raises(DomainError, match="tối đa 200000 đồng"):
        app.refund(d, expected_version=None, actor_id="tiepnhan", amount_vnd=250_000,
                   reason="x", receipt_number="PC-1")
    app.refund(d, expected_version=None, actor_id="tiepnhan", amount_vnd=200_000,
               reason="Rút hồ sơ trước khi giải quyết", receipt_number="PC-1")
    [refunded] = [e for e in app.repository.event_store.get(d)
                  if isinstance(e, Dossier.FeeRefunded)]
    assert (refunded.amount_vnd, refunded.receipt_number) == (200_000, "PC-1")
    assert app.dossier(d).refundable_vnd == 0


def test_an_overpayment_is_refundable_and_flagged_and_an_exact_one_is_not(
        app: HosoApplication, flags: Flags) -> None:
    over, exact = receive(app).dossier_id, receive(app).dossier_id
    pay(app, over, 300_000)
    pay(app, exact, 200_000)
    assert app.dossier(over).refundable_vnd == 100_000
    assert app.dossier(exact).refundable_vnd == 0
    differs = flags()["fee_differs"]
    assert {f.dossier_id for f in differs.dossiers} == {str(over)}
    assert differs.dossiers[0].detail.vi == \
        "Thu 300.000 đồng tại quầy khi số phải nộp là 200.000 đồng"


def test_a_fee_recorded_after_the_result_is_flagged(app: HosoApplication,
                                                    flags: Flags) -> None:
    late, on_time = receive(app).dossier_id, receive(app).dossier_id
    pay(app, on_time, 200_000)
    walk_to_signed(app, late)
    walk_to_signed(app, on_time)
    pay(app, late, 200_000)
    after = flags()["fee_after_result"]
    assert {f.dossier_id for f in after.dossiers} == {str(late)}
    assert after.dossiers[0].detail.vi.startswith("Ghi nhận nộp 200.000 đồng lúc ")


LAND = "1.004227"  # its obligation is fixed during processing (portal status 6)
PASSPORT = "2.002206"  # received at the immigration office, not the city's centre
NBSP = "\u00a0"


def _fees_collected(app: HosoApplication) -> Any:
    """At the city's centre: criminal records paid in cash, online, and one refunded after
    withdrawal; a land registration's obligation of 123.456.789 đồng paid online. At the
    immigration office: a passport paid in cash. Returns the last outcome."""
    cash, online, refunded = (receive(app).dossier_id for _ in range(3))
    pay(app, cash, 200_000)
    order = app.online_payment_order(online)
    assert order is not None and order.amount_vnd == 200_000
    app.confirm_online_payment(order_ref=order.ref, amount_vnd=200_000, transaction_no="1")
    pay(app, refunded, 200_000)
    app.withdraw(refunded, expected_version=None, actor_id="tiepnhan", reason="Rút")
    app.refund(refunded, expected_version=None, actor_id="tiepnhan", amount_vnd=200_000,
               reason="Rút hồ sơ", receipt_number="PC-1")
    land = app.receive(actor_id="tiepnhan", procedure_code=LAND, documents=[
        "Đơn đăng ký đất đai", "Giấy tờ về quyền sử dụng đất"], **APPLICANT).dossier_id
    hand_over(app, land, "tiepnhan", "VPDKDD", "vpdk")
    app.request_payment(land, expected_version=None, actor_id="vpdk", amount_vnd=123_456_789,
                        reason="Tiền sử dụng đất theo thông báo thuế")
    order = app.online_payment_order(land)
    assert order is not None and order.amount_vnd == 123_456_789
    app.confirm_online_payment(order_ref=order.ref, amount_vnd=123_456_789,
                               transaction_no="2")
    passport = app.receive(actor_id="xnc", procedure_code=PASSPORT, documents=[
        "Tờ khai đề nghị cấp hộ chiếu (mẫu TK01)", "Ảnh chân dung 4x6", "CCCD"],
        **APPLICANT).dossier_id
    return app.record_payment(passport, expected_version=None, actor_id="xnc",
                              amount_vnd=200_000, method="cash", receipt_number="BL-9")


def _fee_rows(page: str) -> list[str]:
    """The fee table's rows as text: cells joined by " | ", the total last."""
    import re
    table = page.split('id="fees"')[1].split("</table>")[0]
    return [" | ".join(re.sub(r"<[^>]+>", "", cell).strip()
                       for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S))
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("</thead>")[1], re.S)]


def test_public_statistics_show_fees_collected_per_unit_and_procedure_in_both_languages(
        serve: Callable[..., Any], app: HosoApplication) -> None:
    web = serve()
    last = _fees_collected(app)
    assert web.app.state.services.read_models.wait(last.notification_id)
    page = web.get("/stats").text
    # Collected, paid online, refunded, the share paid online; the total below.
    assert _fee_rows(page) == [
        f"Phòng Quản lý xuất nhập cảnh – Công an TP.HCM | Cấp hộ chiếu phổ thông ở trong nước"
        f" | 200.000{NBSP}₫ | 0{NBSP}₫ | 0{NBSP}₫ | 0,0 %",
        f"Trung tâm Phục vụ hành chính công TP.HCM | Đăng ký, cấp Giấy chứng nhận quyền sử "
        f"dụng đất lần đầu | 123.456.789{NBSP}₫ | 123.456.789{NBSP}₫ | 0{NBSP}₫ | 100,0 %",
        f"Trung tâm Phục vụ hành chính công TP.HCM | Cấp Phiếu lý lịch tư pháp cho công dân "
        f"Việt Nam | 600.000{NBSP}₫ | 200.000{NBSP}₫ | 200.000{NBSP}₫ | 33,3 %",
        f"Tổng cộng | 124.256.789{NBSP}₫ | 123.656.789{NBSP}₫ | 200.000{NBSP}₫ | 99,5 %",
    ]
    assert "0912345678" not in page and "PC-1" not in page and "BL-" not in page
    # The same as open data, linked from the table: machine-readable, whole đồng.
    assert 'href="/open-data/fees.csv"' in page
    import csv
    import io
    data = web.get("/open-data/fees.csv")
    assert data.headers["cache-control"] == "public, max-age=300"
    header, *rows = csv.reader(io.StringIO(data.text.removeprefix("\ufeff")))
    assert header == ["since", "receiving_unit_code", "receiving_unit_name", "procedure_code",
                      "procedure_name", "collected_vnd", "paid_online_vnd", "refunded_vnd",
                      "online_share"]
    assert [r[1:2] + r[3:4] + r[5:] for r in rows] == [
        ["PA08", PASSPORT, "200000", "0", "0", "0.0000"],
        ["TTHCC", LAND, "123456789", "123456789", "0", "1.0000"],
        ["TTHCC", "2.000488", "600000", "200000", "200000", "0.3333"]]
    assert {r[0] for r in rows} == {"2025-12-01"}  # the first day of the 12 months shown
    assert "0912345678" not in data.text and "PC-1" not in data.text
    read_in(web, "en")
    rows = _fee_rows(web.get("/stats").text)
    assert rows[0].endswith(f"| VND{NBSP}200,000 | VND{NBSP}0 | VND{NBSP}0 | 0.0%")
    assert rows[1].endswith(
        f"| VND{NBSP}123,456,789 | VND{NBSP}123,456,789 | VND{NBSP}0 | 100.0%")
    assert rows[2] == (
        "HCMC Public Administrative Service Centre | Issuing a criminal record certificate to a "
        f"Vietnamese citizen | VND{NBSP}600,000 | VND{NBSP}200,000 | VND{NBSP}200,000 | 33.3%")
    assert rows[-1] == (f"Total | VND{NBSP}124,256,789 | VND{NBSP}123,656,789 | VND{NBSP}200,000"
                        " | 99.5%")


def test_analytics_show_fees_collected_for_the_period_and_unit_chosen(
        serve: Callable[..., Any], app: HosoApplication, clock: FakeClock) -> None:
    web = serve("thanhtra")
    last = _fees_collected(app)
    assert web.app.state.services.read_models.wait(last.notification_id)
    sign_in_as(web, "thanhtra", PASSWORD)
    today = clock().astimezone(HCMC).date()
    rows = _fee_rows(web.get("/analytics").text)
    assert len(rows) == 4 and rows[-1].startswith(f"Tổng cộng | 124.256.789{NBSP}₫")
    of_passports = web.get("/analytics?unit=PA08").text
    assert _fee_rows(of_passports) == [
        f"Phòng Quản lý xuất nhập cảnh – Công an TP.HCM | Cấp hộ chiếu phổ thông ở trong nước"
        f" | 200.000{NBSP}₫ | 0{NBSP}₫ | 0{NBSP}₫ | 0,0 %",
        f"Tổng cộng | 200.000{NBSP}₫ | 0{NBSP}₫ | 0{NBSP}₫ | 0,0 %"]
    before = f"from={today - timedelta(days=30)}&to={today - timedelta(days=1)}"
    assert "Chưa có khoản thu nào." in web.get(f"/analytics?{before}").text
    read_in(web, "en")
    rows = _fee_rows(web.get("/analytics?unit=TTHCC").text)
    assert rows[-1] == (f"Total | VND{NBSP}124,056,789 | VND{NBSP}123,656,789 | VND{NBSP}200,000"
                        " | 99.7%")
    assert "No fees collected yet." in web.get(f"/analytics?{before}").text


def test_analytics_download_the_fees_collected_as_csv(
        serve: Callable[..., Any], app: HosoApplication, clock: FakeClock) -> None:
    import csv
    import io
    web = serve("thanhtra")
    last = _fees_collected(app)
    assert web.app.state.services.read_models.wait(last.notification_id)
    sign_in_as(web, "thanhtra", PASSWORD)
    today = clock().astimezone(HCMC).date()
    page = web.get("/analytics?unit=TTHCC").text
    link = f"/analytics/fees.csv?from={today - timedelta(days=90)}&amp;to={today}&amp;unit=TTHCC"
    assert f'href="{link}"' in page
    response = web.get(link.replace("&amp;", "&"))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.startswith("\ufeff")
    header, *rows = csv.reader(io.StringIO(response.text[1:]))
    assert header[4:] == ["Đã thu (đồng) / Collected (VND)",
                          "Nộp trực tuyến (đồng) / Paid online (VND)",
                          "Đã hoàn trả (đồng) / Refunded (VND)",
                          "Tỷ lệ nộp trực tuyến / Share paid online"]
    assert rows == [
        ["TTHCC", "Trung tâm Phục vụ hành chính công TP.HCM", LAND,
         "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "123456789", "123456789",
         "0", "1.0000"],
        ["TTHCC", "Trung tâm Phục vụ hành chính công TP.HCM", "2.000488",
         "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "600000", "200000", "200000",
         "0.3333"]]
    web.cookies.clear()
    assert web.get(link.replace("&amp;", "&"), follow_redirects=False).status_code == 303
