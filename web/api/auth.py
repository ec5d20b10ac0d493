"""Who is calling: the partner key in ``Authorization: Bearer <key>``, its scope for the
action, the partner's rate limit, and the request's ``Idempotency-Key``."""

from __future__ import annotations

import hashlib
import re

from starlette.requests import Request

from web.api.errors import UNAUTHENTICATED, ApiError, malformed
from web.api.keys import PartnerKey, Scope
from web.services import Services

# Visible ASCII: a UUID, a ULID, a database id and a timestamp all fit.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{8,100}$"


def authenticate(services: Services, request: Request, scope: Scope) -> PartnerKey:
    """The live key allowed ``scope``, or the refusal: 401, 403, or 429 (reads the store:
    call it from the thread pool)."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise UNAUTHENTICATED
    key = services.partner_keys.authenticate(presented.strip())
    # A partner whose member was deactivated in the directory acts no more, whatever key.
    if key is None or key.partner_id not in services.directory.staff:
        raise UNAUTHENTICATED
    if scope not in key.scopes:
        raise ApiError(
            403, "out_of_scope",
            f"Khóa API của {key.name} không được phép thao tác “{scope.value}”.",
            f"The API key of {key.name} is not allowed to “{scope.value}”.")
    allowed, retry_after = services.api_limit.allow(key.key_id)
    if not allowed:
        raise ApiError(
            429, "rate_limited",
            "Quá nhiều yêu cầu trong thời gian ngắn; hãy thử lại sau.",
            "Too many calls in a short time; try again later.",
            {"Retry-After": str(retry_after)})
    return key


def request_key(request: Request, key: PartnerKey) -> str:
    """The application's request key for this call's ``Idempotency-Key``: namespaced by
    partner (two partners' keys never meet) and hashed (any visible ASCII fits the
    application's key rules)."""
    given = request.headers.get("idempotency-key")
    if given is None or not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, given):
        raise malformed(
            "Thiếu tiêu đề Idempotency-Key (8–100 ký tự ASCII nhìn thấy được, ví dụ một "
            "UUID), hoặc tiêu đề không hợp lệ.",
            "The Idempotency-Key header (8–100 visible ASCII characters, e.g. a UUID) is "
            "missing or not valid.")
    digest = hashlib.sha256(f"{key.partner_id}\n{given}".encode("ascii")).hexdigest()
    return f"api-{digest}"
