"""Every refusal the API gives, as JSON: ``{"error": {"code", "message_vi", "message_en"}}``.

Handlers raise ``ApiError`` (or let a ``DomainError`` through); the handlers registered on
the API's own app turn each into its status here, in one place. Nothing is ever answered
with an HTML page or a bare 500.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.errors import (
    AccessDenied,
    ConcurrentChange,
    DomainError,
    DossierNotFound,
    NoDossierToActOn,
)
from domain.requests import InvalidRequestKey, RequestKeyReused

log = logging.getLogger(__name__)
access_log = logging.getLogger("hoso.access")

RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    def __init__(self, status: int, code: str, vi: str, en: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(en)
        self.status = status
        self.code = code
        self.vi = vi
        self.en = en
        self.headers = headers or {}


def error_response(status: int, code: str, vi: str, en: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message_vi": vi, "message_en": en}},
                        status_code=status, headers={"Cache-Control": "no-store"} | (headers or {}))


def malformed(vi: str, en: str) -> ApiError:
    return ApiError(400, "malformed_request", vi, en)


UNAUTHENTICATED = ApiError(
    401, "unauthenticated",
    "Thiếu khóa API hoặc khóa không hợp lệ, đã bị thu hồi (Authorization: Bearer <khóa>).",
    "The API key is missing, not valid or revoked (Authorization: Bearer <key>).",
    {"WWW-Authenticate": 'Bearer realm="hoso"'})


def _status_of(error: DomainError) -> tuple[int, str]:
    """The status and code a refusal of the application is answered with."""
    if isinstance(error, DossierNotFound):
        return 404, "not_found"
    if isinstance(error, AccessDenied):
        return 403, "forbidden"
    if isinstance(error, RequestKeyReused):
        return 409, "idempotency_key_reused"
    if isinstance(error, ConcurrentChange):
        return 409, "conflict"
    if isinstance(error, InvalidRequestKey):
        return 400, "malformed_request"
    # Anything else — a unit, procedure or officer that does not exist, an action not
    # possible now, text refused — is a refusal of what was asked.
    return 422, "refused"


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status in (401, 403):
        access_log.warning("api access refused: %s %s: %s", request.method, request.url.path,
                           exc.en)
    return error_response(exc.status, exc.code, exc.vi, exc.en, exc.headers)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, DossierNotFound) and not isinstance(exc, NoDossierToActOn):
        exc = NoDossierToActOn()  # an unknown dossier is answered as one not the key's
    status, code = _status_of(exc)
    if status == 403:
        access_log.warning("api access refused: %s %s: %s", request.method, request.url.path,
                           exc.en)
    return error_response(status, code, exc.vi, exc.en)


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 405:
        allow = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        return error_response(405, "method_not_allowed", "Phương thức không được hỗ trợ.",
                              "Method not allowed.", allow)
    return error_response(404, "not_found", "Không có địa chỉ này trong API.",
                          "There is no such API path.")


def store_unavailable_response() -> Response:
    return error_response(
        503, "store_unavailable",
        "Hệ thống tạm thời không kết nối được cơ sở dữ liệu. Vui lòng thử lại sau ít giây với "
        "cùng Idempotency-Key: không bao giờ ghi nhận hai lần.",
        "The system cannot reach its database right now. Retry in a few seconds with the "
        "same Idempotency-Key: it is never recorded twice.",
        {"Retry-After": str(RETRY_AFTER_SECONDS)})


async def store_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return store_unavailable_response()


async def server_error(request: Request, exc: Exception) -> Response:
    # A bug: logged with its trace, answered in the API's own words (the tests look for none).
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error",
        "Hệ thống gặp lỗi; yêu cầu có thể chưa được ghi nhận. Hãy thử lại với cùng "
        "Idempotency-Key.",
        "Something went wrong; the request may not have been recorded. Retry with the same "
        "Idempotency-Key.")
