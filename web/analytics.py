"""Handling-time analytics for inspectors and administrators: tables, charts and CSV exports.

Each handler parses the query, calls one function, and renders. The figures come from
projections/analytics.py; this module only names things (procedures, units, officers) and
lays them out. Results are kept per filter for a minute (see ``max_age``), so the page, its
CSV links and a reload agree and cost one computation.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, TypeVar
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import AccessDenied, DomainError
from domain.organisation import Directory, Staff
from projections.analytics import (
    AGE_BUCKET_DAYS,
    HOUR_BINS,
    Analytics,
    HandlingRow,
    OfficeClock,
    OfficialRow,
    OnlineReception,
    Period,
    Rate,
    WeekPoint,
    analyse,
    online_reception,
)
from web import figures
from web.charts import SMALL, Bar, Series, bar_chart, line_chart
from web.clerk import refuse_access, services_of, staff_only
from web.fee_figures import FEES_CSV_HEADER, fee_figures, fees_csv_rows
from web.feedback import feedback_by_unit
from web.formatting import parse_day
from web.i18n import gettext as _
from web.i18n import in_locale, procedure_label, unit_name
from web.labels import Label
from web.postal_figures import postal_figures
from web.services import Services
from web.templating import render

NOT_A_REVIEWER = AccessDenied(
    "Trang phân tích dành cho thanh tra và quản trị viên.",
    "The analytics pages are for inspectors and administrators.",
)
DEFAULT_PERIOD = timedelta(days=90)
MAX_PERIOD = timedelta(days=3 * 366)
SMALL_SAMPLE = Label("mẫu quá nhỏ", "sample too small")


# ---- the query -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    period: Period
    unit: str | None

    @property
    def query_string(self) -> str:
        params = {"from": self.period.start.isoformat(), "to": self.period.last_day.isoformat()}
        return urlencode(params | ({"unit": self.unit} if self.unit else {}))


def _date(value: str | None, default: date, name: Label) -> date:
    if not value:
        return default
    try:
        return parse_day(value)
    except ValueError:
        raise DomainError(f"{name.vi} “{value[:20]}” không phải là ngày hợp lệ.",
                          f"{name.en} “{value[:20]}” is not a valid date.") from None


def parse_query(params: Any, today: date, directory: Directory) -> Query:
    """``from`` and ``to`` are local dates, both included; ``unit`` a unit code or empty."""
    start = _date(params.get("from"), today - DEFAULT_PERIOD, Label("Từ ngày", "From"))
    last = _date(params.get("to"), today, Label("Đến ngày", "To"))
    if last < start:
        raise DomainError("Ngày kết thúc phải sau ngày bắt đầu.",
                          "The end date must not be before the start date.")
    if last - start > MAX_PERIOD:
        raise DomainError("Mỗi lần xem tối đa ba năm.", "At most three years at a time.")
    unit = params.get("unit") or None
    if unit is not None and unit not in directory.units:
        raise DomainError(f"Không có đơn vị mã “{unit[:20]}”.", f"There is no unit “{unit[:20]}”.")
    return Query(Period(start, last + timedelta(days=1)), unit)


# ---- computing, once per change of the read model --------------------------------------------

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Entry:
    position: int | None
    minute: datetime
    computed: float  # time.monotonic()
    value: Any


class _Cache:
    """A few recent results per app, by what was asked."""

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: Hashable, position: int | None, minute: datetime,
            compute: Callable[[], _T], max_age: float) -> _T:
        """The result for ``key``, computed afresh when the read model moved (``position``)
        or the 5-minute ``minute`` changed — unless it is younger than ``max_age`` seconds
        (HOSO_ANALYTICS_MAX_AGE): a busy log moves every second, and recomputing a year of
        figures for each visit would not make them more useful."""
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and (
                    (entry.position, entry.minute) == (position, minute)
                    or time.monotonic() - entry.computed < max_age):
                self._items.move_to_end(key)
                return entry.value  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._items[key] = _Entry(position, minute, time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def cached(request: Request, what: Hashable, compute: Callable[[datetime], _T]) -> _T:
    services = services_of(request)
    state = request.app.state
    if not hasattr(state, "analytics_cache"):
        state.analytics_cache = _Cache()
    now = services.now()
    position = services.read_models.review.max_tracking_id(services.app.name)
    minute = now.replace(second=0, microsecond=0, minute=now.minute - now.minute % 5)
    cache: _Cache = state.analytics_cache
    return cache.get(what, position, minute, lambda: compute(now),
                     services.settings.analytics_max_age)


def compute_analytics(services: Services, query: Query, now: datetime) -> Analytics:
    period = query.period
    rows = services.read_models.review.analytics_rows(
        start=period.start_at, end=period.end_at, as_of=min(now, period.end_at),
        unit=query.unit)
    return analyse(rows, period=period, now=now, unit=query.unit,
                   min_sample=services.settings.min_sample,
                   clock=OfficeClock(services.app.calendar))


def analytics_for(request: Request, query: Query) -> Analytics:
    services = services_of(request)
    return cached(request, ("analytics", query, services.settings.min_sample),
                  lambda now: compute_analytics(services, query, now))


# ---- naming and laying out -----------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    name: str
    detail: str  # the CSV's code column, and the page's second line unless it is a unit code
    row: HandlingRow | OfficialRow
    href: str | None = None
    shown_detail: bool = True


@dataclass(frozen=True)
class Figure:
    caption: Label
    svg: Markup


@dataclass(frozen=True)
class AnalyticsPage:
    query: Query
    analytics: Analytics
    units: list[tuple[str, str]]
    procedures: list[Line]
    unit_lines: list[Line]
    steps: list[Line]
    officers: list[Line]
    official_by_procedure: list[Line]
    official_by_unit: list[Line]
    weekly: Markup
    backlog: Markup
    distributions: list[Figure]
    age_buckets: list[str]


def procedure_name(d: Directory, code: str | None) -> str:
    """The procedure's Vietnamese name, as the CSV downloads give it whatever the page's
    language (open data stays comparable from one download to the next)."""
    procedure = d.procedures.get(code or "")
    return procedure.name_vi if procedure else (code or "—")


def step_name(d: Directory, row: HandlingRow | Any) -> str:
    step = (_("ngoài quy trình") if row.route_position is None
            else _("bước %(n)s") % {"n": row.route_position + 1})
    return f"{procedure_label(d, row.procedure_code)} — {step}"


def officer_name(d: Directory, user_id: str | None) -> str:
    staff = d.staff.get(user_id or "")
    return staff.full_name if staff else (user_id or "—")


def _bin_labels(edges: tuple[float, ...]) -> list[str]:
    texts = [f"{e:g}" for e in edges]
    return [f"{lo}–{hi}" for lo, hi in pairwise(texts)] + [f"≥ {texts[-1]}"]


def age_bucket_labels() -> list[str]:
    return _bin_labels(AGE_BUCKET_DAYS)


def hour_bin_labels() -> list[str]:
    return _bin_labels(HOUR_BINS)


def _rate_tip(label: str, rate: Rate) -> str:
    return f"{label}: {figures.share(rate)} (n = {rate.n})"


def _weekly_chart(a: Analytics) -> Markup:
    labels = [f"{w.week_start:%d/%m}" for w in a.weeks]

    def week(w: WeekPoint, what: str) -> str:
        return _("Tuần %(week)s, %(what)s") % {"week": f"{w.week_start:%d/%m}", "what": what}

    series = [
        Series(_("Hồ sơ (hoso)"), [w.dossiers_hoso.share for w in a.weeks],
               [_rate_tip(week(w, "hoso"), w.dossiers_hoso) for w in a.weeks]),
        Series(_("Hồ sơ (QĐ 766)"), [w.dossiers_766.share for w in a.weeks],
               [_rate_tip(week(w, "QĐ 766"), w.dossiers_766) for w in a.weeks]),
        Series(_("Bước"), [w.steps.share for w in a.weeks],
               [_rate_tip(week(w, _("bước")), w.steps) for w in a.weeks]),
    ]
    return line_chart(labels, series, title=_("Tỷ lệ đúng hạn theo tuần"),
                      y_label=_("đúng hạn"), x_label=_("tuần bắt đầu"))


def _backlog_chart(a: Analytics) -> Markup:
    labels = age_bucket_labels()
    bars = [Bar(label, count, _("%(days)s ngày làm việc: %(n)s hồ sơ") % {
                "days": label, "n": count})
            for label, count in zip(labels, a.backlog.by_age, strict=True)]
    bars.append(Bar(_("chờ BS"), a.backlog.awaiting_supplement,
                    _("Chờ công dân bổ sung: %(n)s hồ sơ") % {
                        "n": a.backlog.awaiting_supplement}))
    return bar_chart(bars, title=_("Hồ sơ tồn theo tuổi"),
                     y_label=_("hồ sơ"), x_label=_("ngày làm việc"))


def _distributions(a: Analytics, d: Directory) -> list[Figure]:
    labels = hour_bin_labels()
    out = []
    for dist in a.distributions:
        name = f"{step_name(d, dist)} · {unit_name(d, dist.unit_code)}"
        bars = [Bar(label, count, _("%(hours)s giờ làm việc: %(n)s lượt") % {
                    "hours": label, "n": count})
                for label, count in zip(labels, dist.counts, strict=True)]
        # The caption names a step and a unit (data), the same in either language.
        out.append(Figure(Label(name, name), bar_chart(
            bars, title=f"n = {sum(dist.counts)}", y_label=_("lượt"),
            x_label=_("giờ làm việc"), colour="#1a7f37", size=SMALL)))
    return out


def analytics_page(a: Analytics, query: Query, d: Directory) -> AnalyticsPage:
    def officer_link(user_id: str | None) -> str | None:
        return f"/officers/{user_id}" if user_id else None

    def officer_unit(user_id: str | None) -> str:
        staff = d.staff.get(user_id or "")
        return unit_name(d, staff.unit_code) if staff else ""

    return AnalyticsPage(
        query=query, analytics=a,
        units=[(u.code, in_locale(u.name_vi, u.name_en)) for u in d.units.values()],
        procedures=[Line(procedure_label(d, r.procedure_code), r.procedure_code or "", r)
                    for r in a.procedures],
        # Units by name on the page: their codes are the system's (the CSV keeps them).
        unit_lines=[Line(unit_name(d, r.unit_code or ""), r.unit_code or "", r,
                         f"/units/{r.unit_code}", shown_detail=False) for r in a.units],
        steps=[Line(step_name(d, r), unit_name(d, r.unit_code or ""), r) for r in a.steps],
        officers=[Line(officer_name(d, r.officer_id), officer_unit(r.officer_id), r,
                       officer_link(r.officer_id)) for r in a.officers],
        official_by_procedure=[Line(procedure_label(d, r.procedure_code), r.procedure_code or "",
                                    r) for r in a.official_by_procedure],
        official_by_unit=[Line(unit_name(d, r.unit_code or ""), r.unit_code or "", r,
                               shown_detail=False)
                          for r in a.official_by_unit],
        weekly=_weekly_chart(a), backlog=_backlog_chart(a), distributions=_distributions(a, d),
        age_buckets=age_bucket_labels(),
    )


# ---- CSV -----------------------------------------------------------------------------------

def _csv_number(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _csv_share(rate: Rate) -> str:
    return _csv_number(rate.share, 4)


def _rank(row: HandlingRow | OfficialRow) -> str:
    return str(row.rank) if row.rank is not None else f"{SMALL_SAMPLE.vi} / {SMALL_SAMPLE.en}"


def _handling_header(keys: list[str], time_unit: str) -> list[str]:
    return [*keys, "Hạng / Rank", "Đã xong / Completed (n)",
            f"Trung vị / Median ({time_unit})", f"P90 ({time_unit})",
            "Đúng hạn / On time (share)", "Đúng hạn / On time (n)",
            *(f"Tồn {b} ngày LV / Open {b} working days" for b in age_bucket_labels()),
            "Chờ bổ sung / Awaiting supplement", "Quá hạn / Overdue"]


def _handling(line: Line) -> HandlingRow:
    assert isinstance(line.row, HandlingRow)
    return line.row


def _position(route_position: int | None) -> str:
    return "" if route_position is None else str(route_position + 1)


def _handling_cells(line: Line, keys: list[str], in_days: bool) -> list[str]:
    r = _handling(line)
    scale = 8.0 if in_days else 1.0

    def scaled(v: float | None) -> str:
        return _csv_number(None if v is None else v / scale)

    return [*keys, _rank(r), str(r.completed), scaled(r.time.median_hours),
            scaled(r.time.p90_hours), _csv_share(r.on_time), str(r.on_time.n),
            *(str(n) for n in r.backlog.by_age), str(r.backlog.awaiting_supplement),
            str(r.backlog.overdue)]


def _official_header(keys: list[str]) -> list[str]:
    return [*keys, "Hạng / Rank", "Đã giải quyết / Resolved (n)",
            "Đúng hạn QĐ 766 / On time 766 (share)", "Đúng hạn QĐ 766 / On time 766 (n)",
            "TG giải quyết TB QĐ 766 (ngày LV) / Average days 766",
            "Đúng hạn hoso / On time hoso (share)",
            "TG xử lý TB hoso (ngày LV) / Average days hoso"]


def _official_cells(line: Line, keys: list[str]) -> list[str]:
    r = line.row
    assert isinstance(r, OfficialRow)
    return [*keys, _rank(r), str(r.resolved), _csv_share(r.on_time_766),
            str(r.on_time_766.n), _csv_number(r.average_days_766),
            _csv_share(r.on_time_hoso), _csv_number(r.average_days_hoso)]


Table = tuple[list[str], list[list[str]]]
CSV_TABLES = ("procedures", "units", "steps", "officers", "official-procedures",
              "official-units", "weeks", "distributions")


def csv_table(name: str, page: AnalyticsPage) -> Table | None:
    """Every table on the page, by the name in its CSV link; None for an unknown name."""
    a = page.analytics
    hours, days = "giờ LV / office hours", "ngày LV / working days"
    if name == "procedures":
        keys = ["Mã thủ tục / Procedure code", "Thủ tục / Procedure"]
        return _handling_header(keys, days), [
            _handling_cells(line, [line.detail, line.name], True) for line in page.procedures]
    if name == "units":
        keys = ["Mã đơn vị / Unit code", "Đơn vị / Unit"]
        return _handling_header(keys, hours), [
            _handling_cells(line, [line.detail, line.name], False) for line in page.unit_lines]
    if name == "steps":
        keys = ["Mã thủ tục / Procedure code", "Bước / Step", "Mã đơn vị / Unit code",
                "Bước quy trình / Route position"]
        return _handling_header(keys, hours), [
            _handling_cells(line, [_handling(line).procedure_code or "", line.name,
                                   _handling(line).unit_code or "",
                                   _position(_handling(line).route_position)], False)
            for line in page.steps]
    if name == "officers":
        keys = ["Mã cán bộ / Officer id", "Cán bộ / Officer", "Đơn vị / Unit"]
        return _handling_header(keys, hours), [
            _handling_cells(line, [_handling(line).officer_id or "", line.name, line.detail],
                            False) for line in page.officers]
    if name == "official-procedures":
        keys = ["Mã thủ tục / Procedure code", "Thủ tục / Procedure"]
        return _official_header(keys), [_official_cells(line, [line.detail, line.name])
                                        for line in page.official_by_procedure]
    if name == "official-units":
        keys = ["Mã đơn vị tiếp nhận / Receiving unit code", "Đơn vị / Unit"]
        return _official_header(keys), [_official_cells(line, [line.detail, line.name])
                                        for line in page.official_by_unit]
    if name == "weeks":
        header = ["Tuần bắt đầu / Week of"]
        for what in ("hoso", "QĐ 766", "Bước / steps"):
            header += [f"Đúng hạn {what} (share)", f"Đúng hạn {what} (n)"]
        return header, [[w.week_start.isoformat(), _csv_share(w.dossiers_hoso),
                         str(w.dossiers_hoso.n), _csv_share(w.dossiers_766),
                         str(w.dossiers_766.n), _csv_share(w.steps), str(w.steps.n)]
                        for w in a.weeks]
    if name == "distributions":
        header = ["Mã thủ tục / Procedure code", "Bước quy trình / Route position",
                  "Mã đơn vị / Unit code",
                  *(f"{b} giờ LV / office hours" for b in hour_bin_labels())]
        return header, [[dist.procedure_code, _position(dist.route_position), dist.unit_code,
                         *(str(c) for c in dist.counts)] for dist in a.distributions]
    return None


def csv_response(header: list[str], rows: Iterable[list[str]], filename: str,
                 headers: dict[str, str] | None = None) -> Response:
    """UTF-8 with a byte-order mark, so Excel shows Vietnamese correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        "\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})})


@dataclass(frozen=True)
class OnlineLine:
    unit_name: str
    figures: OnlineReception


# ---- handlers ------------------------------------------------------------------------------

@staff_only
def analytics(request: Request, staff: Staff) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    d = services.directory
    try:
        query = parse_query(request.query_params, services.today(), d)
    except DomainError as error:
        return render(request, "analytics.html", {
            "page": None, "error": error,
            "units": [(u.code, in_locale(u.name_vi, u.name_en)) for u in d.units.values()],
        }, status_code=400)
    page = analytics_page(analytics_for(request, query), query, d)
    feedback_lines = feedback_by_unit(services, query.period.start_at, query.period.end_at)
    fees = fee_figures(services, query.period.start_at, query.period.end_at, query.unit)
    online_lines = [OnlineLine(unit_name(d, f.unit_code), f) for f in online_reception(
        services.read_models.review.online_submissions(query.period.start_at,
                                                       query.period.end_at),
        OfficeClock(services.app.calendar), services.now(), query.unit)]
    return render(request, "analytics.html", {"page": page, "error": None, "units": page.units,
                                              "feedback_lines": feedback_lines,
                                              "online_lines": online_lines,
                                              "fee_figures": fees,
                                              "fee_csv_url": "/analytics/fees.csv?"
                                              + query.query_string,
                                              "postal_figures": postal_figures(
                                                  services, query.period.start_at,
                                                  query.period.end_at, query.unit)})


@staff_only
def analytics_csv(request: Request, staff: Staff) -> Response:
    if not staff.may_review:
        return refuse_access(request, staff, NOT_A_REVIEWER)
    services = services_of(request)
    d = services.directory
    name = request.path_params["table"]
    if name == "fees":
        query = parse_query(request.query_params, services.today(), d)
        return csv_response(FEES_CSV_HEADER, fees_csv_rows(
            services, query.period.start_at, query.period.end_at, query.unit),
            f"hoso-fees-{query.period.start}-{query.period.last_day}.csv")
    if name not in CSV_TABLES:
        return render(request, "error.html", {"error": Label(
            "Không có bảng này.", "There is no such table.")}, status_code=404)
    query = parse_query(request.query_params, services.today(), d)
    table = csv_table(name, analytics_page(analytics_for(request, query), query, d))
    assert table is not None
    header, rows = table
    filename = f"hoso-{name}-{query.period.start}-{query.period.last_day}.csv"
    return csv_response(header, rows, filename)
