"""Response headers every page carries, and the answer given while the database is away.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: it only adds headers
to the response start, without the extra task and body streaming the latter costs every
request (measured on the public page, issue 6).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import psycopg
import psycopg_pool
from eventsourcing.persistence import OperationalError as StoreOperationalError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.api import is_api_path
from web.api.errors import store_unavailable_response
from web.labels import Label
from web.templating import render

log = logging.getLogger(__name__)

# No inline script or style anywhere (htmx is configured for it in base.html: no eval, no
# script tags, no indicator styles, requests to this origin only, no history cache).
def content_security_policy(form_targets: tuple[str, ...] = ()) -> str:
    """The policy; ``form_targets`` are other origins a form may lead the browser to: the
    payment gateway's, where the citizen's "pay" form is redirected (browsers apply
    ``form-action`` to a form's redirects too)."""
    sources = " ".join(("'self'", *form_targets))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action {sources}"
    )


CONTENT_SECURITY_POLICY = content_security_policy()


def security_headers(form_targets: tuple[str, ...] = ()) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (
        ("Content-Security-Policy", content_security_policy(form_targets)),
        ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ))


_NAMES = frozenset(name for name, _ in security_headers())


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, form_targets: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = list(security_headers(form_targets))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _NAMES]
                message["headers"] = headers + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# What a request meets while the database is down, restarting or out of connections.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    StoreOperationalError, psycopg.OperationalError, psycopg_pool.PoolTimeout,
    sqlite3.OperationalError,
)
RETRY_AFTER_SECONDS = 5


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """503 "try again", never a 500. Nothing is half-recorded (each action is one
    transaction); if the commit happened and only its answer was lost, the form's request key
    makes the retry return that first answer. The pools reconnect once the database is back."""
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    if is_api_path(request.url.path):
        return store_unavailable_response()
    return render(request, "error.html", {"error": Label(
        "Hệ thống tạm thời không kết nối được cơ sở dữ liệu. Vui lòng thử lại sau ít giây: "
        "gửi lại cùng biểu mẫu không bao giờ ghi nhận hai lần.",
        "The system cannot reach its database right now. Please try again in a few seconds: "
        "sending the same form again never records it twice.")},
        status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class DeadlineMiddleware:
    """Answer 503 "try again" when a request has not begun its answer within
    HOSO_REQUEST_DEADLINE seconds (default 8; 120 for the inspectors' reports), instead of
    letting the browser hang.

    While the database is away the library retries each store call (ten attempts, each
    waiting for a pooled connection), which would hold a request for a minute or more. The
    handler is left to finish in the background and its late answer is dropped: an action it
    then records is found again by its request key when the clerk retries, so nothing is
    recorded twice.
    """

    # Inspectors' reports over a year compute for seconds (red flags: ~23 s afresh over a
    # million events): they get longer, still bounded.
    SLOW_PATHS = ("/analytics", "/red-flags", "/stats", "/open-data", "/officers/", "/units/")
    SLOW_SECONDS = 120.0
    # A request carrying files (the counter's scans, a citizen's online submission): its body
    # alone may take minutes to arrive over a phone's connection, then each file is checked.
    UPLOAD_SECONDS = 600.0

    def __init__(self, app: ASGIApp, seconds: float = 8.0) -> None:
        self.app = app
        self.seconds = seconds  # HOSO_REQUEST_DEADLINE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return  # the 503 was sent instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        seconds = (self.SLOW_SECONDS if str(scope["path"]).startswith(self.SLOW_PATHS)
                   else self.UPLOAD_SECONDS if _carries_files(scope) else self.seconds)
        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if task in done or started:
            await task
            return
        abandoned = True
        task.add_done_callback(_log_abandoned)
        log.warning("no answer within %.0f s on %s %s: answered 503", seconds,
                    scope["method"], scope["path"])
        response = await store_unavailable(Request(scope, receive), TimeoutError())
        await response(scope, receive, send)


def _carries_files(scope: Scope) -> bool:
    return any(name == b"content-type" and value.startswith(b"multipart/form-data")
               for name, value in scope.get("headers", ()))


def _log_abandoned(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("a request answered 503 ended later with %r", error)
