"""Who opened which dossier, when, and why: every staff reading is itself recorded.

Inspectors are accountable for what they look at, and staff reading dossiers they have no
part in is a red flag; both questions need an answer as trustworthy as the dossiers' own
history, so readings are events too. One log per viewer and local day keeps writers apart:
two viewers never share a log, and one viewer rarely opens two pages at the same instant.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.organisation import Role, Staff
from domain.working_days import HCMC


class Purpose(StrEnum):
    WORK = "work"  # a member of staff handling dossiers
    AUDIT = "audit"  # an inspector overseeing them


class Page(StrEnum):
    """Which page showed the dossier: they reveal different things."""

    DOSSIER = "dossier"
    RECEIPT = "receipt"
    APOLOGY = "apology"
    SUPPLEMENT_SLIP = "supplement_slip"  # form 02: what the citizen was asked to bring
    REFUSAL_SLIP = "refusal_slip"  # form 03: why an online submission was not received
    STOP_NOTICE = "stop_notice"  # form 05: why the dossier's processing stopped
    AUDIT_TRAIL = "audit_trail"
    CONTROL_SLIP = "control_slip"
    PROOF_BUNDLE = "proof_bundle"  # the downloaded entries: as revealing as the audit trail
    DOCUMENT = "document"  # an attached file, opened or downloaded


# Pages that exist only for oversight.
_AUDIT_PAGES = frozenset({Page.AUDIT_TRAIL, Page.CONTROL_SLIP, Page.PROOF_BUNDLE})

# Roles that handle dossiers; someone holding one of them reads for work even if they also
# inspect, so an inspector's readings are never mixed with their own casework.
_WORKING_ROLES = frozenset({Role.RECEPTION, Role.SPECIALIST, Role.SIGNING_OFFICER,
                            Role.POST_AGENT})


def purpose_of(viewer: Staff, page: Page) -> Purpose:
    """An audit page is always read to audit, and an inspector with no casework reads to
    audit wherever they read; anything else is read for work (an administrator browsing
    dossier pages included: that is what the "no part in it" flag should see)."""
    if page in _AUDIT_PAGES:
        return Purpose.AUDIT
    if Role.INSPECTOR in viewer.roles and not viewer.roles & _WORKING_ROLES:
        return Purpose.AUDIT
    return Purpose.WORK


class ReadingNotRecorded(DomainError):
    """The reading could not be written: the page is not shown rather than shown unrecorded."""

    def __init__(self) -> None:
        super().__init__(
            "Hệ thống chưa ghi được lượt xem hồ sơ này nên chưa hiển thị. Vui lòng tải lại "
            "trang sau giây lát.",
            "The system could not record this view of the dossier, so it is not shown. "
            "Please reload the page in a moment.",
        )


_LOG_NAMESPACE = uuid5(NAMESPACE_URL, "https://hoso.example/reading-log")


class ReadingLog(Aggregate):
    """The dossiers one member of staff opened on one day (Asia/Ho_Chi_Minh)."""

    class DossierOpened(Aggregate.Event):
        dossier_id: str
        viewer_id: str
        viewer_unit: str
        purpose: str
        page: str
        opened_at: datetime

    @staticmethod
    def create_id(viewer_id: str, day: date) -> UUID:
        return uuid5(_LOG_NAMESPACE, f"{viewer_id}/{day.isoformat()}")

    @staticmethod
    def day_of(moment: datetime) -> date:
        return moment.astimezone(HCMC).date()

    @event("Started")
    def __init__(self, viewer_id: str, day: date, timestamp: datetime) -> None:
        self.viewer_id = viewer_id
        self.day = day
        self.openings = 0

    def record_opening(self, *, dossier_id: UUID, viewer: Staff, page: Page,
                       opened_at: datetime) -> None:
        if viewer.user_id != self.viewer_id or self.day_of(opened_at) != self.day:
            raise ValueError("a reading belongs in its viewer's log for that day")
        # Recorded by the application's clock, like the dossiers' own events.
        self._opened(dossier_id=str(dossier_id), viewer_id=viewer.user_id,
                     viewer_unit=viewer.unit_code, purpose=purpose_of(viewer, page).value,
                     page=page.value, opened_at=opened_at, timestamp=opened_at)

    @event(DossierOpened)
    def _opened(self, *, dossier_id: str, viewer_id: str, viewer_unit: str, purpose: str,
                page: str, opened_at: datetime, timestamp: datetime) -> None:
        self.openings += 1


# What a read model of readings follows (kept apart from the dossier read models' events).
READING_EVENT_CLASSES: tuple[type[ReadingLog.DossierOpened], ...] = (ReadingLog.DossierOpened,)
