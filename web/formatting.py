"""Jinja filters: times in Asia/Ho_Chi_Minh, dates and numbers as the page's readers write
them (Vietnamese: 14:30 24/11/2026 and 1.234; English: 24 Nov 2026, 14:30 and 1,234)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

import holidays
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from markupsafe import Markup

from domain.errors import DomainError
from domain.working_days import HCMC
from web.i18n import current_locale, ngettext

# Explicit patterns rather than Babel's "short"/"medium": Vietnamese forms and clerks write
# the time first and the day before the month; the English one spells the month out so a
# reader cannot take 03/04 for March.
TIME_PATTERNS = {"vi": "HH:mm dd/MM/yyyy", "en": "d MMM yyyy, HH:mm"}
SECONDS_PATTERNS = {"vi": "HH:mm:ss dd/MM/yyyy", "en": "d MMM yyyy, HH:mm:ss"}
DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}


def local_time(value: datetime | None, seconds: bool = False) -> str:
    if value is None:
        return "—"
    locale = current_locale()
    pattern = (SECONDS_PATTERNS if seconds else TIME_PATTERNS)[locale]
    return format_datetime(value, pattern, tzinfo=HCMC, locale=locale)


def local_date(value: date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(HCMC).date()
    locale = current_locale()
    return format_date(value, DATE_PATTERNS[locale], locale=locale)


def number(value: float | None) -> str:
    """A count or a figure in a table, grouped as the locale groups thousands."""
    if value is None:
        return "—"
    return format_decimal(value, locale=current_locale())


def vnd(amount: int | None) -> str:
    """An amount of đồng as the reader writes money: "1.250.000 ₫" in Vietnamese,
    "VND 1,250,000" in English. Amounts are whole đồng; a float here is a bug, refused."""
    if amount is None:
        return "—"
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"an amount of VND is an int, not {type(amount).__name__}")
    locale = current_locale()
    grouped = format_decimal(amount, locale=locale)
    # A no-break space, so the sign never ends up alone on the next line.
    return f"{grouped}\u00a0₫" if locale == "vi" else f"VND\u00a0{grouped}"


def filesize(size: int) -> str:
    """A file's size as people read it: "820 KB", "1,5 MB"."""
    if size < 1024 * 1024:
        return f"{format_decimal(max(1, round(size / 1024)), locale=current_locale())} KB"
    return f"{format_decimal(round(size / (1024 * 1024), 1), locale=current_locale())} MB"


def duration(delta: timedelta) -> str:
    """How long a file has waited, to the hour: "2 ngày 3 giờ" / "2 days 3 hours"."""
    hours = max(0, int(delta.total_seconds() // 3600))
    in_hours = ngettext("%(num)s giờ", "%(num)s giờ", hours % 24 if hours >= 24 else hours)
    text = in_hours % {"num": hours % 24 if hours >= 24 else hours}
    if hours < 24:
        return text
    days = ngettext("%(num)s ngày", "%(num)s ngày", hours // 24) % {"num": hours // 24}
    return f"{days} {text}"


@cache
def _english_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("VN", language="en_US")


def day_off(day: date, name: str) -> str:
    """A day off's name as recorded (in Vietnamese, with the due date) in the reader's
    language: weekends by their weekday, public holidays from the same holiday library."""
    if current_locale() == "vi":
        return name
    # The recorded name says which it is: a weekend day inside Tết is Tết, as in Vietnamese.
    if name in ("Thứ Bảy", "Chủ nhật"):
        return format_date(day, "EEEE", locale="en")
    return str(_english_holidays().get(day) or name)


# Dates and times are typed day first, as Vietnamese write them, in both languages: the
# browser's own date pickers follow the browser's locale (mm/dd/yyyy in an English one), not
# the page's, so the fields are text with the form shown as a hint.
DATE_HINT = "dd/mm/yyyy"
DATETIME_HINT = "dd/mm/yyyy hh:mm"
_DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S.%f")


def date_input(value: date | None) -> str:
    """A date as a date field shows it (day first)."""
    return "" if value is None else value.strftime("%d/%m/%Y")


def datetime_local_input(value: datetime) -> str:
    """A moment as a date-and-time field shows it, in Ho Chi Minh City time (day first)."""
    return value.astimezone(HCMC).strftime("%d/%m/%Y %H:%M")


def parse_day(text: str) -> date:
    """A date typed day first (24/11/2026), or as ISO (2026-11-24, what links carry);
    ValueError otherwise."""
    text = text.strip()
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return date.fromisoformat(text)


def parse_local_datetime(text: str | None) -> datetime | None:
    """A date-and-time field (Ho Chi Minh City time: 24/11/2026 14:30, seconds optional, or
    ISO as links carry it), or None when left empty."""
    if not text or not text.strip():
        return None
    text = " ".join(text.split())
    for form in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, form).replace(tzinfo=HCMC)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).replace(tzinfo=HCMC)
    except ValueError:
        raise DomainError(
            "Thời điểm không hợp lệ (ngày giờ theo dạng 24/11/2026 14:30).",
            "The time is not valid (day first, as in 24/11/2026 14:30).",
        ) from None


def typed(text: object) -> Markup:
    """Text a person typed — documents, notes, reasons, comments, addresses — shown as it was
    written, in Vietnamese whatever the page's language, and marked so (``lang="vi"``): a
    screen reader reads it in a Vietnamese voice, and the one-language check skips it."""
    return Markup('<span lang="vi">{}</span>').format(text)
