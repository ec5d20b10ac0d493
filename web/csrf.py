"""Cross-site request forgery: one check in front of every state-changing request.

1. A request another site sent is refused: ``Sec-Fetch-Site: cross-site``, or an ``Origin``
   that is not this host (``null``, what browsers send under ``no-referrer``, only with
   ``Sec-Fetch-Site: same-origin``).
2. A request made in a signed-in session must also carry the session's token: htmx sends it
   as the ``X-CSRF-Token`` header (``hx-headers`` on the page body), plain forms as the
   hidden ``csrf_token`` field. Reading that field means reading the body first; it is then
   handed on unchanged to the page's handler.

Sign-in and the citizens' rating form run without a session: the first check covers them,
and a rating also needs the dossier's secret tracking token. The partner API (``/api/v1``)
never reads the session: a call authenticates with a bearer key a browser does not attach by
itself, so only the first check applies (a partner's server sends no ``Origin`` at all).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.api import is_api_path
from web.api.errors import error_response
from web.labels import Label
from web.sessions import CSRF_KEY
from web.templating import render

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "x-csrf-token"
FIELD = "csrf_token"
# The largest body a form may send (the signing form's PDF is at most 20 MB).
MAX_BODY_BYTES = 21 * 1024 * 1024

CROSS_SITE = Label("Yêu cầu bị từ chối vì không gửi từ trang của hoso.",
                   "Request refused: it was not sent from a hoso page.")
STALE_FORM = Label(
    "Biểu mẫu đã cũ hoặc phiên làm việc đã thay đổi, nên thao tác chưa được ghi nhận. Hãy "
    "tải lại trang rồi thực hiện lại.",
    "This form is out of date or your session changed, so nothing was recorded. Reload the "
    "page and try again.")
TOO_LARGE = Label("Dữ liệu gửi lên quá lớn.", "What was sent is too large.")


class CsrfMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        other_origin = origin is not None and urlsplit(origin).netloc != headers.get("host")
        # Under our `Referrer-Policy: no-referrer` a browser sends `Origin: null` with its own
        # pages' POSTs (the Fetch standard), so every sign-in and form failed in Chromium; its
        # Sec-Fetch-Site, which no page can set, says the request came from this origin.
        if origin == "null" and fetch_site == "same-origin":
            other_origin = False
        if fetch_site == "cross-site" or other_origin:
            await self._refuse(scope, receive, send, CROSS_SITE, 403)
            return
        session = scope.get("session") or {}
        expected = session.get(CSRF_KEY)
        if not session.get("user") or is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        supplied = headers.get(HEADER)
        if supplied is None:
            original = receive
            body = await _read_body(original)
            if body is None:
                await self._refuse(scope, _replay(b"", original), send, TOO_LARGE, 413)
                return
            receive = _replay(body, original)  # what the page's handler will read
            form = await Request(scope, _replay(body, original)).form()
            field = form.get(FIELD)
            await form.close()
            supplied = field if isinstance(field, str) else None
        if not (isinstance(expected, str) and supplied
                and secrets.compare_digest(supplied.encode(), expected.encode())):
            await self._refuse(scope, receive, send, STALE_FORM, 403)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: Label,
                      status: int) -> None:
        response: Response = (
            error_response(status, "cross_site" if status == 403 else "too_large",
                           message.vi, message.en)
            if is_api_path(scope["path"])
            else render(Request(scope, receive), "error.html", {"error": message},
                        status_code=status))
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past ``MAX_BODY_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then waits on the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
