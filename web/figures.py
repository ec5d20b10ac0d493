"""Numbers as the page's readers write them, for pages and charts: Vietnamese 12,5 — 1.234 —
83,3 %; English 12.5 — 1,234 — 83.3%."""

from __future__ import annotations

from datetime import timedelta

from babel.numbers import format_decimal

from projections.analytics import OFFICE_DAY_HOURS, Rate
from web.i18n import current_locale, gettext
from web.templating import templates


def decimal(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(round(value, digits), format=pattern, locale=current_locale())


def share(value: Rate | float | None) -> str:
    if isinstance(value, Rate):
        value = value.share
    if value is None:
        return "—"
    # Vietnamese puts a space before the sign, English does not.
    return f"{decimal(value * 100)} %" if current_locale() == "vi" else f"{decimal(value * 100)}%"


def hours(value: float | None) -> str:
    return decimal(value)


def elapsed(delta: timedelta) -> str:
    """A stretch of clock time in words: "6,4 giờ", "2,1 ngày" (hours up to a day)."""
    value = delta.total_seconds() / 3600
    if value >= 24:
        return gettext("%(n)s ngày") % {"n": decimal(value / 24)}
    return gettext("%(n)s giờ") % {"n": decimal(value)}


def days(value_in_hours: float | None) -> str:
    """Office hours as working days of 8 office hours."""
    return decimal(None if value_in_hours is None else value_in_hours / OFFICE_DAY_HOURS)


templates.env.filters.update(decimal=decimal, share=share, hours=hours, days=days,
                             elapsed=elapsed)
