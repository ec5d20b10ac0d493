"""Jinja filters: times in Asia/Ho_Chi_Minh, dates as Vietnamese readers write them."""

from __future__ import annotations

from datetime import date, datetime

from domain.errors import DomainError
from domain.working_days import HCMC


def local_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(HCMC).strftime("%H:%M %d/%m/%Y")


def local_date(value: date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(HCMC).date()
    return value.strftime("%d/%m/%Y")


def datetime_local_input(value: datetime) -> str:
    """The value an <input type=datetime-local> expects."""
    return value.astimezone(HCMC).strftime("%Y-%m-%dT%H:%M")


def parse_local_datetime(text: str | None) -> datetime | None:
    """A datetime-local field (Ho Chi Minh City time), or None when left empty."""
    if not text or not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=HCMC)
    except ValueError:
        raise DomainError(
            "Thời điểm không hợp lệ (ngày giờ theo dạng 24/11/2026 14:30).",
            "The time is not valid.",
        ) from None
