"""Signing in as a browser does: the session cookie, then the page's anti-forgery token,
which htmx sends as a header on every request (web/csrf.py)."""

from __future__ import annotations

import re
from typing import Any

PASSWORD = "mat-khau-thu-nghiem"  # every test staff member's, unless a test says otherwise
CSRF_TOKEN = re.compile(r'"X-CSRF-Token": "([A-Za-z0-9_-]+)"')


def adopt_csrf_token(client: Any, page: str) -> None:
    match = CSRF_TOKEN.search(page)
    assert match, "a signed-in page carries the session's anti-forgery token"
    client.headers["X-CSRF-Token"] = match.group(1)


def sign_in_as(client: Any, user: str, password: str) -> Any:
    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)
    response = client.post("/signin", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    adopt_csrf_token(client, response.text)
    return response


def read_in(client: Any, locale: str) -> None:
    """Pages in ``locale`` from now on, as the header's language switch leaves them (the
    ``hoso_lang`` cookie; tests/test_i18n.py goes through the switch itself). Signing in again
    clears it."""
    client.cookies.set("hoso_lang", locale)


def change_settings(client: Any, **changes: Any) -> None:
    """Run the rest of a test as if the app had started with these settings changed (the
    app reads its settings once, when it is built)."""
    services = client.app.state.services
    services.settings = services.settings.but(**changes)
