"""``POST /language``: the reader's choice of Vietnamese or English, kept in a cookie.

A state change, so a form POST (the CSRF middleware checks its origin, and its token when a
clerk is signed in); it needs no session, so citizens on the public page can use it too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from web.i18n import COOKIE, DEFAULT_LOCALE, LOCALES

ONE_YEAR = 365 * 24 * 3600


def safe_next(target: str | None) -> str:
    """Back to the page the form was on, and only to a page of this site: a path, never
    ``//host`` or ``/\\host`` (which browsers read as another site)."""
    if (not target or not target.startswith("/") or target.startswith(("//", "/\\"))
            or any(c in target for c in "\r\n\t\\")):
        return "/"
    return target


async def choose_language(request: Request) -> Response:
    form = await request.form()
    chosen = str(form.get("lang", ""))
    locale = chosen if chosen in LOCALES else DEFAULT_LOCALE
    response = RedirectResponse(safe_next(str(form.get("next", "")) or None), status_code=303)
    response.set_cookie(COOKIE, locale, max_age=ONE_YEAR, path="/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")
    return response
