"""One Jinja2 environment for every page, with hoso's filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from web import formatting, i18n, labels

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Templates ship with the code: checking their files for changes on every render cost the
# public page measurable time under load. HOSO_TEMPLATE_RELOAD=1 while editing them
# (create_app turns it on).
templates.env.auto_reload = False
# Per-request translations: these callables read the locale render() sets (web/i18n.py).
# newstyle: _("… %(n)s", n=…) escapes its variables, and a literal % is written %%.
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext,
    npgettext=i18n.npgettext)
templates.env.filters["t"] = i18n.pick
templates.env.globals["in_locale"] = i18n.in_locale
templates.env.globals["unit_name"] = i18n.unit_name
templates.env.filters["local_time"] = formatting.local_time
templates.env.filters["local_date"] = formatting.local_date
templates.env.filters["number"] = formatting.number
templates.env.filters["vnd"] = formatting.vnd
templates.env.filters["duration"] = formatting.duration
templates.env.filters["filesize"] = formatting.filesize
templates.env.filters["date_input"] = formatting.date_input
templates.env.filters["typed"] = formatting.typed
templates.env.globals["DATE_HINT"] = formatting.DATE_HINT
templates.env.globals["DATETIME_HINT"] = formatting.DATETIME_HINT
templates.env.globals["day_off"] = formatting.day_off
templates.env.globals["STAGES"] = labels.STAGES
templates.env.globals["EVENTS"] = labels.EVENTS
templates.env.globals["CHANNELS"] = labels.CHANNELS
templates.env.globals["DISPATCH_METHODS"] = labels.DISPATCH_METHODS
templates.env.globals["PAYMENT_METHODS"] = labels.PAYMENT_METHODS
templates.env.globals["DELIVERY_FAILURES"] = labels.DELIVERY_FAILURES
templates.env.globals["ACTIONS"] = labels.ACTIONS
templates.env.globals["ROLES"] = labels.ROLES
templates.env.globals["UNIT_KINDS"] = labels.UNIT_KINDS
templates.env.globals["label"] = labels.label
# A fresh idempotency key for each state-changing form shown (see domain/requests.py).
templates.env.globals["new_request_key"] = lambda: uuid4().hex


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    session = request.scope.get("session") or {}
    # The session's anti-forgery token, for the hidden field of every staff form and for
    # htmx's header (web/csrf.py).
    locale = i18n.locale_of(request)
    context = {"user": session.get("user"), "csrf_token": session.get("csrf"),
               "lang": locale, **context}
    # The page depends on the language cookie: a shared cache (the public statistics may be
    # kept 5 minutes) must not hand one reader's language to the next.
    headers = {"Vary": "Cookie", **(headers or {})}
    # TemplateResponse renders at once, so the locale holds for exactly this page.
    with i18n.using(locale):
        return templates.TemplateResponse(
            request, name, context, status_code=status_code, headers=headers
        )
