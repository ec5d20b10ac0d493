"""The inspectors' read model: every dossier event, every stay at a desk, every dossier.

Analytics and red flags are computed from these rows, which are themselves derived only
from the event log (rebuild from zero gives the same rows). Each event becomes plain
INSERT/UPDATE statements keyed by the dossier, so the projection never reads while writing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import singledispatch
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import Tracking

from domain.dossier import Channel, DispatchMethod, Dossier
from domain.working_days import HCMC, OFFICE_HOURS, WorkingCalendar
from projections.analytics import ReviewRows, median, nearest_rank
from projections.dossier_projection import DossierProjection
from projections.phone_digest import DigestsPhones
from projections.read_model import (
    PostgresReadModel,
    ReadModel,
    Row,
    SqlExpression,
    SQLiteReadModel,
    row_change,
)

Statement = tuple[str, dict[str, Any]]

# An action this close to the edge of office hours still counts as within them.
OFFICE_HOURS_GRACE = timedelta(minutes=30)
_CALENDAR = WorkingCalendar()


def is_off_hours(moment: datetime, calendar: WorkingCalendar = _CALENDAR) -> bool:
    local = moment.astimezone(HCMC)
    if not calendar.is_working_day(local.date()):
        return True
    for opens, closes in OFFICE_HOURS:
        start = datetime.combine(local.date(), opens, tzinfo=HCMC) - OFFICE_HOURS_GRACE
        end = datetime.combine(local.date(), closes, tzinfo=HCMC) + OFFICE_HOURS_GRACE
        if start <= local <= end:
            return False
    return True


@dataclass(frozen=True)
class FeeTotals:
    receiving_unit: str
    procedure_code: str
    paid_vnd: int
    online_vnd: int
    refunded_vnd: int

    @property
    def online_share(self) -> float | None:
        """The share of the amount paid that was paid online (None when nothing was)."""
        return self.online_vnd / self.paid_vnd if self.paid_vnd else None

    @classmethod
    def summed(cls, lines: list[FeeTotals]) -> FeeTotals:
        """Every line's amounts added (the unit and procedure left empty)."""
        return cls("", "", sum(t.paid_vnd for t in lines), sum(t.online_vnd for t in lines),
                   sum(t.refunded_vnd for t in lines))


@dataclass(frozen=True)
class PostalTotals:
    """The postal channel's figures for one receiving unit (or all, ``receiving_unit`` "")."""

    receiving_unit: str
    received: int
    received_by_post: int
    transit_in_hours: tuple[float, ...]  # collection → the counter's receipt, sorted
    posted: int
    delivery_hours: tuple[float, ...]  # sent by post → delivered, sorted
    failed_first: int
    returned: int

    @property
    def postal_share(self) -> float | None:
        return self.received_by_post / self.received if self.received else None

    @property
    def failed_first_share(self) -> float | None:
        return self.failed_first / self.posted if self.posted else None

    @property
    def returned_share(self) -> float | None:
        return self.returned / self.posted if self.posted else None

    @staticmethod
    def _spread(hours: tuple[float, ...]) -> tuple[float | None, float | None]:
        return median(hours), nearest_rank(hours, 0.9)

    @property
    def transit_in(self) -> tuple[float | None, float | None]:
        """Median and 90th percentile, hours."""
        return self._spread(self.transit_in_hours)

    @property
    def delivery(self) -> tuple[float | None, float | None]:
        return self._spread(self.delivery_hours)

    @classmethod
    def summed(cls, lines: list[PostalTotals]) -> PostalTotals:
        return cls("", sum(t.received for t in lines), sum(t.received_by_post for t in lines),
                   tuple(sorted(h for t in lines for h in t.transit_in_hours)),
                   sum(t.posted for t in lines),
                   tuple(sorted(h for t in lines for h in t.delivery_hours)),
                   sum(t.failed_first for t in lines), sum(t.returned for t in lines))


class _PostalTally:
    def __init__(self) -> None:
        self.received = self.by_post = self.posted = self.failed_first = self.returned = 0
        self.transit_in: list[float] = []
        self.delivery: list[float] = []

    def add(self, r: Row, since: datetime, until: datetime | None) -> None:
        def within(moment: datetime | None) -> bool:
            return moment is not None and moment >= since and (until is None or moment < until)

        if within(r["received_at"]):
            self.received += 1
            # Collected at an address, or handed in at the post office for the counter.
            if r["collected_at"] is not None or r["channel"] == Channel.POST_OFFICE.value:
                self.by_post += 1
            if r["collected_at"] is not None:
                self.transit_in.append(_hours(r["received_at"] - r["collected_at"]))
        if within(r["posted_at"]):
            self.posted += 1
            self.failed_first += int(r["failed_attempts"] or 0) > 0
            self.returned += r["returned_at"] is not None
            if r["delivered_at"] is not None:
                self.delivery.append(_hours(r["delivered_at"] - r["posted_at"]))

    def totals(self, unit_code: str) -> PostalTotals:
        return PostalTotals(unit_code, self.received, self.by_post,
                            tuple(sorted(self.transit_in)), self.posted,
                            tuple(sorted(self.delivery)), self.failed_first, self.returned)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


class ReviewView(ReadModel, DigestsPhones):
    tracking_name = "review"
    tables = ("review_event", "review_step", "review_pause", "review_dossier", "review_payment")

    def record(self, *, statements: list[Statement], tracking: Tracking) -> None:
        self._write(tracking, *statements)

    def rows(self, table: str, where: str = "", params: dict[str, Any] | None = None,
             order: str = "") -> list[Row]:
        """Rows of one review table; ``where`` and ``order`` are written by hoso, never users."""
        assert table in self.tables
        statement = f"SELECT * FROM {{p}}{table}"
        if where:
            statement += f" WHERE {where}"
        if order:
            statement += f" ORDER BY {order}"
        rows = self._select(statement, params or {})
        if isinstance(self, PostgresReadModel):
            # PostgreSQL already gives times and dates; only the uuid needs to become text.
            for r in rows:
                if "dossier_id" in r:
                    r["dossier_id"] = str(r["dossier_id"])
            return rows
        return [_normalised(r) for r in rows]

    def online_submissions(self, start: datetime, end: datetime | None = None) -> list[Row]:
        """Dossiers the citizen submitted online in [start, end), with the counter's answer."""
        where = "channel = 'online' AND received_at >= %(start)s"
        if end is not None:
            where += " AND received_at < %(end)s"
        return self.rows("review_dossier", where, {"start": start, "end": end})

    def actions(self, *, officer: str | None = None, unit: str | None = None,
                start: datetime, end: datetime, limit: int = 1000) -> list[Row]:
        """What an officer (or everyone in a unit) did in [start, end), newest first."""
        column, value = ("actor_id", officer) if officer else ("actor_unit", unit)
        statement = (
            "SELECT e.*, d.code, d.procedure_code FROM {p}review_event e "
            "JOIN {p}review_dossier d ON d.dossier_id = e.dossier_id "
            f"WHERE e.{column} = %(value)s AND e.occurred_at >= %(start)s "
            "AND e.occurred_at < %(end)s ORDER BY e.occurred_at DESC LIMIT %(limit)s"
        )
        return [_normalised(r) for r in self._select(
            statement, {"value": value, "start": start, "end": end, "limit": limit})]

    def out_of_order_events(self, where: str, params: dict[str, Any]) -> list[Row]:
        """Events whose business time is earlier than the dossier's previous event's."""
        statement = (
            "SELECT * FROM (SELECT e.*, LAG(e.occurred_at) OVER ("
            "PARTITION BY e.dossier_id ORDER BY e.version) AS previous_occurred_at "
            # The citizen's rating runs on its own clock: staff steps may precede it.
            f"FROM {{p}}review_event e WHERE {where} AND e.kind <> 'Rated') w "
            "WHERE w.occurred_at < w.previous_occurred_at ORDER BY w.dossier_id, w.version"
        )
        return [_normalised(r) for r in self._select(statement, params)]

    # ---- analytics: selections only; projections/analytics.py does the arithmetic --------

    def analytics_rows(self, *, start: datetime, end: datetime, as_of: datetime,
                       unit: str | None = None) -> ReviewRows:
        """Stays ended in [start, end) or open at ``as_of``; dossiers resolved in [start, end)
        or open at ``as_of`` (of the unit: received there or passed through it); supplement
        waits begun by ``as_of``. Stays and dossiers are fetched as they are read."""
        params = {"start": start, "end": end, "as_of": as_of, "unit": unit}
        steps = self._stream(
            f"SELECT {_STEP_COLUMNS} FROM {{p}}review_step WHERE ((left_at >= %(start)s AND "
            "(left_at < %(end)s OR arrived_at <= %(as_of)s)) OR (left_at IS NULL AND "
            "arrived_at <= %(as_of)s))" + (" AND unit_code = %(unit)s" if unit else ""),
            params, _STEP_TIMES)
        dossiers = self._stream(
            f"SELECT {_DOSSIER_COLUMNS} FROM {{p}}review_dossier WHERE ((result_ready_at >= "
            "%(start)s AND result_ready_at < %(end)s) OR (received_at <= %(as_of)s AND "
            "(result_ready_at IS NULL OR result_ready_at > %(as_of)s) AND (withdrawn_at IS NULL "
            "OR withdrawn_at > %(as_of)s)))" + (
                " AND (receiving_unit = %(unit)s OR dossier_id IN (SELECT dossier_id FROM "
                "{p}review_step WHERE unit_code = %(unit)s))" if unit else ""),
            params, _DOSSIER_TIMES)
        pauses = [_normalised(r) for r in self._select(
            "SELECT CAST(dossier_id AS TEXT) AS dossier_id, requested_at, provided_at "
            "FROM {p}review_pause "
            "WHERE requested_at <= %(as_of)s", params)]
        return ReviewRows(steps=steps, pauses=pauses, dossiers=dossiers)

    def public_rows(self) -> Iterator[Row]:
        """Every dossier, without anything that could name a person: for public statistics."""
        return self._stream(
            "SELECT procedure_code, receiving_unit, received_at, first_due_date, due_date, "
            "paused_working_days, supplement_requests, result_ready_at, withdrawn_at, "
            "satisfaction, rated_at FROM {p}review_dossier", {}, _DOSSIER_TIMES + ("rated_at",))

    def fee_totals(self, since: datetime, until: datetime | None = None,
                   unit: str | None = None) -> list[FeeTotals]:
        """Fees collected in [since, until) per receiving unit and procedure, whole đồng:
        paid, paid online, refunded; of one receiving unit when ``unit`` is given. Amounts
        only: no dossier, no payer."""
        rows = self._select(
            "SELECT receiving_unit, procedure_code, "
            "SUM(CASE WHEN kind = 'payment' THEN amount_vnd ELSE 0 END) AS paid, "
            "SUM(CASE WHEN kind = 'payment' AND method = 'online' THEN amount_vnd ELSE 0 END) "
            "AS online, SUM(CASE WHEN kind = 'refund' THEN -amount_vnd ELSE 0 END) AS refunded "
            "FROM {p}review_payment WHERE occurred_at >= %(since)s"
            + (" AND occurred_at < %(until)s" if until is not None else "")
            + (" AND receiving_unit = %(unit)s" if unit else "")
            + " GROUP BY receiving_unit, procedure_code ORDER BY receiving_unit, procedure_code",
            {"since": since, "until": until, "unit": unit})
        return [FeeTotals(r["receiving_unit"], r["procedure_code"], int(r["paid"]),
                          int(r["online"]), int(r["refunded"])) for r in rows]

    def postal_totals(self, since: datetime, until: datetime | None = None,
                      unit: str | None = None) -> list[PostalTotals]:
        """The postal channel in [since, until) per receiving unit (issue 23): dossiers
        received, and of them through the post, with the transit from the post's collection to
        the counter's receipt; results sent by post, the time to their delivery, how many
        failed at the first attempt and how many came back to the counter. Counts and hours
        only: no dossier, no applicant."""
        in_range = ("{t} >= %(since)s" + (" AND {t} < %(until)s" if until is not None else ""))
        rows = self._select(
            "SELECT receiving_unit, channel, collected_at, received_at, posted_at, "
            "delivered_at, failed_attempts, returned_at FROM {p}review_dossier WHERE (("
            + in_range.format(t="received_at") + ") OR (" + in_range.format(t="posted_at")
            + "))" + (" AND receiving_unit = %(unit)s" if unit else "")
            + " ORDER BY receiving_unit",
            {"since": since, "until": until, "unit": unit})
        times = ("collected_at", "received_at", "posted_at", "delivered_at", "returned_at")
        by_unit: dict[str, _PostalTally] = {}
        for raw in rows:
            r = _normalised_times(raw, times)
            tally = by_unit.setdefault(r["receiving_unit"], _PostalTally())
            tally.add(r, since, until)
        return [tally.totals(unit_code) for unit_code, tally in by_unit.items()]

    def _stream(self, statement: str, params: dict[str, Any],
                times: tuple[str, ...]) -> Iterator[Row]:
        """Rows fetched a chunk at a time while they are read: a year of stays is too many to
        hold at once. Nothing runs until the first row is asked for."""
        with self._transaction(commit=False) as cursor, self._chunked(cursor) as chunked:
            self._execute(chunked, statement, params)
            while chunk := chunked.fetchmany(_CHUNK):
                for row in chunk:
                    yield _normalised_times(row, times)

    def _chunked(self, cursor: Any) -> AbstractContextManager[Any]:
        """A cursor that can ``fetchmany``, for the store at hand."""
        raise NotImplementedError


_CHUNK = 5000
# Ids as text from the database: cheaper than a UUID object per row, then a string.
_STEP_COLUMNS = ("CAST(dossier_id AS TEXT) AS dossier_id, opened_version, procedure_code, "
                 "unit_code, route_position, arrived_at, accepted_at, accepted_by, "
                 "step_due_at, left_at, left_by, officer_id")
_STEP_TIMES = ("arrived_at", "accepted_at", "step_due_at", "left_at")
_DOSSIER_COLUMNS = ("CAST(dossier_id AS TEXT) AS dossier_id, procedure_code, receiving_unit, "
                    "received_at, first_due_date, due_date, paused_working_days, "
                    "supplement_requests, result_ready_at, withdrawn_at")
_DOSSIER_TIMES = ("received_at", "result_ready_at", "withdrawn_at", "first_due_date",
                  "due_date")


def _normalised_times(row: Any, times: tuple[str, ...]) -> Row:
    """``_normalised`` for many rows: only the named columns (ids come as text), in place."""
    out: Row = row if isinstance(row, dict) else dict(row)
    for key in times:
        value = out[key]
        if isinstance(value, str):
            out[key] = (date.fromisoformat(value) if key.endswith("_date")
                        else datetime.fromisoformat(value))
    return out


def _normalised(row: Row) -> Row:
    """Times as aware datetimes and ids as text, whichever store the row came from."""
    out: Row = {}
    for key, value in row.items():
        if isinstance(value, str) and key.endswith("_at"):
            value = datetime.fromisoformat(value)
        elif key.endswith("_date") and isinstance(value, str):
            value = datetime.fromisoformat(value).date()
        elif key == "dossier_id":
            value = str(value)
        out[key] = value
    return out


class SQLiteReviewView(ReviewView, SQLiteReadModel):
    def _chunked(self, cursor: Any) -> AbstractContextManager[Any]:
        return nullcontext(cursor.sqlite_cursor)  # the library's wrapper has no fetchmany


class PostgresReviewView(ReviewView, PostgresReadModel):
    def _chunked(self, cursor: Any) -> AbstractContextManager[Any]:
        # A server-side cursor: the rows stay on the server until fetched, and each fetch
        # keeps the session from looking idle in its transaction (ended after 5 s).
        named: AbstractContextManager[Any] = cursor.connection.cursor(
            name=f"hoso_review_{uuid4().hex}")
        return named


class ReviewProjection(DossierProjection[ReviewView]):
    name = "review"

    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        dossier_id = str(e.originator_id)
        event_row = {
            "dossier_id": dossier_id, "version": e.originator_version, "kind": type(e).__name__,
            "actor_id": e.actor_id, "actor_unit": e.actor_unit, "occurred_at": e.occurred_at,
            "recorded_at": e.timestamp,
            "recording_delay_s": int((e.timestamp - e.occurred_at).total_seconds()),
            "off_hours": int(is_off_hours(e.occurred_at)),
        }
        statements = [row_change("review_event", "dossier_id", event_row, created=True)]
        if isinstance(e, Dossier.Received):
            statements += _received(e, phone_hash=self.view.digest_phone(e.applicant["phone"]))
        statements += _review_statements(e)
        self.view.record(statements=statements, tracking=tracking)


def _close_step(e: Dossier.Event) -> Statement:
    """The stay at the current desk ends: the dossier left, or the desk produced the result."""
    return (
        "UPDATE {p}review_step SET left_at = %(left_at)s, left_by = %(left_by)s, "
        "officer_id = %(officer_id)s WHERE dossier_id = %(dossier_id)s AND left_at IS NULL",
        {"left_at": e.occurred_at, "left_by": type(e).__name__, "officer_id": e.actor_id,
         "dossier_id": str(e.originator_id)},
    )


def _open_step(e: Dossier.Event, *, procedure_code: str | SqlExpression, unit_code: str,
               accepted_at: datetime | None, accepted_by: str | None,
               step_due_at: datetime | None,
               from_unit: str | None = None, route_position: int | None = None,
               off_route: bool = False) -> Statement:
    params = {"dossier_id": str(e.originator_id), "opened_version": e.originator_version,
              "unit_code": unit_code, "from_unit": from_unit, "route_position": route_position,
              "off_route": int(off_route), "arrived_at": e.occurred_at,
              "accepted_at": accepted_at, "accepted_by": accepted_by,
              "step_due_at": step_due_at}
    columns = ", ".join(["procedure_code", *params])
    values = ", ".join([
        procedure_code.sql if isinstance(procedure_code, SqlExpression) else "%(procedure_code)s",
        *(f"%({c})s" for c in params),
    ])
    if not isinstance(procedure_code, SqlExpression):
        params["procedure_code"] = procedure_code
    return f"INSERT INTO {{p}}review_step ({columns}) VALUES ({values})", params


def _dossier_update(e: Dossier.Event, changes: dict[str, Any]) -> Statement:
    return row_change("review_dossier", "dossier_id",
                      {"dossier_id": str(e.originator_id)} | changes, created=False)


_PROCEDURE_OF_DOSSIER = SqlExpression(
    "(SELECT procedure_code FROM {p}review_dossier d WHERE d.dossier_id = %(dossier_id)s)"
)


@singledispatch
def _review_statements(e: Dossier.Event) -> list[Statement]:
    return []


def _received(e: Dossier.Received, *, phone_hash: str) -> list[Statement]:
    dossier = {
        "dossier_id": str(e.originator_id), "code": e.code, "procedure_code": e.procedure_code,
        "receiving_unit": e.receiving_unit, "channel": e.channel,
        "phone_hash": phone_hash, "received_at": e.occurred_at,
        "first_due_date": e.due_date, "due_date": e.due_date,
    }
    return [
        row_change("review_dossier", "dossier_id", dossier, created=True),
        _open_step(e, procedure_code=e.procedure_code, unit_code=e.receiving_unit,
                   accepted_at=e.occurred_at, accepted_by=e.actor_id,
                   step_due_at=e.step_due_at, route_position=0),
    ]


@_review_statements.register
def _(e: Dossier.Transferred) -> list[Statement]:
    return [
        _close_step(e),
        _open_step(e, procedure_code=_PROCEDURE_OF_DOSSIER, unit_code=e.to_unit,
                   accepted_at=None if e.awaits_acceptance else e.occurred_at,
                   accepted_by=None if e.awaits_acceptance else e.to_officer,
                   step_due_at=None, from_unit=e.from_unit, route_position=e.route_position,
                   off_route=e.off_route),
    ]


@_review_statements.register
def _(e: Dossier.AcceptedOnline) -> list[Statement]:
    # The clock starts at acceptance: the due date and the counter's step deadline are the
    # ones acceptance set, not the submission's (analytics judge lateness by them).
    return [
        _dossier_update(e, {"reception_decided_at": e.occurred_at,
                            "reception_decision": "accepted",
                            "first_due_date": e.due_date, "due_date": e.due_date}),
        ("UPDATE {p}review_step SET step_due_at = %(step_due_at)s "
         "WHERE dossier_id = %(dossier_id)s AND left_at IS NULL",
         {"step_due_at": e.step_due_at, "dossier_id": str(e.originator_id)}),
    ]


@_review_statements.register
def _(e: Dossier.RefusedToReceive) -> list[Statement]:
    return [_dossier_update(e, {"reception_decided_at": e.occurred_at,
                                "reception_decision": "refused"})]


@_review_statements.register
def _(e: Dossier.TransferAccepted) -> list[Statement]:
    return [(
        "UPDATE {p}review_step SET accepted_at = %(accepted_at)s, accepted_by = %(accepted_by)s, "
        "step_due_at = %(step_due_at)s WHERE dossier_id = %(dossier_id)s AND left_at IS NULL",
        {"accepted_at": e.occurred_at, "accepted_by": e.actor_id, "step_due_at": e.step_due_at,
         "dossier_id": str(e.originator_id)},
    )]


@_review_statements.register
def _(e: Dossier.SupplementRequested) -> list[Statement]:
    # The due date the request was made against is the dossier's due date at that moment.
    pause = (
        "INSERT INTO {p}review_pause (dossier_id, request_number, unit_code, officer_id, "
        "requested_at, justified, outside_items, due_date) VALUES (%(dossier_id)s, "
        "%(request_number)s, %(unit_code)s, %(officer_id)s, %(requested_at)s, %(justified)s, "
        "%(outside_items)s, "
        "(SELECT due_date FROM {p}review_dossier d WHERE d.dossier_id = %(dossier_id)s))",
        {"dossier_id": str(e.originator_id), "request_number": e.request_number,
         "unit_code": e.actor_unit, "officer_id": e.actor_id, "requested_at": e.occurred_at,
         "justified": int(bool(e.justification)),
         "outside_items": len(e.outside_list or [])},
    )
    return [pause, _dossier_update(e, {"supplement_requests": e.request_number})]


@_review_statements.register
def _(e: Dossier.SupplementProvided) -> list[Statement]:
    return [
        ("UPDATE {p}review_pause SET provided_at = %(provided_at)s "
         "WHERE dossier_id = %(dossier_id)s AND provided_at IS NULL",
         {"provided_at": e.occurred_at, "dossier_id": str(e.originator_id)}),
        # The open stay's due time moves on by its share of the wait (computed by the domain).
        ("UPDATE {p}review_step SET step_due_at = %(step_due_at)s "
         "WHERE dossier_id = %(dossier_id)s AND left_at IS NULL",
         {"step_due_at": e.step_due_at, "dossier_id": str(e.originator_id)}),
        _dossier_update(e, {
            "due_date": e.due_date,
            "paused_working_days": SqlExpression(
                f"paused_working_days + {int(e.paused_working_days)}"),
        }),
    ]


def _payment_row(e: Dossier.Event, kind: str, amount_vnd: int, method: str | None,
                 owed_vnd: int | None, after_result: bool) -> Statement:
    params = {"dossier_id": str(e.originator_id), "version": e.originator_version,
              "kind": kind, "amount_vnd": amount_vnd, "method": method, "owed_vnd": owed_vnd,
              "after_result": int(after_result), "occurred_at": e.occurred_at}
    return (
        "INSERT INTO {p}review_payment (dossier_id, version, procedure_code, receiving_unit, "
        "kind, amount_vnd, method, owed_vnd, after_result, occurred_at) SELECT "
        "%(dossier_id)s, %(version)s, procedure_code, receiving_unit, %(kind)s, "
        "%(amount_vnd)s, %(method)s, %(owed_vnd)s, %(after_result)s, %(occurred_at)s "
        "FROM {p}review_dossier WHERE dossier_id = %(dossier_id)s", params)


@_review_statements.register
def _(e: Dossier.FeeRefunded) -> list[Statement]:
    return [_payment_row(e, "refund", -e.amount_vnd, None, None, False)]


@_review_statements.register
def _(e: Dossier.FeePaid) -> list[Statement]:
    paid = _payment_row(e, "payment", e.amount_vnd, e.method, e.owed_vnd, e.after_result)
    if not e.resumed:
        return [paid]
    # A financial obligation settled: the clock resumes as after a supplement.
    return [paid,
        ("UPDATE {p}review_step SET step_due_at = %(step_due_at)s "
         "WHERE dossier_id = %(dossier_id)s AND left_at IS NULL",
         {"step_due_at": e.step_due_at, "dossier_id": str(e.originator_id)}),
        _dossier_update(e, {
            "due_date": e.due_date,
            "paused_working_days": SqlExpression(
                f"paused_working_days + {int(e.paused_working_days)}"),
        }),
    ]


@_review_statements.register
def _(e: Dossier.Extended) -> list[Statement]:
    return [_dossier_update(e, {"due_date": e.due_date, "extensions": e.extension_number,
                                "last_extended_at": e.occurred_at})]


def _result(e: Dossier.Event, kind: str) -> list[Statement]:
    return [_close_step(e), _dossier_update(e, {
        "result_kind": kind, "result_ready_at": e.occurred_at, "result_by": e.actor_id})]


@_review_statements.register
def _(e: Dossier.Signed) -> list[Statement]:
    return _result(e, "signed")


@_review_statements.register
def _(e: Dossier.Rejected) -> list[Statement]:
    # A refusal also ends any wait for documents.
    return [*_result(e, "rejected"), _end_open_pause(e)]


@_review_statements.register
def _(e: Dossier.Withdrawn) -> list[Statement]:
    return [_close_step(e), _end_open_pause(e),
            _dossier_update(e, {"withdrawn_at": e.occurred_at})]


def _end_open_pause(e: Dossier.Event) -> Statement:
    return ("UPDATE {p}review_pause SET provided_at = %(ended_at)s "
            "WHERE dossier_id = %(dossier_id)s AND provided_at IS NULL",
            {"ended_at": e.occurred_at, "dossier_id": str(e.originator_id)})


@_review_statements.register
def _(e: Dossier.Dispatched) -> list[Statement]:
    if e.method == DispatchMethod.POST.value:
        return [_close_step(e), _dossier_update(e, {"posted_at": e.occurred_at})]
    return [_close_step(e)]


@_review_statements.register
def _(e: Dossier.Delivered) -> list[Statement]:
    return [_dossier_update(e, {"delivered_at": e.occurred_at})]


@_review_statements.register
def _(e: Dossier.DeliveryAttemptFailed) -> list[Statement]:
    return [_dossier_update(e, {"failed_attempts": e.attempt})]


@_review_statements.register
def _(e: Dossier.ReturnedToCounter) -> list[Statement]:
    return [_dossier_update(e, {"returned_at": e.occurred_at})]


@_review_statements.register
def _(e: Dossier.PickupRequested) -> list[Statement]:
    # Not received yet: the stay is the post office's, from the request; the collection is
    # its "acceptance", the hand-over at the counter its end.
    return [
        ("DELETE FROM {p}review_step WHERE dossier_id = %(dossier_id)s "
         "AND opened_version = %(previous)s",
         {"dossier_id": str(e.originator_id), "previous": e.originator_version - 1}),
        _open_step(e, procedure_code=_PROCEDURE_OF_DOSSIER, unit_code=e.post_office,
                   accepted_at=None, accepted_by=None, step_due_at=None),
    ]


@_review_statements.register
def _(e: Dossier.CollectedByPost) -> list[Statement]:
    return [_dossier_update(e, {"collected_at": e.occurred_at}), (
        "UPDATE {p}review_step SET accepted_at = %(accepted_at)s, accepted_by = %(accepted_by)s "
        "WHERE dossier_id = %(dossier_id)s AND left_at IS NULL",
        {"accepted_at": e.occurred_at, "accepted_by": e.actor_id,
         "dossier_id": str(e.originator_id)},
    )]


@_review_statements.register
def _(e: Dossier.HandedToCounter) -> list[Statement]:
    # Like a transfer: the counter's stay begins when it records its receipt.
    return [
        _close_step(e),
        _open_step(e, procedure_code=_PROCEDURE_OF_DOSSIER, unit_code=e.to_unit,
                   accepted_at=None, accepted_by=None, step_due_at=None,
                   from_unit=e.actor_unit, route_position=0),
        _dossier_update(e, {"handed_over_at": e.occurred_at}),
    ]


@_review_statements.register
def _(e: Dossier.ReceivedFromPost) -> list[Statement]:
    return [
        ("UPDATE {p}review_step SET accepted_at = %(accepted_at)s, "
         "accepted_by = %(accepted_by)s, step_due_at = %(step_due_at)s "
         "WHERE dossier_id = %(dossier_id)s AND left_at IS NULL",
         {"accepted_at": e.occurred_at, "accepted_by": e.actor_id,
          "step_due_at": e.step_due_at, "dossier_id": str(e.originator_id)}),
        _dossier_update(e, {"received_at": e.occurred_at, "first_due_date": e.due_date,
                            "due_date": e.due_date}),
    ]


@_review_statements.register
def _(e: Dossier.Rated) -> list[Statement]:
    # The comment stays in the event: the review tables hold no free text from citizens.
    return [_dossier_update(e, {"satisfaction": e.satisfaction, "came_back": int(e.came_back),
                                "unofficial_request": int(e.unofficial_request),
                                "rated_at": e.occurred_at})]
