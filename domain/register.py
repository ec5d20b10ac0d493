"""Changes to units, staff and procedures, made by administrators — as events.

Why events and not an edited table: "who gave whom which rights, and when" is exactly what
an anti-corruption review asks, and the answer must be as trustworthy as the dossiers' own
history. The seed catalogue in ``organisation.py`` is the starting point; the register's
events are applied on top of it to give the directory every command uses.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import AccessDenied, DomainError
from domain.fees import FeeSchedule
from domain.organisation import Directory, Role, Staff, Unit, UnitKind
from domain.text import clean_text

REGISTER_ID = uuid5(NAMESPACE_URL, "https://hoso.example/organisation-register")

_USER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
_UNIT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
_AGENCY_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
MAX_PROCESSING_DAYS = 365


class OrganisationRegister(Aggregate):
    class Change(Aggregate.Event):
        """An administrator's change; named apart from ``Event`` so "Opened" stays plain."""

        actor_id: str
        occurred_at: datetime

    class StaffAppointed(Change):
        user_id: str
        full_name: str
        unit_code: str
        roles: list[str]

    class StaffDeactivated(Change):
        user_id: str
        reason: str

    class UnitAdded(Change):
        code: str
        agency_code: str
        name_vi: str
        name_en: str
        kind: str

    class ProcessingTimeSet(Change):
        procedure_code: str
        processing_days: int
        legal_basis: str

    class FeeScheduleSet(Change):
        """A procedure's published fee changed; dossiers received before keep theirs."""

        procedure_code: str
        amount_vnd: int | None
        legal_basis: str
        rule_vi: str
        rule_en: str
        exemptions_vi: str
        exemptions_en: str

    @staticmethod
    def create_id() -> UUID:
        return REGISTER_ID

    # Every event recorded by the application's clock (``timestamp``), like the dossiers'.
    @event("Opened")
    def __init__(self, timestamp: datetime) -> None:
        self.appointed: dict[str, Staff] = {}
        self.deactivated: set[str] = set()
        self.added_units: dict[str, Unit] = {}
        self.processing_days: dict[str, int] = {}
        self.fees: dict[str, FeeSchedule] = {}

    # ---- the directory as changed ------------------------------------------------------

    def directory(self, seed: Directory) -> Directory:
        staff = {**seed.staff, **self.appointed}
        return Directory(
            units=tuple({**seed.units, **self.added_units}.values()),
            staff=tuple(s for uid, s in staff.items() if uid not in self.deactivated),
            procedures=tuple(
                replace(p, processing_days=self.processing_days.get(code, p.processing_days),
                        fee=self.fees.get(code, p.fee))
                for code, p in seed.procedures.items()
            ),
        )

    # ---- commands ----------------------------------------------------------------------

    def appoint(self, *, admin: Staff, user_id: str, full_name: str, unit_code: str,
                roles: list[str], current: Directory, now: datetime) -> None:
        _require_admin(admin)
        user_id = user_id.strip().lower()
        if not _USER_ID.match(user_id):
            raise DomainError(
                "Tên đăng nhập gồm 3–40 chữ thường, số, dấu chấm, gạch ngang.",
                "A user name has 3–40 lower-case letters, digits, dots or dashes.",
            )
        current.unit(unit_code)  # refuses an unknown unit in words
        chosen = sorted(set(roles))
        if not chosen or not set(chosen) <= {r.value for r in Role}:
            raise DomainError("Hãy chọn ít nhất một vai trò hợp lệ.",
                              "Choose at least one valid role.")
        if user_id == admin.user_id and Role.ADMINISTRATOR.value not in chosen:
            raise DomainError("Không tự bỏ quyền quản trị của chính mình.",
                              "You cannot remove your own administrator role.")
        self._staff_appointed(
            actor_id=admin.user_id, occurred_at=now, timestamp=now, user_id=user_id,
            full_name=clean_text(full_name, label_vi="họ tên", label_en="full name",
                                 max_length=200),
            unit_code=unit_code, roles=chosen,
        )

    @event(StaffAppointed)
    def _staff_appointed(self, *, actor_id: str, occurred_at: datetime,
                         timestamp: datetime, user_id: str,
                         full_name: str, unit_code: str, roles: list[str]) -> None:
        self.appointed[user_id] = Staff(user_id, full_name, unit_code,
                                        frozenset(Role(r) for r in roles))
        self.deactivated.discard(user_id)

    def deactivate(self, *, admin: Staff, user_id: str, reason: str, current: Directory,
                   now: datetime) -> None:
        _require_admin(admin)
        if user_id == admin.user_id:
            raise DomainError("Không tự vô hiệu hóa tài khoản của chính mình.",
                              "You cannot deactivate your own account.")
        current.member(user_id)  # refuses an unknown or already inactive member
        self._staff_deactivated(
            actor_id=admin.user_id, occurred_at=now, timestamp=now, user_id=user_id,
            reason=clean_text(reason, label_vi="lý do", label_en="reason", max_length=500),
        )

    @event(StaffDeactivated)
    def _staff_deactivated(self, *, actor_id: str, occurred_at: datetime,
                           timestamp: datetime, user_id: str,
                           reason: str) -> None:
        self.deactivated.add(user_id)

    def add_unit(self, *, admin: Staff, code: str, agency_code: str, name_vi: str,
                 name_en: str, kind: str, current: Directory, now: datetime) -> None:
        _require_admin(admin)
        code = code.strip().upper()
        if not _UNIT_CODE.match(code):
            raise DomainError("Mã đơn vị gồm 2–20 chữ in hoa, số hoặc gạch ngang.",
                              "A unit code has 2–20 capital letters, digits or dashes.")
        if code in current.units:
            raise DomainError(f"Đã có đơn vị mã “{code}”.", f"Unit “{code}” already exists.")
        if not _AGENCY_CODE.match(agency_code.strip()):
            raise DomainError("Mã cơ quan theo dạng 000.00.01.H29.",
                              "The agency code looks like 000.00.01.H29.")
        if kind not in {k.value for k in UnitKind}:
            raise DomainError("Loại đơn vị không hợp lệ.", "Not a valid kind of unit.")
        self._unit_added(
            actor_id=admin.user_id, occurred_at=now, timestamp=now, code=code,
            agency_code=agency_code.strip(),
            name_vi=clean_text(name_vi, label_vi="tên đơn vị", label_en="unit name",
                               max_length=200),
            name_en=clean_text(name_en, label_vi="tên tiếng Anh", label_en="English name",
                               max_length=200),
            kind=kind,
        )

    @event(UnitAdded)
    def _unit_added(self, *, actor_id: str, occurred_at: datetime, timestamp: datetime,
                    code: str,
                    agency_code: str, name_vi: str, name_en: str, kind: str) -> None:
        self.added_units[code] = Unit(code, agency_code, name_vi, name_en, UnitKind(kind))

    def set_processing_time(self, *, admin: Staff, procedure_code: str, processing_days: int,
                            legal_basis: str, current: Directory, now: datetime) -> None:
        _require_admin(admin)
        current.procedure(procedure_code)
        if not 1 <= processing_days <= MAX_PROCESSING_DAYS:
            raise DomainError(
                f"Thời hạn giải quyết từ 1 đến {MAX_PROCESSING_DAYS} ngày làm việc.",
                f"The processing time is 1 to {MAX_PROCESSING_DAYS} working days.",
            )
        self._processing_time_set(
            actor_id=admin.user_id, occurred_at=now, timestamp=now,
            procedure_code=procedure_code,
            processing_days=processing_days,
            legal_basis=clean_text(legal_basis, label_vi="căn cứ pháp lý",
                                   label_en="legal basis", max_length=300),
        )

    @event(ProcessingTimeSet)
    def _processing_time_set(self, *, actor_id: str, occurred_at: datetime,
                             timestamp: datetime,
                             procedure_code: str, processing_days: int,
                             legal_basis: str) -> None:
        self.processing_days[procedure_code] = processing_days

    def set_fee_schedule(self, *, admin: Staff, procedure_code: str, schedule: FeeSchedule,
                         current: Directory, now: datetime) -> None:
        """``schedule`` comes checked (``FeeSchedule.cleaned``)."""
        _require_admin(admin)
        current.procedure(procedure_code)
        self._fee_schedule_set(actor_id=admin.user_id, occurred_at=now, timestamp=now,
                               procedure_code=procedure_code, **schedule.as_dict())

    @event(FeeScheduleSet)
    def _fee_schedule_set(self, *, actor_id: str, occurred_at: datetime, timestamp: datetime,
                          procedure_code: str, amount_vnd: int | None, legal_basis: str,
                          rule_vi: str, rule_en: str, exemptions_vi: str,
                          exemptions_en: str) -> None:
        self.fees[procedure_code] = FeeSchedule(amount_vnd, legal_basis, rule_vi, rule_en,
                                                exemptions_vi, exemptions_en)


def _require_admin(staff: Staff) -> None:
    if Role.ADMINISTRATOR not in staff.roles:
        raise AccessDenied("Chỉ quản trị viên mới thay đổi danh mục đơn vị, cán bộ, thủ tục.",
                           "Only administrators change units, staff and procedures.")
