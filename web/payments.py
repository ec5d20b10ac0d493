"""Paying online from the citizen's page, through VNPay (web/vnpay.py).

The citizen's page sends them to the gateway with a signed order for what is owed now; the
gateway's signed notice (IPN, server to server) records the payment; the citizen's return
through the browser only brings them back to their page, which says what the events say.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from domain.errors import DomainError
from domain.fees import parse_order_ref
from web.i18n import current_locale
from web.labels import Label
from web.public import _HEADERS, _not_found, _over_limit, find_status
from web.services import Services
from web.sessions import client_address
from web.templating import render
from web.vnpay import answer_notice, is_signed, payment_url

RETURN_PATH = "/payments/vnpay/return"

_NOTHING_TO_PAY = Label("Hồ sơ không có khoản nào cần nộp trực tuyến.",
                        "Nothing is owed online for this dossier.")
_NOT_OFFERED = Label("Chưa hỗ trợ thanh toán trực tuyến; vui lòng nộp tại bộ phận một cửa.",
                     "Online payment is not offered yet; please pay at the counter.")
_NOT_FROM_GATEWAY = Label("Đường dẫn trả về không hợp lệ.", "This return link is not valid.")


def pay(request: Request) -> Response:
    """Off to the gateway with a signed order for what the dossier owes now."""
    services: Services = request.app.state.services
    if (refused := _over_limit(request, services)) is not None:
        return refused
    status = find_status(services, request.path_params["token"])
    if status is None:
        return _not_found(request)
    if services.vnpay is None:
        return render(request, "error.html", {"error": _NOT_OFFERED}, status_code=404,
                      headers=_HEADERS)
    order = services.app.online_payment_order(status.dossier_id)
    if order is None:
        return render(request, "error.html", {"error": _NOTHING_TO_PAY}, status_code=422,
                      headers=_HEADERS)
    return RedirectResponse(payment_url(
        services.vnpay, order_ref=order.ref, amount_vnd=order.amount_vnd, code=order.code,
        return_url=services.public_url.rstrip("/") + RETURN_PATH,
        client_ip=client_address(request.scope), now=services.now(),
        locale=current_locale()), status_code=303, headers=_HEADERS)


def returned(request: Request) -> Response:
    """The citizen back from the gateway: to their own page, which shows the payment only
    once the gateway's notice recorded it. Nothing is recorded here."""
    services: Services = request.app.state.services
    params = dict(request.query_params)
    ordered = parse_order_ref(params.get("vnp_TxnRef", ""))
    if services.vnpay is None or ordered is None \
            or not is_signed(params, services.vnpay.hash_secret):
        return render(request, "error.html", {"error": _NOT_FROM_GATEWAY}, status_code=400,
                      headers=_HEADERS)
    try:
        token = services.app.tracking_token(ordered[0])
    except DomainError:
        return _not_found(request)
    return RedirectResponse(f"/t/{token}?payment=returned", status_code=303,
                            headers=_HEADERS)


async def notice(request: Request) -> Response:
    """The gateway's IPN: answered in its protocol's JSON, never an HTML page."""
    services: Services = request.app.state.services
    params = dict(request.query_params)

    def confirm(order_ref: str, amount_vnd: int, transaction_no: str, paid: bool) -> object:
        outcome = services.app.confirm_online_payment(
            order_ref=order_ref, amount_vnd=amount_vnd, transaction_no=transaction_no,
            paid=paid)
        if outcome is not None:
            # The citizen's browser usually returns right after: their page shows it paid.
            services.read_models.wait(outcome.notification_id)
        return outcome

    answer = await run_in_threadpool(answer_notice, params, services.vnpay, confirm)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
