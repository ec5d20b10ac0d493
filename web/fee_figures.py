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
