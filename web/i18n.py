"""The language a page is shown in: Vietnamese by default, English on request.

Template text goes through the gettext catalogs in ``web/locale`` (msgid = the Vietnamese
text, so the ``vi`` catalog needs no work and ``en`` maps each to its English). The locale is
chosen per request (cookie ``hoso_lang``, else ``vi``)
and held in a context variable while a page renders: a process-wide ``install_gettext``
would leak one request's language into another served at the same time.

``Label`` and ``DomainError`` keep both texts in Python (the domain's contract); ``pick``
shows the one for the current locale.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import Protocol

from babel.support import Translations
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from domain.organisation import Directory

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
COOKIE = "hoso_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("hoso_locale", default=DEFAULT_LOCALE)


class Bilingual(Protocol):
    @property
    def vi(self) -> str: ...

    @property
    def en(self) -> str: ...


@cache
def translations(locale: str) -> NullTranslations:
    # Translations.load falls back to NullTranslations (the msgid, i.e. Vietnamese) when a
    # catalog is missing, which for ``vi`` is exactly right.
    return Translations.load(str(LOCALE_DIR), [locale], domain=DOMAIN)


def current_locale() -> str:
    return _current.get()


@contextmanager
def using(locale: str) -> Iterator[None]:
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).npgettext(context, singular, plural, n)


def pick(pair: Bilingual | None) -> str:
    """The text of a ``Label`` or ``DomainError`` in the current locale."""
    if pair is None:
        return "—"
    return pair.vi if _current.get() == "vi" else pair.en


def in_locale(vi: str | None, en: str | None) -> str:
    """One of two texts kept side by side in data (a procedure's names): the English one
    falls back to the Vietnamese where none was given."""
    if _current.get() == "vi" or not en:
        return vi or ""
    return en


def locale_of(request: HTTPConnection) -> str:
    # Only the cookie, not Accept-Language: a headless or borrowed browser often asks for
    # English, and Vietnamese is what a citizen at the counter expects to see first.
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


class LocaleMiddleware:
    """Holds the request's locale for all of its handling, not only while its page renders:
    what a handler words in Python (event summaries, charts, audit values) reads it too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with using(locale_of(HTTPConnection(scope))):
            await self.app(scope, receive, send)


def unit_name(directory: Directory, code: str | None) -> str:
    """A unit's name in the current locale (its English name is kept with it)."""
    unit = directory.units.get(code or "")
    return in_locale(unit.name_vi, unit.name_en) if unit else (code or "")


def procedure_label(directory: Directory, code: str | None) -> str:
    """The procedure's name on a page, in the page's language."""
    procedure = directory.procedures.get(code or "")
    return in_locale(procedure.name_vi, procedure.name_en) if procedure else (code or "—")
