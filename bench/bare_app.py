"""The bare apps the page benchmarks are compared against (loaded by wrk, ``bench/wrk.py``).

``bare_app`` is the same-run baseline of the page benchmarks: a Starlette app with one route
returning a small constant HTML page (``/``, ``async def``), and the same as a plain ``def``
endpoint run in the thread pool like hoso's pages (``/sync``). Serve it with
``uvicorn bench.bare_app:bare_app --factory``; ``bare_app_with_hoso_middleware`` puts hoso's
middleware stack in front of it.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

BARE_PAGE = ("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>hoso</title>"
             "</head><body><h1>Tra cứu hồ sơ</h1><p>Hồ sơ đang được giải quyết.</p></body>"
             "</html>")


def bare_app() -> Starlette:
    async def page(request: Request) -> Response:
        return HTMLResponse(BARE_PAGE)

    def sync_page(request: Request) -> Response:
        return HTMLResponse(BARE_PAGE)

    return Starlette(routes=[Route("/", page), Route("/sync", sync_page)])


def bare_app_with_hoso_middleware() -> Starlette:
    """The bare app behind the middleware hoso puts in front of every page (security
    headers, server-side sessions, the anti-forgery check): what that stack costs a request
    that carries no session cookie, as a citizen's does."""
    from starlette.middleware import Middleware

    from config.settings import Settings
    from projections.store import Store
    from web.csrf import CsrfMiddleware
    from web.security import SecurityHeadersMiddleware
    from web.sessions import ServerSessionMiddleware, open_sessions

    app = bare_app()
    return Starlette(routes=app.routes, middleware=[
        Middleware(SecurityHeadersMiddleware),
        Middleware(ServerSessionMiddleware,
                   sessions=open_sessions(Store.from_settings(Settings.from_environment()))),
        Middleware(CsrfMiddleware)])
