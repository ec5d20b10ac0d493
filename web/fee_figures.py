"""Fees collected, for the analytics page and the public statistics: per receiving unit and
procedure, what was paid, what was refunded and the share paid online, with a total. Whole
đồng from the review model (projections/review.py); the pages write them per locale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.review import FeeTotals
from web.i18n import gettext as _
from web.i18n import procedure_label, unit_name
from web.services import Services


@dataclass(frozen=True)
class FeeLine:
    unit_name: str
    procedure_name: str
    totals: FeeTotals


@dataclass(frozen=True)
class FeeFigures:
    lines: list[FeeLine]
    total: FeeLine | None  # None while nothing was paid or refunded


def fee_figures(services: Services, since: datetime, until: datetime | None = None,
                unit: str | None = None) -> FeeFigures:
    d = services.directory
    rows = services.read_models.review.fee_totals(since, until, unit)
    lines = [FeeLine(unit_name(d, t.receiving_unit), procedure_label(d, t.procedure_code), t)
             for t in rows]
    total = FeeLine(_("Tổng cộng"), "", FeeTotals.summed(rows)) if rows else None
    return FeeFigures(lines, total)


FEES_CSV_HEADER = [
    "Mã đơn vị tiếp nhận / Receiving unit code", "Đơn vị / Unit",
    "Mã thủ tục / Procedure code", "Thủ tục / Procedure", "Đã thu (đồng) / Collected (VND)",
    "Nộp trực tuyến (đồng) / Paid online (VND)", "Đã hoàn trả (đồng) / Refunded (VND)",
    "Tỷ lệ nộp trực tuyến / Share paid online",
]


def fees_csv_rows(services: Services, since: datetime, until: datetime | None = None,
                  unit: str | None = None) -> list[list[str]]:
    """The same figures in machine-readable cells: codes and Vietnamese names (as the other
    CSV downloads), whole đồng without grouping, the share to four decimals."""
    d = services.directory

    def procedure(code: str) -> str:
        found = d.procedures.get(code)
        return found.name_vi if found else code

    return [[t.receiving_unit, d.unit_name(t.receiving_unit), t.procedure_code,
             procedure(t.procedure_code), str(t.paid_vnd), str(t.online_vnd),
             str(t.refunded_vnd), "" if t.online_share is None else f"{t.online_share:.4f}"]
            for t in services.read_models.review.fee_totals(since, until, unit)]
