"""Webhooks out: a signed POST of a JSON body to a partner's address.

The signature is Stripe's scheme: ``Hoso-Signature: t=<unix seconds>,v1=<hex>`` where the hex
is HMAC-SHA256 with the subscription's secret over ``f"{t}.{body}"``. A receiver recomputes
it over the raw body and refuses a timestamp more than five minutes from its own clock, so
a captured request cannot be replayed later. ``Hoso-Delivery-Id`` is the same on every
attempt at one message: a receiver that saw it already answers 2xx and does nothing.

Sent with the standard library (no client dependency for one POST), never following
redirects: a redirect would carry a signed body to an address the partner did not register.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit

SIGNATURE_HEADER = "Hoso-Signature"
DELIVERY_HEADER = "Hoso-Delivery-Id"
TOLERANCE_SECONDS = 300


class WebhookRefused(Exception):
    """The partner's server did not answer 2xx."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, *, now: float,
                     tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: right secret, untouched body, recent timestamp."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in fields if key.strip() == "t"]
    candidates = [value.strip() for key, value in fields if key.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit() or not candidates:
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, c) for c in candidates)


class Poster(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        """POST, or raise (``WebhookRefused`` for an answer that is not 2xx)."""


class HttpPoster:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._context = ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        connection: http.client.HTTPConnection = (
            http.client.HTTPSConnection(host, parts.port, timeout=self.timeout,
                                        context=self._context)
            if parts.scheme == "https"
            else http.client.HTTPConnection(host, parts.port, timeout=self.timeout))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body=body, headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "hoso-webhooks/1", **headers})
            response = connection.getresponse()
            response.read(65536)  # the answer is not used; read a little so it can close
            if not 200 <= response.status < 300:
                raise WebhookRefused(f"HTTP {response.status}")
        finally:
            connection.close()
