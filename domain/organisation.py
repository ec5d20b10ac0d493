"""Organisational units, staff and the procedure catalogue (seed data for Ho Chi Minh City).

Units and staff are seed data for now; managing them through the UI comes with roles and
administration. Procedure names and processing times follow the city's published catalogue;
the national procedure codes should be checked against the national database before go-live,
and so should the fees and their legal bases (the circulars in force change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum

from domain.errors import AccessDenied, NotFound
from domain.fees import FeeSchedule


class UnitKind(StrEnum):
    RECEPTION = "reception"  # one-stop counter (bộ phận một cửa)
    SPECIALIST = "specialist"
    LEADERSHIP = "leadership"
    POST_OFFICE = "post_office"
    OVERSIGHT = "oversight"  # inspectors: read only


@dataclass(frozen=True)
class Unit:
    code: str
    agency_code: str  # national agency code used in dossier codes, e.g. 000.00.01.H29
    name_vi: str
    name_en: str
    kind: UnitKind


class Role(StrEnum):
    RECEPTION = "reception"  # one-stop counter clerk
    SPECIALIST = "specialist"
    SIGNING_OFFICER = "signing_officer"
    POST_AGENT = "post_agent"
    INSPECTOR = "inspector"
    ADMINISTRATOR = "administrator"


@dataclass(frozen=True)
class Staff:
    user_id: str
    full_name: str
    unit_code: str
    roles: frozenset[Role] = frozenset()

    @property
    def may_sign(self) -> bool:
        return Role.SIGNING_OFFICER in self.roles

    @property
    def may_review(self) -> bool:
        """Inspectors and administrators read audit trails, analytics and red flags."""
        return bool(self.roles & {Role.INSPECTOR, Role.ADMINISTRATOR})

    @property
    def administers(self) -> bool:
        """Administrators appoint staff, add units, change processing times, revoke keys."""
        return Role.ADMINISTRATOR in self.roles

    @property
    def serves_the_counter(self) -> bool:
        """Reception clerks find files by code or phone and hand results out at the counter."""
        return Role.RECEPTION in self.roles

    @property
    def sees_only_the_post(self) -> bool:
        return sees_only_the_post(self.roles)

    @property
    def carries_the_post(self) -> bool:
        """Post office agents collect, carry and deliver: the post's work list is theirs."""
        return Role.POST_AGENT in self.roles

    @property
    def may_manage_signing_keys(self) -> bool:
        """Signing officers register their own key; administrators revoke anyone's."""
        return self.may_sign or self.administers


# Who receives dossiers at a one-stop counter (the unit and procedure decide the rest).
RECEIVING_ROLES = frozenset({Role.RECEPTION})


def sees_only_the_post(roles: frozenset[Role]) -> bool:
    """A post office agent (and nothing else) sees only what was handed to the post."""
    return roles == {Role.POST_AGENT}


def receive_refusal(procedure: Procedure, receiving_unit: Unit, actor_unit_code: str,
                    actor_roles: frozenset[Role]) -> AccessDenied | None:
    """Why someone of ``actor_roles`` at ``actor_unit_code`` may not receive ``procedure``'s
    dossiers at ``receiving_unit``, or None if they may: the one rule behind receiving and
    the procedures a receive form offers."""
    if receiving_unit.code != actor_unit_code or receiving_unit.kind is not UnitKind.RECEPTION:
        return AccessDenied(
            "Chỉ bộ phận một cửa mới tiếp nhận hồ sơ.",
            "Only a one-stop reception unit can receive dossiers.",
        )
    if not actor_roles & RECEIVING_ROLES:
        return AccessDenied(
            "Chỉ cán bộ tiếp nhận mới tiếp nhận hồ sơ.",
            "Only reception clerks receive dossiers.",
        )
    if procedure.reception_unit != receiving_unit.code:
        return AccessDenied(
            f"Thủ tục “{procedure.name_vi}” không tiếp nhận tại đơn vị của bạn.",
            f"The procedure “{procedure.name_en}” is not received at your unit.",
        )
    return None


class Allotment(StrEnum):
    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"


@dataclass(frozen=True)
class RouteStep:
    """One unit on a procedure's usual route, and the time it is allotted."""

    unit_code: str
    allotted: int
    measure: Allotment = Allotment.WORKING_DAYS


@dataclass(frozen=True)
class DeadlineRules:
    """How a procedure's clock runs. Defaults follow the one-stop practice in the city.

    - ``cutoff``: a dossier received after this local time counts from the next working day.
    - Supplement requests pause the clock; it resumes (never restarts) when they arrive.
    - An apology and new appointment must be issued no later than the due date.
    """

    cutoff: time = time(15, 0)


class MediaType(StrEnum):
    """The only kinds of file hoso keeps: scans and photos, checked by their bytes."""

    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"


ANY_SCAN = (MediaType.PDF, MediaType.JPEG, MediaType.PNG)


@dataclass(frozen=True)
class DocumentRequirement:
    """One line of a procedure's published document list (*thành phần hồ sơ*)."""

    name_vi: str
    name_en: str
    required: bool = True
    copies: int = 1
    original: bool = False  # an original (bản chính) rather than a copy (bản sao)
    accepted: tuple[MediaType, ...] = ANY_SCAN

    def matches(self, name: str) -> bool:
        wanted = " ".join(name.split()).casefold()
        return wanted in (self.name_vi.casefold(), self.name_en.casefold())


@dataclass(frozen=True)
class Procedure:
    code: str
    name_vi: str
    name_en: str
    processing_days: int  # legal processing time, in working days
    route: tuple[RouteStep, ...]  # reception → specialist → signing leader → return
    document_list: tuple[DocumentRequirement, ...]  # the published thành phần hồ sơ
    rules: DeadlineRules = field(default_factory=DeadlineRules)
    # Offered on the public "submit online" path (dịch vụ công trực tuyến toàn trình).
    online: bool = False
    # The published fee (lệ phí): a fixed amount due at reception, or how it is fixed later.
    fee: FeeSchedule | None = None

    @property
    def documents(self) -> tuple[str, ...]:
        """The documents' names as the counter records them (Vietnamese)."""
        return tuple(d.name_vi for d in self.document_list)

    def requirement(self, name: str) -> DocumentRequirement | None:
        """The published line this document name is, or None: outside the published list."""
        return next((d for d in self.document_list if d.matches(name)), None)

    def outside_list(self, names: list[str]) -> list[str]:
        return [n for n in names if self.requirement(n) is None]

    @property
    def reception_unit(self) -> str:
        return self.route[0].unit_code

    @property
    def route_units(self) -> tuple[str, ...]:
        return tuple(step.unit_code for step in self.route)

    def step_for(self, unit_code: str, after: int = -1) -> tuple[int, RouteStep] | None:
        """The first route step at ``unit_code`` after position ``after``."""
        for position, step in enumerate(self.route):
            if position > after and step.unit_code == unit_code:
                return position, step
        return None


UNITS: tuple[Unit, ...] = (
    Unit("TTHCC", "000.00.01.H29", "Trung tâm Phục vụ hành chính công TP.HCM",
         "HCMC Public Administrative Service Centre", UnitKind.RECEPTION),
    Unit("STP-HCTP", "000.00.12.H29", "Phòng Hành chính tư pháp – Sở Tư pháp",
         "Judicial Administration Division – Department of Justice", UnitKind.SPECIALIST),
    Unit("STP-BGD", "000.00.12.H29", "Ban Giám đốc Sở Tư pháp",
         "Board of Directors – Department of Justice", UnitKind.LEADERSHIP),
    Unit("STC-DKKD", "000.00.09.H29", "Phòng Đăng ký kinh doanh – Sở Tài chính",
         "Business Registration Office – Department of Finance", UnitKind.SPECIALIST),
    Unit("STC-BGD", "000.00.09.H29", "Ban Giám đốc Sở Tài chính",
         "Board of Directors – Department of Finance", UnitKind.LEADERSHIP),
    Unit("SXD-CPXD", "000.00.15.H29", "Phòng Cấp phép xây dựng – Sở Xây dựng",
         "Building Permits Division – Department of Construction", UnitKind.SPECIALIST),
    Unit("SXD-BGD", "000.00.15.H29", "Ban Giám đốc Sở Xây dựng",
         "Board of Directors – Department of Construction", UnitKind.LEADERSHIP),
    Unit("VPDKDD", "000.00.20.H29", "Văn phòng Đăng ký đất đai TP.HCM",
         "HCMC Land Registration Office", UnitKind.SPECIALIST),
    Unit("VPDKDD-GD", "000.00.20.H29", "Giám đốc Văn phòng Đăng ký đất đai",
         "Director – Land Registration Office", UnitKind.LEADERSHIP),
    Unit("PA08", "000.00.30.H29", "Phòng Quản lý xuất nhập cảnh – Công an TP.HCM",
         "Immigration Division – HCMC Police", UnitKind.RECEPTION),
    Unit("PA08-XL", "000.00.30.H29", "Đội xét duyệt hộ chiếu – Phòng Quản lý xuất nhập cảnh",
         "Passport Review Team – Immigration Division", UnitKind.SPECIALIST),
    Unit("PA08-LD", "000.00.30.H29", "Lãnh đạo Phòng Quản lý xuất nhập cảnh",
         "Head of the Immigration Division", UnitKind.LEADERSHIP),
    Unit("BUUDIEN", "000.00.99.H29", "Bưu điện TP.HCM (dịch vụ bưu chính công ích)",
         "HCMC Post Office (public postal service)", UnitKind.POST_OFFICE),
    Unit("TTRA", "000.00.05.H29", "Thanh tra Thành phố", "City Inspectorate", UnitKind.OVERSIGHT),
)

_RECEPTION = frozenset({Role.RECEPTION})
_SPECIALIST = frozenset({Role.SPECIALIST})
_SIGNER = frozenset({Role.SIGNING_OFFICER})

STAFF: tuple[Staff, ...] = (
    Staff("tiepnhan", "Nguyễn Thị Lan", "TTHCC", _RECEPTION),
    Staff("tiepnhan2", "Trần Văn Minh", "TTHCC", _RECEPTION),
    Staff("hctp", "Lê Thị Hoa", "STP-HCTP", _SPECIALIST),
    Staff("gd.stp", "Phạm Văn Đức", "STP-BGD", _SIGNER),
    Staff("dkkd", "Võ Minh Tuấn", "STC-DKKD", _SPECIALIST),
    Staff("gd.stc", "Đặng Thu Hà", "STC-BGD", _SIGNER),
    Staff("cpxd", "Bùi Quốc Khánh", "SXD-CPXD", _SPECIALIST),
    Staff("gd.sxd", "Hoàng Anh Dũng", "SXD-BGD", _SIGNER),
    Staff("vpdk", "Đỗ Thị Mai", "VPDKDD", _SPECIALIST),
    Staff("gd.vpdk", "Ngô Văn Hải", "VPDKDD-GD", _SIGNER),
    Staff("xnc", "Huỳnh Thanh Tâm", "PA08", _RECEPTION),
    Staff("xnc.xl", "Châu Ngọc Bích", "PA08-XL", _SPECIALIST),
    Staff("ld.xnc", "Trương Công Vinh", "PA08-LD", _SIGNER),
    Staff("buudien", "Lý Thị Ngọc", "BUUDIEN", frozenset({Role.POST_AGENT})),
    Staff("thanhtra", "Mai Văn Chính", "TTRA", frozenset({Role.INSPECTOR})),
    Staff("quantri", "Tô Thị Quản", "TTHCC", frozenset({Role.ADMINISTRATOR})),
)

def _route(*steps: tuple[str, int, str]) -> tuple[RouteStep, ...]:
    return tuple(
        RouteStep(unit, allotted,
                  Allotment.WORKING_HOURS if measure == "h" else Allotment.WORKING_DAYS)
        for unit, allotted, measure in steps
    )


def _doc(name_vi: str, name_en: str, *, required: bool = True, copies: int = 1,
         original: bool = False, accepted: tuple[MediaType, ...] = ANY_SCAN,
         ) -> DocumentRequirement:
    return DocumentRequirement(name_vi, name_en, required, copies, original, accepted)


_PHOTO = (MediaType.JPEG, MediaType.PNG)

PROCEDURES: tuple[Procedure, ...] = (
    Procedure(
        "2.000488", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam",
        "Issuing a criminal record certificate to a Vietnamese citizen", 10,
        _route(("TTHCC", 4, "h"), ("STP-HCTP", 7, "d"), ("STP-BGD", 2, "d"), ("TTHCC", 4, "h")),
        (_doc("Tờ khai yêu cầu cấp Phiếu lý lịch tư pháp",
              "Application form for a criminal record certificate", original=True),
         _doc("Bản chụp CCCD", "Copy of the citizen identity card"),
         _doc("Ảnh chân dung", "Portrait photo", required=False, accepted=_PHOTO)),
        online=True,
        fee=FeeSchedule(
            200_000, "Thông tư số 244/2016/TT-BTC",
            exemptions_vi="Trẻ em, người cao tuổi, người khuyết tật, người thuộc hộ nghèo "
                          "được miễn; sinh viên, người có công được giảm 50%",
            exemptions_en="Waived for children, the elderly, people with disabilities and "
                          "poor households; halved for students and people with merit"),
    ),
    Procedure(
        "2.001610", "Đăng ký thành lập doanh nghiệp tư nhân",
        "Registering a sole proprietorship", 3,
        _route(("TTHCC", 2, "h"), ("STC-DKKD", 2, "d"), ("STC-BGD", 4, "h"), ("TTHCC", 2, "h")),
        (_doc("Giấy đề nghị đăng ký doanh nghiệp", "Business registration application",
              original=True),
         _doc("Bản sao giấy tờ pháp lý của chủ doanh nghiệp",
              "Copy of the owner's legal identity papers")),
        online=True,
        fee=FeeSchedule(50_000, "Thông tư số 47/2019/TT-BTC"),
    ),
    Procedure(
        "1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "Building permit for a detached house", 15,
        _route(("TTHCC", 4, "h"), ("SXD-CPXD", 11, "d"), ("SXD-BGD", 3, "d"), ("TTHCC", 4, "h")),
        (_doc("Đơn đề nghị cấp giấy phép xây dựng", "Building permit application",
              original=True),
         _doc("Giấy chứng nhận quyền sử dụng đất", "Land use right certificate"),
         _doc("Bản vẽ thiết kế xây dựng", "Construction design drawings", copies=2,
              accepted=(MediaType.PDF,))),
        fee=FeeSchedule(75_000, "Nghị quyết số 124/2016/NQ-HĐND TP.HCM"),
    ),
    Procedure(
        "1.004227", "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất lần đầu",
        "First registration of land and issue of a land use right certificate", 20,
        _route(("TTHCC", 4, "h"), ("VPDKDD", 16, "d"), ("VPDKDD-GD", 3, "d"), ("TTHCC", 4, "h")),
        (_doc("Đơn đăng ký đất đai", "Land registration application", original=True),
         _doc("Giấy tờ về quyền sử dụng đất", "Papers on the land use right"),
         _doc("Sơ đồ thửa đất", "Plot diagram", required=False)),
        # Land use levy and registration fee are assessed by the tax office during
        # processing: a financial obligation (portal status 6), not a fee at the counter.
        fee=FeeSchedule(
            None, "Nghị định số 103/2024/NĐ-CP; Nghị định số 10/2022/NĐ-CP",
            rule_vi="Tiền sử dụng đất, lệ phí trước bạ theo thông báo của cơ quan thuế "
                    "trong quá trình giải quyết",
            rule_en="Land use levy and registration fee, as notified by the tax office "
                    "during processing"),
    ),
    Procedure(
        "2.002206", "Cấp hộ chiếu phổ thông ở trong nước",
        "Issuing an ordinary passport (in Vietnam)", 8,
        _route(("PA08", 4, "h"), ("PA08-XL", 5, "d"), ("PA08-LD", 2, "d"), ("PA08", 4, "h")),
        (_doc("Tờ khai đề nghị cấp hộ chiếu (mẫu TK01)", "Passport application (form TK01)",
              original=True),
         _doc("Ảnh chân dung 4x6", "Portrait photo 4x6", copies=2, accepted=_PHOTO),
         _doc("CCCD", "Citizen identity card")),
        fee=FeeSchedule(200_000, "Thông tư số 25/2021/TT-BTC"),
    ),
)


class Directory:
    """Look-ups over the seed data, refusing unknown codes with a readable message."""

    def __init__(
        self,
        units: tuple[Unit, ...] = UNITS,
        staff: tuple[Staff, ...] = STAFF,
        procedures: tuple[Procedure, ...] = PROCEDURES,
    ) -> None:
        self.units = {u.code: u for u in units}
        self.staff = {s.user_id: s for s in staff}
        self.procedures = {p.code: p for p in procedures}

    def unit(self, code: str) -> Unit:
        try:
            return self.units[code]
        except KeyError:
            raise NotFound(f"Không có đơn vị mã “{code}”.", f"There is no unit “{code}”.") from None

    def member(self, user_id: str) -> Staff:
        try:
            return self.staff[user_id]
        except KeyError:
            raise NotFound(
                f"Không có cán bộ “{user_id}”.", f"There is no staff member “{user_id}”."
            ) from None

    def procedures_received_by(self, staff: Staff) -> list[Procedure]:
        """The procedures ``staff`` may receive dossiers of (none for anyone but a reception
        clerk of a one-stop unit)."""
        unit = self.units.get(staff.unit_code)
        if unit is None:
            return []
        return [p for p in self.procedures.values()
                if receive_refusal(p, unit, staff.unit_code, staff.roles) is None]

    def procedure(self, code: str) -> Procedure:
        try:
            return self.procedures[code]
        except KeyError:
            raise NotFound(
                f"Không có thủ tục mã “{code}” trong danh mục.",
                f"There is no procedure “{code}” in the catalogue.",
            ) from None

    def unit_name(self, code: str) -> str:
        unit = self.units.get(code)
        return unit.name_vi if unit else code

    def post_office(self) -> Unit:
        return next(u for u in self.units.values() if u.kind is UnitKind.POST_OFFICE)

    def members_of(self, unit_code: str) -> list[Staff]:
        return [s for s in self.staff.values() if s.unit_code == unit_code]
