"""The clerks' list of dossiers: where each one is, at what stage, and when it is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.dossier import Dossier, Stage, is_late
from projections.changes import common_changes
from projections.dossier_projection import DossierProjection
from projections.read_model import (
    PostgresReadModel,
    ReadModel,
    SQLiteReadModel,
    as_date,
    as_datetime,
    row_change,
)

LIST_LIMIT = 200


@dataclass(frozen=True)
class DossierListRow:
    dossier_id: UUID
    code: str
    procedure_code: str
    holder_unit: str
    stage: Stage
    due_date: date
    received_at: datetime
    result_ready_at: datetime | None
    extensions: int
    paused_at: datetime | None

    def is_late(self, today: date) -> bool:
        return is_late(stage=self.stage, due_date=self.due_date,
                       result_ready_at=self.result_ready_at, paused_at=self.paused_at,
                       today=today)


class DossierListView(ReadModel):
    tracking_name = "dossier_list"
    tables = ("dossier_list",)

    def record(self, *, row: dict[str, Any], tracking: Tracking, created: bool = False) -> None:
        self._write(tracking, row_change("dossier_list", "dossier_id", row, created=created))

    def dossiers(
        self, *, holder_unit: str | None = None, stage: str | None = None,
        code: str | None = None, limit: int = LIST_LIMIT,
    ) -> list[DossierListRow]:
        if any("\x00" in (value or "") for value in (holder_unit, stage, code)):
            return []  # PostgreSQL refuses NUL in text; nothing can match it anyway
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if holder_unit:
            clauses.append("holder_unit = %(holder_unit)s")
            params["holder_unit"] = holder_unit
        if stage:
            clauses.append("stage = %(stage)s")
            params["stage"] = stage
        if code:
            clauses.append("code = %(code)s")
            params["code"] = code
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._select(
            "SELECT dossier_id, code, procedure_code, holder_unit, stage, due_date, received_at, "
            f"result_ready_at, extensions, paused_at FROM {{p}}dossier_list {where} "
            "ORDER BY due_date, received_at LIMIT %(limit)s",
            params,
        )
        return [self._row(r) for r in rows]

    def received_between(self, start: datetime, end: datetime,
                         limit: int = 1000) -> list[DossierListRow]:
        """Dossiers received in [start, end), in the order received (the tracking book)."""
        rows = self._select(
            "SELECT dossier_id, code, procedure_code, holder_unit, stage, due_date, received_at, "
            "result_ready_at, extensions, paused_at FROM {p}dossier_list "
            "WHERE received_at >= %(start)s AND received_at < %(end)s "
            "ORDER BY received_at, code LIMIT %(limit)s",
            {"start": start, "end": end, "limit": limit})
        return [self._row(r) for r in rows]

    @staticmethod
    def _row(r: dict[str, Any]) -> DossierListRow:
        return DossierListRow(
            dossier_id=UUID(str(r["dossier_id"])),
            code=r["code"],
            procedure_code=r["procedure_code"],
            holder_unit=r["holder_unit"],
            stage=Stage(r["stage"]),
            due_date=as_date(r["due_date"]),  # type: ignore[arg-type]
            received_at=as_datetime(r["received_at"]),  # type: ignore[arg-type]
            result_ready_at=as_datetime(r["result_ready_at"]),
            extensions=int(r["extensions"]),
            paused_at=as_datetime(r["paused_at"]),
        )


class SQLiteDossierListView(DossierListView, SQLiteReadModel):
    pass


class PostgresDossierListView(DossierListView, PostgresReadModel):
    pass


class DossierListProjection(DossierProjection[DossierListView]):
    name = "dossier_list"

    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        row = {"dossier_id": str(e.originator_id), "version": e.originator_version,
               "updated_at": e.occurred_at} | common_changes(e)
        if isinstance(e, Dossier.Received):
            row["code"] = e.code
        self.view.record(row=row, tracking=tracking, created=isinstance(e, Dossier.Received))
