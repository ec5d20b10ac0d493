"""The postal channel, for the analytics page and the public statistics (issue 23): per
receiving unit, the share of dossiers that came through the post, the transit from the post's
collection to the counter's receipt and from dispatch by post to delivery (median, 90th
percentile, hours of clock time), failed first attempts and returns, with a total."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.review import PostalTotals
from web.i18n import gettext as _
from web.i18n import unit_name
from web.services import Services


@dataclass(frozen=True)
class PostalLine:
    unit_name: str
    totals: PostalTotals


@dataclass(frozen=True)
class PostalFigures:
    lines: list[PostalLine]
    total: PostalLine | None  # None while nothing went through the post


def postal_figures(services: Services, since: datetime, until: datetime | None = None,
                   unit: str | None = None) -> PostalFigures:
    rows = [t for t in services.read_models.review.postal_totals(since, until, unit)
            if t.received_by_post or t.posted]
    lines = [PostalLine(unit_name(services.directory, t.receiving_unit), t) for t in rows]
    total = PostalLine(_("Tổng cộng"), PostalTotals.summed(rows)) if rows else None
    return PostalFigures(lines, total)
