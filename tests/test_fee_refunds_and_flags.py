"""Issue 19.4: refunds as events, and the fee red flags (a payment unlike the schedule, a
fee recorded after the result), each seen and not seen, on both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from tests.helpers import receive, walk_to_signed

Flags = Callable[[], dict[str, RedFlag]]


@pytest.fixture
def flags(store: Store, app: HosoApplication, clock: FakeClock) -> Iterator[Flags]:
    models = ReadModels(store, app)

    def compute() -> dict[str, RedFlag]:
        models.catch_up()
        today = clock().astimezone(HCMC).date()
        from datetime import timedelta
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


def test_public_statistics_show_fees_collected_and_the_share_paid_online(
        serve: Callable[..., Any], app: HosoApplication) -> None:
    web = serve()
    cash, online, refunded = (receive(app).dossier_id for _ in range(3))
    pay(app, cash, 200_000)
    order = app.online_payment_order(online)
    assert order is not None and order.amount_vnd == 200_000
    app.confirm_online_payment(order_ref=order.ref, amount_vnd=200_000, transaction_no="1")
    pay(app, refunded, 200_000)
    app.withdraw(refunded, expected_version=None, actor_id="tiepnhan", reason="Rút")
    last = app.refund(refunded, expected_version=None, actor_id="tiepnhan",
                      amount_vnd=200_000, reason="Rút hồ sơ", receipt_number="PC-1")
    assert web.app.state.services.read_models.wait(last.notification_id)
    page = web.get("/stats").text
    row = page.split('id="fees"')[1].split("</table>")[0]
    nbsp = "\u00a0"
    assert f"600.000{nbsp}₫" in row and f"200.000{nbsp}₫" in row and "33%" in row
    assert "0912345678" not in page and "PC-1" not in page and "BL-1" not in page
