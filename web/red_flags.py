"""The red-flag page: reasons for inspectors to open files, each explained in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import AccessDenied, DomainError
from domain.organisation import Directory, Staff
from projections.red_flags import (
    Day,
    Detail,
    DetailValue,
    EventRef,
    Moment,
    Money,
    OfficerRate,
    OfficeTime,
    Period,
    PersonRef,
    ProcedureRef,
    RedFlag,
    ReviewData,
    Thresholds,
    Times,
    UnitRef,
    red_flags,
    without_settled,
)
from web import figures
from web.analytics import cached
from web.clerk import refuse_access, services_of, staff_only
from web.formatting import local_date, local_time, parse_day, vnd
from web.i18n import gettext as _
from web.i18n import in_locale, pick, unit_name
from web.labels import EVENTS, Label, label
from web.templating import render

NOT_A_REVIEWER = AccessDenied(
    "Trang này dành cho thanh tra và quản trị viên.",
    "This page is for inspectors and administrators.",
)
DEFAULT_PERIOD = timedelta(days=90)
# A page lists this many files per flag; the CSV-minded can narrow the period.
SHOWN_PER_FLAG = 50


def flag_texts(t: Thresholds) -> dict[str, tuple[Label, Label]]:
    """Each flag's title and its plain-words explanation, with the thresholds in force."""
    hours = lambda d: f"{d.total_seconds() / 3600:g}"  # noqa: E731
    return {
        "stuck": (Label("Nằm lâu tại một bàn", "Stuck at a desk"), Label(
            f"Hồ sơ ở một bước lâu hơn {t.stuck_allowance_factor:g} lần thời gian cho phép của "
            "bước đó, hoặc đang nằm lâu hơn 90% hồ sơ cùng thủ tục từng qua đơn vị này (chỉ "
            f"so khi có ít nhất {t.min_sample} hồ sơ). Thời gian chờ công dân bổ sung không tính.",
            f"A step took more than {t.stuck_allowance_factor:g}× its allowance, or a file still "
            "waits longer than 90% of that unit's files of the procedure did (compared only "
            f"with at least {t.min_sample} files). Time waiting for the citizen is not counted.")),
        "queue_jumping": (Label("Vượt lượt", "Queue jumping"), Label(
            "Hồ sơ được xử lý xong trong khi ít nhất "
            f"{t.queue_jump_min_overtaken} hồ sơ cùng thủ tục, đến cùng đơn vị sớm hơn "
            f"{hours(t.queue_jump_grace)} giờ trở lên, vẫn còn chờ. Tỷ lệ tính theo cán bộ.",
            f"A file was finished while at least {t.queue_jump_min_overtaken} files of the same "
            f"procedure, which reached the unit {hours(t.queue_jump_grace)} hours or more "
            "earlier, still waited. Rates are per officer.")),
        "repeated_supplements": (Label("Yêu cầu bổ sung nhiều lần", "Repeated supplement requests"),
                                 Label(
            "Quy định: công dân được thông báo đầy đủ giấy tờ còn thiếu một lần. Hồ sơ này bị "
            "yêu cầu bổ sung từ hai lần trở lên.",
            "The rule is that a citizen is told everything missing once; this file was asked "
            "twice or more.")),
        "supplement_rates": (Label("Cán bộ hay yêu cầu bổ sung", "Officers often asking for more"),
                             Label(
            f"Cán bộ yêu cầu bổ sung từ {t.supplement_rate_factor:g} lần tỷ lệ của các đồng "
            "nghiệp cùng đơn vị trở lên, và cao hơn ít nhất 10 điểm phần trăm (chỉ so khi mỗi "
            f"bên có ít nhất {t.min_sample} hồ sơ).",
            f"An officer asks for documents {t.supplement_rate_factor:g}× as often as their "
            "colleagues in the unit or more, and at least 10 points more (compared only with "
            f"at least {t.min_sample} files on each side).")),
        "supplements_outside_list": (Label("Yêu cầu bổ sung ngoài danh mục",
                                           "Supplements outside the published list"), Label(
            "Yêu cầu bổ sung có giấy tờ không nằm trong danh mục thành phần hồ sơ đã công bố "
            "của thủ tục. Được phép ghi, nhưng công dân được báo là ngoài danh mục; tính theo "
            "cán bộ trên tổng số lần yêu cầu bổ sung của họ.",
            "A supplement request named papers that are not on the procedure's published "
            "document list. It is allowed, but the citizen is told they are outside the list; "
            "counted per officer against all their supplement requests.")),
        "late_without_apology": (Label("Trễ hạn không xin lỗi", "Late without an apology"), Label(
            "Hồ sơ có kết quả sau ngày hẹn trả, hoặc đã quá hẹn mà chưa có kết quả, và không "
            "có phiếu xin lỗi và hẹn lại ngày trả kết quả.",
            "The result came after the appointment date, or is overdue, and no apology letter "
            "with a new date was issued.")),
        "moved_more_than_once": (Label("Dời hẹn nhiều lần", "Due date moved more than once"),
                                 Label(
            "Ngày hẹn trả đã bị dời từ hai lần trở lên.",
            "The appointment date was moved twice or more.")),
        "favours": (Label("Nhanh bất thường cho một số người", "Unusually fast for a few"), Label(
            "Một cán bộ xử lý vài hồ sơ (không quá "
            f"{t.favour_max_share:.0%} số hồ sơ) trong chưa tới {t.favour_fast_share:.0%} thời "
            "gian thường lệ của mình cho thủ tục đó, trong khi thường lệ là từ "
            f"{hours(t.favour_min_usual)} giờ trở lên (cần ít nhất {t.min_sample} hồ sơ).",
            f"An officer handled a few files (at most {t.favour_max_share:.0%}) in under "
            f"{t.favour_fast_share:.0%} of their usual time for the procedure, while the usual "
            f"time is {hours(t.favour_min_usual)} hours or more (at least {t.min_sample} files).")),
        "off_route": (Label("Chuyển ngoài quy trình", "Transfers off the route"), Label(
            "Hồ sơ được chuyển đến đơn vị không nằm trong quy trình của thủ tục.",
            "The file went to a unit outside the procedure's route.")),
        "ping_pong": (Label("Chuyển qua lại", "Ping-pong"), Label(
            f"Hồ sơ bị chuyển qua lại giữa hai đơn vị từ {t.ping_pong_transfers} lần trở lên.",
            f"The file went back and forth between two units {t.ping_pong_transfers} times "
            "or more.")),
        "long_transit": (Label("Đi đường lâu", "Long transit"), Label(
            f"Hồ sơ chuyển đi hơn {hours(t.long_transit)} giờ mới được đơn vị nhận mở ra (hoặc "
            "vẫn chưa được nhận).",
            f"A transferred file waited more than {hours(t.long_transit)} hours before the "
            "receiving unit opened it (or still waits).")),
        "lost_in_the_post": (Label("Thất lạc qua bưu điện?", "Lost in the post?"), Label(
            f"Kết quả gửi qua bưu điện quá {t.postal_delivery_working_days} ngày làm việc mà "
            "chưa có xác nhận đã trao hay trả lại bộ phận một cửa.",
            f"A result sent by post more than {t.postal_delivery_working_days} working days "
            "ago, with neither a delivery nor a return to the counter recorded.")),
        "backdated": (Label("Ghi lùi ngày", "Back-dating"), Label(
            f"Thao tác được nhập vào hệ thống sau khi xảy ra hơn {hours(t.backdating)} giờ (bưu "
            f"điện báo phát: hơn {t.backdating_delivery.days} ngày).",
            f"An action was recorded more than {hours(t.backdating)} hours after the time it "
            f"claims (post office deliveries: more than {t.backdating_delivery.days} days).")),
        "out_of_order": (Label("Thời gian ngược thứ tự", "Times out of order"), Label(
            "Một bước ghi thời điểm sớm hơn bước trước đó của cùng hồ sơ.",
            "A step claims a time earlier than the step before it in the same file.")),
        "clock_gaming": (Label("Dừng đồng hồ sát hạn", "Clock gaming"), Label(
            "Yêu cầu bổ sung hoặc từ chối được đưa ra trong vòng "
            f"{t.clock_gaming_working_days} ngày làm việc trước ngày hẹn trả — cách làm "
            "dừng đồng hồ để tránh bị tính trễ.",
            "A supplement request or refusal came within "
            f"{t.clock_gaming_working_days} working day(s) of the due date — a way to stop the "
            "clock and avoid counting as late.")),
        "brokers": (Label("Có thể qua “cò”", "Possible brokers"), Label(
            f"Cùng một số điện thoại đứng sau từ {t.broker_dossiers} hồ sơ, trong đó từ "
            f"{t.broker_suspicious} hồ sơ được xử lý nhanh bất thường hoặc vượt lượt. Số "
            "điện thoại không hiển thị ở đây.",
            f"One phone number stands behind {t.broker_dossiers} or more files, of which "
            f"{t.broker_suspicious} or more were unusually fast or jumped the queue. The "
            "number itself is not shown here.")),
        "off_hours": (Label("Thao tác ngoài giờ", "Off-hours actions"), Label(
            "Thao tác vào ban đêm, cuối tuần hoặc ngày lễ (trừ bưu điện phát kết quả và "
            "công dân nộp trực tuyến).",
            "Actions at night, at weekends or on public holidays (except postal deliveries "
            "and online filings).")),
        "reading_without_a_part": (Label("Xem hồ sơ không liên quan",
                                         "Reading files one has no part in"), Label(
            "Cán bộ mở xem hồ sơ mà đơn vị mình chưa từng giữ và bản thân chưa thao tác gì "
            "(không tính thanh tra khi kiểm tra).",
            "Staff opened a file their unit never held and they never acted on (inspectors "
            "auditing are not counted).")),
        "fee_differs": (Label("Thu phí khác quy định", "Fees unlike the schedule"), Label(
            "Số tiền thu tại quầy khác số phải nộp theo biểu phí hồ sơ được tiếp nhận "
            "(thu thêm, hay miễn giảm không ghi lại?).",
            "The amount taken at the counter differs from what the dossier's fee schedule "
            "asked (an extra charge, or an exemption nobody recorded?).")),
        "fee_after_result": (Label("Thu phí sau khi có kết quả", "Fees taken after the result"),
                             Label(
            "Khoản phí được ghi nhận sau khi hồ sơ đã được ký hoặc từ chối.",
            "A fee recorded only after the decision was signed or refused.")),
        "bad_ratings": (Label("Công dân phản ánh", "Citizens' complaints"), Label(
            "Công dân đánh giá rằng phải đi lại nhiều lần hoặc bị đòi hỏi ngoài quy định.",
            "The citizen said they had to come back or were asked for something unofficial.")),
    }


@dataclass(frozen=True)
class OfficerLine:
    rate: OfficerRate
    name: str
    unit_name: str


@dataclass(frozen=True)
class DossierLine:
    dossier_id: str
    code: str
    detail: str


@dataclass(frozen=True)
class FlagSection:
    key: str
    title: Label
    explanation: Label
    dossiers: list[DossierLine]
    more: int
    officers: list[OfficerLine]


def _value(value: DetailValue, d: Directory) -> str:
    """One value of a flag's explanation, as the reader's language writes it."""
    if isinstance(value, OfficeTime):
        hours = value.value.total_seconds() / 3600
        if hours >= 16:
            return _("%(n)s ngày làm việc") % {"n": figures.decimal(hours / 8)}
        return _("%(n)s giờ làm việc") % {"n": figures.decimal(hours)}
    if isinstance(value, Moment):
        return local_time(value.value)
    if isinstance(value, Day):
        return local_date(value.value)
    if isinstance(value, UnitRef):
        return unit_name(d, value.code)
    if isinstance(value, PersonRef):
        member = d.staff.get(value.user_id)
        return member.full_name if member else value.user_id
    if isinstance(value, EventRef):
        return pick(label(EVENTS, value.kind))
    if isinstance(value, ProcedureRef):
        procedure = d.procedures.get(value.code)
        return in_locale(procedure.name_vi, procedure.name_en) if procedure else value.code
    if isinstance(value, Times):
        return figures.decimal(value.value)
    if isinstance(value, Money):
        return vnd(value.vnd)
    return str(value)


def detail_text(detail: Detail, d: Directory) -> str:
    """A flagged dossier's explanation in the reader's language."""
    return _(detail.text) % {name: _value(value, d) for name, value in detail.values}


@dataclass(frozen=True)
class RedFlagPage:
    period: Period
    units: list[tuple[str, str]]
    sections: list[FlagSection]
    dossiers_reviewed: int


def _sections(flags: list[RedFlag], d: Directory, t: Thresholds) -> list[FlagSection]:
    texts = flag_texts(t)
    return [
        FlagSection(
            key=f.key, title=texts[f.key][0], explanation=texts[f.key][1],
            dossiers=[DossierLine(x.dossier_id, x.code, detail_text(x.detail, d))
                      for x in f.dossiers[:SHOWN_PER_FLAG]],
            more=max(0, len(f.dossiers) - SHOWN_PER_FLAG),
            officers=[OfficerLine(o, d.staff[o.officer_id].full_name
                                  if o.officer_id in d.staff else o.officer_id,
                                  unit_name(d, o.unit_code)) for o in f.officers],
        )
        for f in flags
    ]


def _date(value: str | None, default: date, name: Label) -> date:
    if not value:
        return default
    try:
        return parse_day(value)
    except ValueError:
        raise DomainError(f"{name.vi} “{value[:20]}” không phải là ngày hợp lệ.",
                          f"{name.en} “{value[:20]}” is not a valid date.") from None


def parse_period(request: Request, today: date) -> Period:
    """The period asked for in the query string: [from, to] inclusive, local dates."""
    start = _date(request.query_params.get("from"), today - DEFAULT_PERIOD, Label("Từ ngày",
                                                                                  "From"))
    last = _date(request.query_params.get("to"), today, Label("Đến ngày", "To"))
    if last < start:
        raise DomainError("Ngày kết thúc phải sau ngày bắt đầu.",
                          "The end date must not be before the start date.")
    if last - start > timedelta(days=3 * 366):
        raise DomainError("Mỗi lần xem tối đa ba năm.", "At most three years at a time.")
    return Period(start, last + timedelta(days=1), request.query_params.get("unit") or None)


@staff_only
async def red_flag_page(request: Request, staff: Staff) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    d = await run_in_threadpool(lambda: services.directory)  # may read the store
    units = [(u.code, in_locale(u.name_vi, u.name_en)) for u in d.units.values()]
    try:
        period = parse_period(request, services.today())
    except DomainError as error:
        return render(request, "red_flags.html", {"page": None, "units": units, "error": error},
                      status_code=400)
    # The same minimum sample as the analytics pages (HOSO_MIN_SAMPLE), so a rate ranked
    # there is judged here on the same evidence.
    thresholds = Thresholds(min_sample=services.settings.min_sample)

    def compute(now: datetime) -> tuple[list[RedFlag], int]:
        data = ReviewData.load(services.read_models.review, period, now,
                               services.app.calendar, services.read_models.readings)
        return red_flags(data, thresholds, services.app.calendar), len(data.dossiers)

    # A year of a city's files takes seconds: recent results are shared, like analytics'.
    flags, reviewed = await run_in_threadpool(
        cached, request, ("red_flags", period, thresholds), compute)
    # A flag whose case was closed on these very facts is not raised again.
    settled = await run_in_threadpool(lambda: services.read_models.flag_cases.settled())
    flags = without_settled(flags, settled)
    page = RedFlagPage(period=period, units=units, sections=_sections(flags, d, thresholds),
                       dossiers_reviewed=reviewed)
    return render(request, "red_flags.html", {"page": page, "units": units, "error": None,
                                              "last_day": period.end - timedelta(days=1)})
