"""Refusals a clerk or citizen can read: every message is given in Vietnamese and English."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused. ``str()`` gives the Vietnamese message shown first in the UI."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(vi)
        self.vi = vi
        self.en = en


class NotFound(DomainError):
    pass


class AccessDenied(DomainError):
    """The person may not do this here (role or unit), as opposed to "not now" (state)."""


class ConcurrentChange(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Hồ sơ vừa được người khác cập nhật. Vui lòng tải lại trang và thao tác lại.",
            "This dossier was changed by someone else. Please reload the page and try again.",
        )
