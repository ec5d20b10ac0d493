"""The red-flag page: reasons for inspectors to open files, each explained in plain words."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import AccessDenied, DomainError, NotFound
from domain.flag_case import Outcome, Subject, may_work_on
from domain.organisation import Directory, Staff
from projections.flag_cases import CaseRow, FalseAlarms
from projections.flag_desk import (
    DeskData,
    FileFilter,
    Rate,
    files_of,
    flag_count,
    load_desk,
    rankings,
)
from projections.red_flags import (
    Day,
    Detail,
    DetailValue,
    EventRef,
    FlaggedDossier,
    Moment,
    Money,
    OfficerRate,
    OfficeTime,
    Period,
    PersonRef,
    ProcedureRef,
    RedFlag,
    Thresholds,
    Times,
    UnitRef,
    without_settled,
)
from web import charts, figures
from web.analytics import cached, csv_response
from web.clerk import refuse_access, services_of, staff_only
from web.formatting import local_date, local_time, parse_day, vnd
from web.i18n import gettext as _
from web.i18n import in_locale, pick, unit_name
from web.labels import EVENTS, Label, label
from web.services import Services
from web.templating import render

log = logging.getLogger(__name__)
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
        "online_waiting": (Label("Hồ sơ trực tuyến chờ lâu", "Online files kept waiting"),
                           Label(
            f"Hồ sơ công dân nộp trực tuyến mà bộ phận một cửa hơn "
            f"{hours(t.online_reception)} giờ hành chính mới tiếp nhận hoặc từ chối tiếp nhận "
            "(hoặc vẫn chưa trả lời).",
            f"An online submission the counter received or refused to receive more than "
            f"{hours(t.online_reception)} office hours after the citizen sent it (or has not "
            "answered yet).")),
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




# ---- the desk: the summary, a flag's files ---------------------------------------------------

PER_PAGE = 50
SHOWN_RANKED = 10
CASE_OUTCOMES: dict[str, Label] = {
    Outcome.EXPLAINED.value: Label("Đã giải trình", "Explained"),
    Outcome.WARNING.value: Label("Nhắc nhở, cảnh cáo", "Warning"),
    Outcome.REFERRED.value: Label("Chuyển xử lý kỷ luật hoặc cơ quan chức năng",
                                  "Referred for discipline or to the authorities"),
    Outcome.FALSE_ALARM.value: Label("Cảnh báo nhầm", "False alarm"),
}


def thresholds_of(services: Services) -> Thresholds:
    # The same minimum sample as the analytics pages (HOSO_MIN_SAMPLE), so a rate ranked
    # there is judged here on the same evidence.
    return Thresholds(min_sample=services.settings.min_sample)


@dataclass(frozen=True)
class _Computed:
    position: int | None
    minute: datetime
    computed: float  # time.monotonic()
    data: DeskData


class DeskCache:
    """The desk's flags per period and thresholds, served while a newer result is computed.

    Computing a year's flags for two periods takes seconds (docs/benchmarks.md); the first
    visit for a period waits for it, later ones never do: once the read model has moved (or
    the 5-minute ``minute`` changed) and the result is older than ``max_age`` seconds
    (HOSO_ANALYTICS_MAX_AGE), the last result is served and one thread computes the next.
    With ``max_age`` 0 every change is computed at once, on the request."""

    SIZE = 16

    def __init__(self) -> None:
        self._items: OrderedDict[Hashable, _Computed] = OrderedDict()
        self._running: set[Hashable] = set()
        self._lock = threading.Lock()

    def get(self, key: Hashable, position: int | None, minute: datetime,
            compute: Callable[[], DeskData], max_age: float) -> _Computed:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
                if ((entry.position, entry.minute) == (position, minute)
                        or time.monotonic() - entry.computed < max_age):
                    return entry
                if max_age > 0:
                    if key not in self._running:
                        self._running.add(key)
                        threading.Thread(target=self._refresh, name="desk-flags", daemon=True,
                                         args=(key, position, minute, compute)).start()
                    return entry
        return self._store(key, position, minute, compute())

    def _store(self, key: Hashable, position: int | None, minute: datetime,
               data: DeskData) -> _Computed:
        entry = _Computed(position, minute, time.monotonic(), data)
        with self._lock:
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self.SIZE:
                self._items.popitem(last=False)
        return entry

    def _refresh(self, key: Hashable, position: int | None, minute: datetime,
                 compute: Callable[[], DeskData]) -> None:
        try:
            self._store(key, position, minute, compute())
        except Exception:  # the last result stays; the next visit tries again
            log.exception("the desk's red flags could not be computed")
        finally:
            with self._lock:
                self._running.discard(key)


def desk_data(request: Request, period: Period, thresholds: Thresholds) -> _Computed:
    """Both periods' flags: the last result computed (see :class:`DeskCache`)."""
    services = services_of(request)
    state = request.app.state
    if not hasattr(state, "desk_cache"):
        state.desk_cache = DeskCache()
    cache: DeskCache = state.desk_cache
    now = services.now()
    position = services.read_models.review.max_tracking_id(services.app.name)
    minute = now.replace(second=0, microsecond=0, minute=now.minute - now.minute % 5)

    def compute() -> DeskData:
        return load_desk(services.read_models.review, period, services.now(), thresholds,
                         services.app.calendar, services.read_models.readings)

    return cache.get(("flag_desk", period, thresholds), position, minute, compute,
                     services.settings.analytics_max_age)


@dataclass(frozen=True)
class Desk:
    """The period's flags less those closed as cases on the same facts, and what the pages
    show of them: each flag's count in both periods, the rankings, the procedures and
    officers to filter by. In no language yet, so every reader shares it."""

    data: DeskData
    flags: list[RedFlag]
    counts: dict[str, int]
    previous: dict[str, int]
    units: list[Rate]
    officers: list[Rate]
    procedures: frozenset[str]
    people: frozenset[str]


def open_desk(request: Request, period: Period, thresholds: Thresholds) -> Desk:
    services = services_of(request)
    computed = desk_data(request, period, thresholds)
    data = computed.data
    settled = frozenset(services.read_models.flag_cases.settled())

    def compute(now: datetime) -> Desk:
        unit = period.unit_code
        flags = without_settled(data.flags, set(settled))
        previous = without_settled(data.previous, set(settled))
        units, officers = rankings(flags, data.files, thresholds.min_sample)
        return Desk(
            data, flags, {f.key: flag_count(f, data.files, unit) for f in flags},
            {f.key: flag_count(f, data.previous_files, unit) for f in previous},
            units, officers, frozenset(f.procedure_code for f in data.files.values()),
            frozenset(o for f in data.files.values() for o in f.officers))

    # Shared like the flags themselves; a case closed (another settled set) or the flags
    # computed again is another key.
    return cached(request, ("flag_desk_figures", period, thresholds, settled,
                            computed.computed), compute)


@dataclass(frozen=True)
class FlagRow:
    key: str
    title: Label
    explanation: Label
    count: int
    previous: int
    on_officers: bool  # counted in officers, not files
    alarms: FalseAlarms | None

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class RateLine:
    name: str
    unit_name: str
    href: str
    rate: Rate


@dataclass(frozen=True)
class DeskPage:
    period: Period
    previous: Period
    rows: list[FlagRow]
    units: list[RateLine]
    officers: list[RateLine]
    reviewed: int
    min_sample: int
    flag_chart: Markup
    unit_chart: Markup | None
    open_cases: int
    closed_cases: int
    query: str

    @property
    def last_day(self) -> date:
        return self.period.end - timedelta(days=1)

    @property
    def previous_last_day(self) -> date:
        return self.previous.end - timedelta(days=1)


def period_query(period: Period, **more: str | None) -> str:
    """The period (and filters) as links carry them."""
    values = {"from": period.start.isoformat(),
              "to": (period.end - timedelta(days=1)).isoformat(),
              "unit": period.unit_code or "", **{k: v or "" for k, v in more.items()}}
    return urlencode({k: v for k, v in values.items() if v})


def _person_name(d: Directory, user_id: str) -> str:
    member = d.staff.get(user_id)
    return member.full_name if member else _("(cán bộ không còn trong danh bạ)")


def _desk_page(request: Request, staff: Staff, period: Period) -> DeskPage:
    services = services_of(request)
    d = services.directory
    thresholds = thresholds_of(services)
    desk = open_desk(request, period, thresholds)
    texts = flag_texts(thresholds)
    alarms = services.read_models.flag_cases.false_alarms()
    rows = [FlagRow(f.key, texts[f.key][0], texts[f.key][1], desk.counts[f.key],
                    desk.previous.get(f.key, 0), not f.dossiers and bool(f.officers),
                    alarms.get(f.key)) for f in desk.flags]
    # What was raised first, most first; the quiet flags after, in their usual order.
    rows.sort(key=lambda r: (not (r.count or r.previous), -r.count, -r.previous))
    # The ten first of each (named in the reader's language: only those shown).
    unit_lines = [RateLine(unit_name(d, r.key), "", f"/units/{r.key}?{period_query(period)}", r)
                  for r in desk.units[:SHOWN_RANKED]]
    officer_lines = [RateLine(_person_name(d, r.key),
                              unit_name(d, d.staff[r.key].unit_code) if r.key in d.staff else "",
                              f"/officers/{r.key}?{period_query(period)}", r)
                     for r in [o for o in desk.officers if o.key != staff.user_id][:SHOWN_RANKED]]
    shown = [r for r in rows if r.count]
    flag_chart = charts.hbar_chart(
        [charts.Bar(pick(r.title), r.count, _("%(flag)s: %(n)s (kỳ trước %(before)s)") % {
            "flag": pick(r.title), "n": r.count, "before": r.previous})
         for r in sorted(shown, key=lambda r: -r.count)],
        title=_("Số cảnh báo theo loại trong kỳ"))
    ranked_units = [line for line in unit_lines if line.rate.rate is not None][:10]
    unit_chart = charts.hbar_chart(
        [charts.Bar(line.name, line.rate.rate or 0.0,
                    _("%(unit)s: %(flagged)s trên %(n)s hồ sơ") % {
                        "unit": line.name, "flagged": line.rate.flagged, "n": line.rate.sample})
         for line in ranked_units],
        title=_("Tỷ lệ hồ sơ bị cảnh báo theo đơn vị (n ≥ %(n)s)") % {
            "n": thresholds.min_sample}, fmt="percent", colour=charts.COLOURS[3]
    ) if ranked_units else None
    cases = services.read_models.flag_cases.cases_for(staff.user_id)
    return DeskPage(
        period=period, previous=desk.data.previous_period, rows=rows, units=unit_lines,
        officers=officer_lines, reviewed=desk.data.reviewed, min_sample=thresholds.min_sample,
        flag_chart=flag_chart, unit_chart=unit_chart,
        open_cases=sum(1 for c in cases if c.outcome is None),
        closed_cases=sum(1 for c in cases if c.outcome is not None),
        query=period_query(period))


def _units(d: Directory) -> list[tuple[str, str]]:
    return [(u.code, in_locale(u.name_vi, u.name_en)) for u in d.units.values()]


@staff_only
def red_flag_page(request: Request, staff: Staff) -> Response:
    """The desk's summary: one screen, every flag's count against the previous period."""
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    units = _units(services.directory)
    try:
        period = parse_period(request, services.today())
    except DomainError as error:
        return render(request, "red_flags.html", {"page": None, "units": units, "error": error},
                      status_code=400)
    return render(request, "red_flags.html", {
        "page": _desk_page(request, staff, period), "units": units, "error": None})


# ---- one flag's files ------------------------------------------------------------------------

@dataclass(frozen=True)
class FileLine:
    dossier_id: str
    code: str
    detail: str
    procedure: str
    units: str
    case: CaseRow | None


@dataclass(frozen=True)
class OfficerLine:
    officer_id: str
    name: str
    unit_name: str
    rate: OfficerRate
    case: CaseRow | None
    may_open: bool


@dataclass(frozen=True)
class FlagPage:
    key: str
    title: Label
    explanation: Label
    alarms: FalseAlarms | None
    period: Period
    chosen: FileFilter
    files: list[FileLine]
    total: int
    page: int
    pages: int
    officers: list[OfficerLine]
    procedures: list[tuple[str, str]]
    staff: list[tuple[str, str]]
    query: str

    def link(self, page: int) -> str:
        return f"/red-flags/{self.key}?{self.query}&page={page}"

    @property
    def last_day(self) -> date:
        return self.period.end - timedelta(days=1)


def _chosen(request: Request, period: Period) -> FileFilter:
    params = request.query_params
    return FileFilter(unit_code=period.unit_code,
                      procedure_code=params.get("procedure") or None,
                      officer_id=params.get("officer") or None)


def _procedure_name(d: Directory, code: str) -> str:
    procedure = d.procedures.get(code)
    return in_locale(procedure.name_vi, procedure.name_en) if procedure else code


class NoSuchFlag(NotFound):
    def __init__(self) -> None:
        super().__init__("Không có loại cảnh báo này.", "There is no such red flag.")


def _flag_of(desk: Desk, key: str) -> RedFlag:
    flag = next((f for f in desk.flags if f.key == key), None)
    if flag is None:
        raise NoSuchFlag()
    return flag


def case_index(cases: list[CaseRow]) -> dict[tuple[str, str], CaseRow]:
    return {(c.subject.value, c.subject_id): c for c in cases}


def flag_files(request: Request, staff: Staff, key: str, period: Period,
               chosen: FileFilter) -> tuple[RedFlag, list[FlaggedDossier], Desk]:
    desk = open_desk(request, period, thresholds_of(services_of(request)))
    flag = _flag_of(desk, key)
    return flag, files_of(flag, desk.data.files, chosen), desk


def _file_line(f: FlaggedDossier, desk: Desk, d: Directory,
               cases: dict[tuple[str, str], CaseRow], key: str) -> FileLine:
    facts = desk.data.files.get(f.dossier_id)
    return FileLine(
        f.dossier_id, f.code, detail_text(f.detail, d),
        _procedure_name(d, facts.procedure_code) if facts else "",
        ", ".join(sorted(unit_name(d, u) for u in facts.units)) if facts else "",
        cases.get((Subject.DOSSIER.value, f.dossier_id)))


def _flag_page(request: Request, staff: Staff, key: str, period: Period) -> FlagPage:
    services = services_of(request)
    d = services.directory
    chosen = _chosen(request, period)
    flag, files, desk = flag_files(request, staff, key, period, chosen)
    try:
        page = max(1, int(request.query_params.get("page") or 1))
    except ValueError:
        page = 1
    pages = max(1, -(-len(files) // PER_PAGE))
    page = min(page, pages)
    cases = case_index(services.read_models.flag_cases.cases_for(staff.user_id, key))
    thresholds = thresholds_of(services)
    title, explanation = flag_texts(thresholds)[key]
    officers = [
        OfficerLine(o.officer_id, _person_name(d, o.officer_id), unit_name(d, o.unit_code), o,
                    cases.get((Subject.OFFICER.value, o.officer_id)),
                    may_work_on(staff, Subject.OFFICER, o.officer_id))
        for o in flag.officers
        if o.officer_id != staff.user_id and (not chosen.unit_code
                                              or o.unit_code == chosen.unit_code)]
    in_period, people = desk.procedures, desk.people
    return FlagPage(
        key=key, title=title, explanation=explanation,
        alarms=services.read_models.flag_cases.false_alarms().get(key), period=period,
        chosen=chosen,
        files=[_file_line(f, desk, d, cases, key)
               for f in files[(page - 1) * PER_PAGE:page * PER_PAGE]],
        total=len(files), page=page, pages=pages, officers=officers,
        procedures=sorted(((c, _procedure_name(d, c)) for c in in_period), key=lambda p: p[1]),
        staff=sorted(((o, _person_name(d, o)) for o in people if o in d.staff),
                     key=lambda p: p[1]),
        query=period_query(period, procedure=chosen.procedure_code,
                           officer=chosen.officer_id))


@staff_only
def flag_page(request: Request, staff: Staff) -> Response:
    """A flag's files, filtered and paginated; each opens its audit trail or a case."""
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    units = _units(services.directory)
    key = request.path_params["flag"]
    if key not in flag_texts(Thresholds()):
        return render(request, "error.html", {"error": NoSuchFlag()}, status_code=404)
    try:
        period = parse_period(request, services.today())
    except DomainError as error:
        return render(request, "red_flag.html", {"page": None, "units": units, "error": error,
                                                 "key": key}, status_code=400)
    return render(request, "red_flag.html", {
        "page": _flag_page(request, staff, key, period), "units": units, "error": None,
        "key": key, "outcomes": CASE_OUTCOMES})


@staff_only
def flag_csv(request: Request, staff: Staff) -> Response:
    """A flag's files (the filters of its page, every page) as CSV."""
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    d = services.directory
    key = request.path_params["flag"]
    if key not in flag_texts(Thresholds()):
        return render(request, "error.html", {"error": NoSuchFlag()}, status_code=404)
    try:
        period = parse_period(request, services.today())
    except DomainError as error:
        return render(request, "error.html", {"error": error}, status_code=400)
    chosen = _chosen(request, period)
    _flag, files, desk = flag_files(request, staff, key, period, chosen)
    cases = case_index(services.read_models.flag_cases.cases_for(staff.user_id, key))
    rows = []
    for f in files:
        line = _file_line(f, desk, d, cases, key)
        case = line.case
        rows.append([line.code, line.procedure, line.units, line.detail,
                     "" if case is None else pick(CASE_OUTCOMES[case.outcome.value])
                     if case.outcome else _("Đang xem xét"),
                     f"/dossiers/{line.dossier_id}/audit"])
    header = ["Mã hồ sơ / Code", "Thủ tục / Procedure", "Đơn vị / Units",
              "Cảnh báo / Flag", "Vụ việc / Case", "Nhật ký / Audit trail"]
    last = period.end - timedelta(days=1)
    return csv_response(header, rows, f"hoso-red-flag-{key}-{period.start}-{last}.csv")
