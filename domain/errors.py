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


class NoDossierToActOn(DossierNotFound):
    """The one answer a partner's system gets about a dossier it may not act on, whatever the
    reason — none with this id, another unit holds it, its role does not allow it, or the
    dossier's state refuses it: telling them apart would tell an outsider where a file is."""

    def __init__(self) -> None:
        DomainError.__init__(
            self, "Không có hồ sơ này, hoặc khóa này không được thao tác trên hồ sơ này.",
            "There is no such dossier, or this key may not act on it.")


class AccessDenied(DomainError):
    """The person may not do this here (role or unit), as opposed to "not now" (state)."""


class ConcurrentChange(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Hồ sơ vừa được người khác cập nhật. Vui lòng tải lại trang và thao tác lại.",
            "This dossier was changed by someone else. Please reload the page and try again.",
        )
