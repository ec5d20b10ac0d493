"""Public statistics, no sign-in: what the city promises to publish, by month.

Per receiving unit and procedure: dossiers received and resolved, the share resolved on time
and the average handling time as Decision 766/QĐ-TTg counts them, and the citizens' average
satisfaction. Counts and rates only — no dossier codes, no applicants, no officers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from domain.organisation import Directory
from domain.working_days import HCMC
from projections.analytics import MonthlyFigures, PublicStatistics, public_statistics
from web import figures
from web.analytics import cached, csv_response, procedure_name
from web.charts import Series, line_chart
from web.clerk import services_of
from web.fee_figures import fee_figures, fees_csv_rows
from web.feedback import FeedbackLine, feedback_totals
from web.i18n import gettext as _
from web.i18n import procedure_label, unit_name
from web.postal_figures import postal_figures
from web.services import Services
from web.templating import render

SHOWN_MONTHS = 12
PUBLIC_HEADERS = {"Cache-Control": "public, max-age=300"}


@dataclass(frozen=True)
class MonthLine:
    figures: MonthlyFigures
    unit_name: str
    procedure_name: str


@dataclass(frozen=True)
class StatsPage:
    since: date
    lines: list[MonthLine]
    totals: list[MonthlyFigures]
    chart: Markup
    min_sample: int


def _months_back(today: date, count: int) -> date:
    month = today.year * 12 + today.month - 1 - (count - 1)
    return date(month // 12, month % 12 + 1, 1)


def compute_statistics(services: Services, now: datetime) -> PublicStatistics:
    return public_statistics(services.read_models.review.public_rows(),
                             calendar=services.app.calendar,
                             min_sample=services.settings.min_sample)


def statistics_for(request: Request) -> PublicStatistics:
    services = services_of(request)
    return cached(request, ("public", services.settings.min_sample),
                  lambda now: compute_statistics(services, now))


def _chart(totals: list[MonthlyFigures]) -> Markup:
    labels = [f"{t.month:%m/%Y}" for t in totals]
    return line_chart(labels, [Series(
        _("Đúng hạn (QĐ 766)"), [t.on_time_766.share for t in totals],
        [f"{t.month:%m/%Y}: {figures.share(t.on_time_766)} (n = {t.on_time_766.n})"
         for t in totals])],
        title=_("Tỷ lệ giải quyết đúng hạn toàn thành phố"),
        y_label=_("đúng hạn"), x_label=_("tháng"))


def stats_page(stats: PublicStatistics, d: Directory, today: date) -> StatsPage:
    since = _months_back(today, SHOWN_MONTHS)
    totals = [t for t in stats.totals if t.month >= since]
    return StatsPage(
        since=since,
        lines=[MonthLine(f, unit_name(d, f.unit_code or ""), procedure_label(d, f.procedure_code))
               for f in stats.rows if f.month >= since],
        totals=list(reversed(totals)), chart=_chart(totals), min_sample=stats.min_sample)


def stats(request: Request) -> Response:
    services = services_of(request)
    page = stats_page(statistics_for(request), services.directory, services.today())
    since = datetime.combine(page.since, time(0), tzinfo=HCMC)
    lines = [FeedbackLine(_("Toàn thành phố"), feedback_totals(services, since))]
    return render(request, "stats.html", {"page": page, "feedback_lines": lines,
                                          "fee_figures": fee_figures(services, since),
                                          "fee_csv_url": "/open-data/fees.csv",
                                          "postal_figures": postal_figures(services, since)},
                  headers=PUBLIC_HEADERS)


OPEN_DATA_HEADER = [
    "month", "receiving_unit_code", "receiving_unit_name", "procedure_code", "procedure_name",
    "received", "resolved", "resolved_on_time_766", "on_time_share_766",
    "average_handling_working_days_766", "ratings", "average_satisfaction", "small_sample",
]


def open_data_rows(stats: PublicStatistics, d: Directory) -> list[list[str]]:
    def number(value: float | None, digits: int) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    return [[
        f"{f.month:%Y-%m}", f.unit_code or "", d.unit_name(f.unit_code or ""),
        f.procedure_code or "", procedure_name(d, f.procedure_code), str(f.received),
        str(f.resolved), str(f.on_time_766.hits), number(f.on_time_766.share, 4),
        number(f.average_days_766, 2), str(f.satisfaction.n),
        number(f.satisfaction.average, 2), "true" if f.small_sample else "false",
    ] for f in sorted(stats.rows, key=lambda f: (f.month, f.unit_code or "",
                                                  f.procedure_code or ""))]


def open_data_summary(request: Request) -> Response:
    """Every month so far, oldest first, in stable machine-readable columns."""
    services = services_of(request)
    rows = open_data_rows(statistics_for(request), services.directory)
    return csv_response(OPEN_DATA_HEADER, rows, "hoso-summary.csv", PUBLIC_HEADERS)


OPEN_DATA_FEES_HEADER = [
    "since", "receiving_unit_code", "receiving_unit_name", "procedure_code", "procedure_name",
    "collected_vnd", "paid_online_vnd", "refunded_vnd", "online_share",
]


def open_data_fees(request: Request) -> Response:
    """The fees collected that /stats shows (the last 12 months, from the first day of the
    first), in stable machine-readable columns: whole đồng, no payer, no dossier."""
    services = services_of(request)
    since = _months_back(services.today(), SHOWN_MONTHS)
    rows = fees_csv_rows(services, datetime.combine(since, time(0), tzinfo=HCMC))
    return csv_response(OPEN_DATA_FEES_HEADER, [[since.isoformat(), *row] for row in rows],
                        "hoso-fees.csv", PUBLIC_HEADERS)
