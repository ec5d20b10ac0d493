"""A local stand-in for VNPay's gateway (protocol 2.1.0), for tests: a small HTTP server.

``GET /paymentv2/vpcpay.html?<order>`` checks the merchant's signature over the order and
shows a page with a "pay" button (or 400 for a bad signature); ``POST /paymentv2/pay``
(the button) settles the order as the test chose (``outcome``), sends the signed IPN to
the merchant through ``deliver_ipn`` and keeps its answer, then sends the browser back to
``vnp_ReturnUrl`` with the same signed result, as the real gateway does.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qsl, urlencode

from web.vnpay import is_signed, signed

TMN_CODE = "HOSOTEST"
HASH_SECRET = "bi-mat-thu-nghiem-vnpay-0123456789"


class VnpaySimulator:
    def __init__(self, deliver_ipn: Callable[[str], dict[str, str]],
                 tmn_code: str = TMN_CODE, secret: str = HASH_SECRET) -> None:
        self.deliver_ipn = deliver_ipn
        self.tmn_code, self.secret = tmn_code, secret
        self.outcome = "00"  # the bank's answer for the next payment
        self.answers: list[dict[str, str]] = []  # the merchant's answers to the IPNs
        self._numbers = count(14_000_000)
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                order = dict(parse_qsl(query))
                if path != "/paymentv2/vpcpay.html" or not simulator.accepts(order):
                    self._send(400, "<p>Sai chữ ký / invalid signature</p>")
                    return
                self._send(200, (
                    "<!doctype html><title>VNPay (giả lập)</title>"
                    f"<p>Số tiền: {int(order['vnp_Amount']) // 100}</p>"
                    '<form method="post" action="/paymentv2/pay">'
                    f'<input type="hidden" name="order" value="{html.escape(query)}">'
                    '<button id="pay">Thanh toán</button></form>'))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                order = dict(parse_qsl(form.get("order", "")))
                if not simulator.accepts(order):
                    self._send(400, "<p>invalid</p>")
                    return
                result = simulator.result(order)
                simulator.answers.append(simulator.deliver_ipn(urlencode(result)))
                self.send_response(302)
                self.send_header("Location", f"{order['vnp_ReturnUrl']}?{urlencode(result)}")
                self.end_headers()

            def _send(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def payment_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/paymentv2/vpcpay.html"

    def env(self) -> dict[str, str]:
        """The settings that point hoso at this simulator."""
        return {"HOSO_VNPAY_TMN_CODE": self.tmn_code, "HOSO_VNPAY_HASH_SECRET": self.secret,
                "HOSO_VNPAY_PAYMENT_URL": self.payment_url}

    def accepts(self, order: dict[str, str]) -> bool:
        return (is_signed(order, self.secret) and order.get("vnp_TmnCode") == self.tmn_code
                and order.get("vnp_Version") == "2.1.0" and order.get("vnp_Command") == "pay")

    def result(self, order: dict[str, str], **overrides: str) -> dict[str, str]:
        """The signed result of paying ``order``, as sent to the IPN and the return URL."""
        params = {
            "vnp_TmnCode": self.tmn_code, "vnp_Amount": order["vnp_Amount"],
            "vnp_BankCode": "NCB", "vnp_BankTranNo": "VNP" + str(next(self._numbers)),
            "vnp_CardType": "ATM", "vnp_OrderInfo": order["vnp_OrderInfo"],
            "vnp_PayDate": order["vnp_CreateDate"], "vnp_ResponseCode": self.outcome,
            "vnp_TransactionNo": str(next(self._numbers)),
            "vnp_TransactionStatus": self.outcome, "vnp_TxnRef": order["vnp_TxnRef"],
        } | overrides
        return signed(params, self.secret)

    def __enter__(self) -> VnpaySimulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
