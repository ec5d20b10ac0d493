"""Numbers as Vietnamese readers write them (12,5 — 1.234 — 83,3 %), for pages and charts."""

from __future__ import annotations

from projections.analytics import OFFICE_DAY_HOURS, Rate
from web.templating import templates


def decimal(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def share(value: Rate | float | None) -> str:
    if isinstance(value, Rate):
        value = value.share
    return "—" if value is None else f"{decimal(value * 100)} %"


def hours(value: float | None) -> str:
    return decimal(value)


def days(value_in_hours: float | None) -> str:
    """Office hours as working days of 8 office hours."""
    return decimal(None if value_in_hours is None else value_in_hours / OFFICE_DAY_HOURS)


templates.env.filters.update(decimal=decimal, share=share, hours=hours, days=days)
