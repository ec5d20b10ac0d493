"""One Jinja2 environment for every page, with hoso's filters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from uuid import uuid4

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from web import formatting, labels

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Templates ship with the code: checking their files for changes on every render cost the
# public page measurable time under load. HOSO_TEMPLATE_RELOAD=1 while editing them.
templates.env.auto_reload = os.environ.get("HOSO_TEMPLATE_RELOAD") == "1"
templates.env.filters["local_time"] = formatting.local_time
templates.env.filters["local_date"] = formatting.local_date
templates.env.globals["STAGES"] = labels.STAGES
templates.env.globals["EVENTS"] = labels.EVENTS
templates.env.globals["CHANNELS"] = labels.CHANNELS
templates.env.globals["DISPATCH_METHODS"] = labels.DISPATCH_METHODS
templates.env.globals["ACTIONS"] = labels.ACTIONS
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
    context = {"user": session.get("user"), "csrf_token": session.get("csrf"), **context}
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )
