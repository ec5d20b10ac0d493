"""Who opened which dossier, as a table the red flags can join against the dossiers' history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.reading import READING_EVENT_CLASSES, ReadingLog
from projections.read_model import (
    PostgresReadModel,
    ReadModel,
    Row,
    SQLiteReadModel,
    row_change,
)


class ReadingView(ReadModel):
    tracking_name = "readings"
    tables = ("review_reading",)

    def record(self, *, row: dict[str, Any], tracking: Tracking) -> None:
        self._write(tracking, row_change("review_reading", "log_id", row, created=True))

    def readings_of(self, dossier_id: str, limit: int = 200) -> list[Row]:
        """Who opened one dossier, newest first."""
        rows = self._select(
            "SELECT viewer_id, viewer_unit, purpose, page, opened_at FROM {p}review_reading "
            "WHERE dossier_id = %(dossier_id)s ORDER BY opened_at DESC LIMIT %(limit)s",
            {"dossier_id": dossier_id, "limit": limit})
        return [r | {"opened_at": r["opened_at"] if isinstance(r["opened_at"], datetime)
                     else datetime.fromisoformat(r["opened_at"])} for r in rows]

    def readings_without_a_part(self, start: datetime, end: datetime) -> list[Row]:
        """Work readings of dossiers received in [start, end) by someone whose unit never held
        the dossier and who never acted on it."""
        statement = (
            "SELECT r.dossier_id, r.viewer_id, r.viewer_unit, r.page, r.opened_at, d.code "
            "FROM {p}review_reading r JOIN {p}review_dossier d ON d.dossier_id = r.dossier_id "
            "WHERE r.purpose = 'work' AND d.received_at >= %(start)s "
            "AND d.received_at < %(end)s AND NOT EXISTS (SELECT 1 FROM {p}review_step s "
            "WHERE s.dossier_id = r.dossier_id AND s.unit_code = r.viewer_unit) "
            "AND NOT EXISTS (SELECT 1 FROM {p}review_event e "
            "WHERE e.dossier_id = r.dossier_id AND e.actor_id = r.viewer_id) "
            "ORDER BY r.opened_at"
        )
        rows = self._select(statement, {"start": start, "end": end})
        return [r | {"dossier_id": str(r["dossier_id"]),
                     "opened_at": r["opened_at"] if isinstance(r["opened_at"], datetime)
                     else datetime.fromisoformat(r["opened_at"])} for r in rows]


class SQLiteReadingView(ReadingView, SQLiteReadModel):
    pass


class PostgresReadingView(ReadingView, PostgresReadModel):
    pass


class ReadingProjection(Projection[ReadingView]):
    name = "readings"
    topics = tuple(get_topic(c) for c in READING_EVENT_CLASSES)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if not isinstance(domain_event, ReadingLog.DossierOpened):
            raise TypeError(f"readings does not handle {type(domain_event).__qualname__}")
        e = domain_event
        self.view.record(row={
            "log_id": str(e.originator_id), "version": e.originator_version,
            "dossier_id": e.dossier_id, "viewer_id": e.viewer_id, "viewer_unit": e.viewer_unit,
            "purpose": e.purpose, "page": e.page, "opened_at": e.opened_at,
        }, tracking=tracking)
