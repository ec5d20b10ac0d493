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


class DossierNotFound(NotFound):
    """The dossier a command names does not exist (as opposed to a unit, procedure or officer
    it refers to): an API answers the first 404 and the others 422."""

    def __init__(self) -> None:
        super().__init__("Không tìm thấy hồ sơ.", "Dossier not found.")


class AccessDenied(DomainError):
    """The person may not do this here (role or unit), as opposed to "not now" (state)."""


class ConcurrentChange(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Hồ sơ vừa được người khác cập nhật. Vui lòng tải lại trang và thao tác lại.",
            "This dossier was changed by someone else. Please reload the page and try again.",
        )
