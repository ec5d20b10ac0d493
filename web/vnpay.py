"""VNPay's payment gateway, protocol version 2.1.0: the payment URL the citizen is sent to,
and the IPN (instant payment notification) by which the gateway tells hoso, server to
server, that an order was paid.

Both carry ``vnp_*`` parameters signed with HMAC-SHA512 (the merchant's hash secret) over
the parameters sorted by name and URL-encoded (``key=value&…``, spaces as ``+``), the
signature travelling as ``vnp_SecureHash``. The IPN is answered with a JSON object
``{"RspCode": …, "Message": …}``: 00 recorded (or a failed payment noted), 01 unknown order,
02 order already confirmed, 04 wrong amount, 97 wrong signature, 99 anything else. A payment
is recorded only from a signed IPN: the browser's return to the site proves nothing.

Settings: ``HOSO_VNPAY_TMN_CODE`` (the merchant's terminal code), ``HOSO_VNPAY_HASH_SECRET``,
``HOSO_VNPAY_PAYMENT_URL`` (the gateway's payment page). Without them online payment is not
offered.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus, urlencode, urlsplit

from config.settings import Settings
from domain.fees import PaymentAlreadyConfirmed, PaymentAmountWrong, PaymentOrderUnknown
from domain.working_days import HCMC

VERSION = "2.1.0"
# How long the gateway keeps an order open for payment.
ORDER_VALIDITY = timedelta(minutes=15)
_UNSIGNED = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VnpaySettings:
    tmn_code: str
    hash_secret: str
    payment_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> VnpaySettings | None:
        """The merchant's settings (HOSO_VNPAY_TMN_CODE, HOSO_VNPAY_HASH_SECRET,
        HOSO_VNPAY_PAYMENT_URL); None unless all three are given."""
        tmn_code, secret = settings.vnpay_tmn_code, settings.vnpay_hash_secret
        url = settings.vnpay_payment_url
        return cls(tmn_code, secret, url) if tmn_code and secret and url else None

    @property
    def origin(self) -> str:
        """The gateway's origin (``https://sandbox.vnpayment.vn``), where the citizen's
        browser is sent to pay: the pages' Content-Security-Policy lets forms lead there."""
        parts = urlsplit(self.payment_url)
        return f"{parts.scheme}://{parts.netloc}"


def hash_data(params: Mapping[str, str]) -> str:
    """The text the signature covers: every ``vnp_`` parameter but the signature itself,
    sorted by name, each URL-encoded."""
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(params.items())
                    if k.startswith("vnp_") and k not in _UNSIGNED)


def signature(params: Mapping[str, str], secret: str) -> str:
    return hmac.new(secret.encode(), hash_data(params).encode(), hashlib.sha512).hexdigest()


def signed(params: Mapping[str, str], secret: str) -> dict[str, str]:
    return {**params, "vnp_SecureHash": signature(params, secret)}


def is_signed(params: Mapping[str, str], secret: str) -> bool:
    given = params.get("vnp_SecureHash", "").lower()
    return bool(given) and hmac.compare_digest(given, signature(params, secret))


def _gateway_time(moment: datetime) -> str:
    return moment.astimezone(HCMC).strftime("%Y%m%d%H%M%S")


def payment_url(settings: VnpaySettings, *, order_ref: str, amount_vnd: int, code: str,
                return_url: str, client_ip: str, now: datetime, locale: str) -> str:
    """Where the citizen pays: the gateway's page with the signed order."""
    params = {
        "vnp_Version": VERSION, "vnp_Command": "pay", "vnp_TmnCode": settings.tmn_code,
        # The gateway counts in hundredths of a đồng.
        "vnp_Amount": str(amount_vnd * 100), "vnp_CurrCode": "VND",
        "vnp_TxnRef": order_ref,
        "vnp_OrderInfo": f"Nop phi ho so {code}", "vnp_OrderType": "other",
        "vnp_Locale": "vn" if locale == "vi" else "en", "vnp_ReturnUrl": return_url,
        "vnp_IpAddr": client_ip or "127.0.0.1", "vnp_CreateDate": _gateway_time(now),
        "vnp_ExpireDate": _gateway_time(now + ORDER_VALIDITY),
    }
    return f"{settings.payment_url}?{urlencode(signed(params, settings.hash_secret))}"


# Called with the order, the amount in đồng, the gateway's transaction number and whether
# the payment succeeded; raises the domain's PaymentOrderUnknown, PaymentAmountWrong or
# PaymentAlreadyConfirmed.
Confirm = Callable[[str, int, str, bool], object]

_ANSWERS = {
    "00": "Confirm Success", "01": "Order not found", "02": "Order already confirmed",
    "04": "Invalid amount", "97": "Invalid signature", "99": "Unknown error",
}


def _answer(code: str) -> dict[str, str]:
    return {"RspCode": code, "Message": _ANSWERS[code]}


def answer_notice(params: Mapping[str, str], settings: VnpaySettings | None,
                  confirm: Confirm) -> dict[str, str]:
    """The IPN handler's answer, in VNPay's order of checks: signature, order, amount,
    state. A notice already recorded (repeated or replayed) is answered 02 and changes
    nothing."""
    try:
        if settings is None or not is_signed(params, settings.hash_secret) \
                or params.get("vnp_TmnCode") != settings.tmn_code:
            return _answer("97")
        raw = params.get("vnp_Amount", "")
        if not raw.isdigit() or int(raw) % 100:
            return _answer("04")
        paid = params.get("vnp_ResponseCode") == "00" \
            and params.get("vnp_TransactionStatus", "00") == "00"
        confirm(params.get("vnp_TxnRef", ""), int(raw) // 100,
                params.get("vnp_TransactionNo", ""), paid)
        return _answer("00")
    except PaymentOrderUnknown:
        return _answer("01")
    except PaymentAlreadyConfirmed:
        return _answer("02")
    except PaymentAmountWrong:
        return _answer("04")
    except Exception:  # the gateway asks again later; the cause is in the log
        log.exception("a payment notice could not be handled")
        return _answer("99")
