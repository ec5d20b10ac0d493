"""Handling-time analytics and the official indices of Decision 766/QĐ-TTg, from review rows.

Pure functions: rows as ``ReviewView`` returns them (times aware, dates as dates, dossier ids as
text) and a "now" go in, small frozen dataclasses come out. The same rows always give the same
figures, so a page, its CSV export and a test agree. No SQL is built here.

How hoso measures (the pages say the same in words):

- **Handling time is office time**: working days only (weekends and public holidays skipped),
  07:30–11:30 and 13:00–17:00 in Ho Chi Minh City. Step allotments are counted that way, and a
  file that reached a desk at 16:55 on a Friday has not waited three days by Monday 08:00.
  Time spent waiting for the citizen to bring missing documents (a supplement request, until
  it is provided, or until a refusal or withdrawal ends the wait) is taken out.
- A **step** is one stay at a unit's desk: from acceptance by the unit (transit before that is
  not the unit's time) until the file leaves or the desk produces the result. Stays ended by
  the citizen withdrawing are not "handled" and are left out of the handling figures.
- A **dossier** is handled from receipt to its result (signed or refused).
- **Median** is the usual midpoint; the **90th percentile** is the nearest-rank value: an
  observed duration that at least 90 % of the durations do not exceed.
- **On time**, hoso's own: a step left by its step due time; a dossier's result was ready by the
  end of its current due date (which moves with supplement waits and with apologised
  extensions) — the same rule as the status pages.
- **Official (Decision 766/QĐ-TTg)**: on time when the result date is no later than the
  appointment date with supplement waiting excluded — the first appointment moved on by the
  working days paused, *not* by extensions — and at most one supplement request; the handling
  time is in whole working days from receipt to result (the receipt day never counts, as for
  the appointment) minus the working days paused. Refusals count as resolved; withdrawn
  dossiers are not resolved.
- **Backlog** is what was open at the end of the period (or now, if sooner): its age is office
  time since it arrived, supplement waits taken out; files waiting for the citizen are counted
  apart. Due dates are as they stand now.
- **Unit** at dossier level is the receiving unit (the counter that gave the citizen the
  appointment); at step level the unit holding the file.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from domain.office_time import (
    OfficeClock,
    day_number,
    day_of,
    epoch,
    number_of,
)
from domain.working_days import HCMC, WorkingCalendar

Row = Mapping[str, Any]

DEFAULT_MIN_SAMPLE = 20
OFFICE_DAY_HOURS = 8.0  # 07:30–11:30 and 13:00–17:00

# Backlog age buckets, in working days: [0, 1), [1, 3), [3, 5), [5, 10), [10, ∞).
AGE_BUCKET_DAYS: tuple[float, ...] = (0, 1, 3, 5, 10)
# Handling-time histogram bins, in office hours: [0, 1), [1, 2), … [80, ∞). Roughly doubling, so
# a 30-minute counter step and a two-week review both land in a readable bar.
HOUR_BINS: tuple[float, ...] = (0, 1, 2, 4, 8, 16, 40, 80)


# ---- measuring -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """Local dates [start, end) in Asia/Ho_Chi_Minh."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period ends after it starts")

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=HCMC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time(0), tzinfo=HCMC)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def contains(self, moment: datetime) -> bool:
        return self.start_at <= moment < self.end_at


def local_day(moment: datetime) -> date:
    return moment.astimezone(HCMC).date()


def week_of(day: date) -> date:
    """The Monday starting ``day``'s week."""
    return day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    return day.replace(day=1)


class Pauses:
    """Supplement waits per dossier, in epoch seconds: [requested, ended), ended None while
    still awaited."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._by_dossier: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
        for row in rows:
            self._by_dossier[row["dossier_id"]].append(
                (row["requested_at"].timestamp(), epoch(row["provided_at"])))

    def seconds_within(self, clock: OfficeClock, dossier_id: str, start: float,
                       end: float) -> float:
        waits = self._by_dossier.get(dossier_id)
        if not waits:
            return 0.0
        return sum(clock.seconds_between(max(start, requested), min(end, ended or end))
                   for requested, ended in waits)

    def awaited_at(self, dossier_id: str, moment: float) -> bool:
        return any(requested <= moment and (ended is None or ended > moment)
                   for requested, ended in self._by_dossier.get(dossier_id, ()))


def median(ordered: Sequence[float]) -> float | None:
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def nearest_rank(ordered: Sequence[float], q: float) -> float | None:
    """The smallest observed value that at least ``q`` of the values do not exceed."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---- results -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """``hits`` of ``n``; a share is only meaningful beside its n."""

    hits: int = 0
    n: int = 0

    @property
    def share(self) -> float | None:
        return self.hits / self.n if self.n else None


@dataclass(frozen=True)
class Spread:
    """Handling times in office hours."""

    n: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None
    mean_hours: float | None = None

    @classmethod
    def of(cls, hours: list[float]) -> Spread:
        ordered = sorted(hours)
        return cls(len(ordered), median(ordered), nearest_rank(ordered, 0.9),
                   sum(ordered) / len(ordered) if ordered else None)


@dataclass(frozen=True)
class Backlog:
    """Open files at the end of the period, by age (see AGE_BUCKET_DAYS)."""

    by_age: tuple[int, ...] = (0,) * len(AGE_BUCKET_DAYS)
    awaiting_supplement: int = 0
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_age) + self.awaiting_supplement


@dataclass(frozen=True)
class HandlingRow:
    """One line of a handling table; the fields that do not apply to the table stay None.

    Procedure lines are dossiers (receipt to result); unit, step and officer lines are stays at
    a desk. ``rank`` is None when the on-time sample is below the minimum.
    """

    procedure_code: str | None
    unit_code: str | None
    route_position: int | None
    officer_id: str | None
    time: Spread
    on_time: Rate
    backlog: Backlog
    rank: int | None = None

    @property
    def completed(self) -> int:
        return self.time.n


@dataclass(frozen=True)
class OfficialRow:
    """Decision 766 indices for a procedure or a receiving unit, with hoso's own beside them."""

    procedure_code: str | None
    unit_code: str | None
    on_time_766: Rate
    average_days_766: float | None
    on_time_hoso: Rate
    average_days_hoso: float | None
    rank: int | None = None

    @property
    def resolved(self) -> int:
        return self.on_time_766.n


@dataclass(frozen=True)
class WeekPoint:
    week_start: date
    dossiers_hoso: Rate
    dossiers_766: Rate
    steps: Rate


@dataclass(frozen=True)
class StepDistribution:
    """How many stays at one step took how long (see HOUR_BINS)."""

    unit_code: str
    procedure_code: str
    route_position: int | None
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Analytics:
    period: Period
    unit: str | None
    as_of: datetime
    min_sample: int
    procedures: tuple[HandlingRow, ...]
    units: tuple[HandlingRow, ...]
    steps: tuple[HandlingRow, ...]
    officers: tuple[HandlingRow, ...]
    official_by_procedure: tuple[OfficialRow, ...]
    official_by_unit: tuple[OfficialRow, ...]
    weeks: tuple[WeekPoint, ...]
    distributions: tuple[StepDistribution, ...]
    backlog: Backlog  # every open dossier in scope


@dataclass(frozen=True)
class ReviewRows:
    """What ``analyse`` reads, once, in this order; ``ReviewView.analytics_rows`` selects it
    (stays and dossiers as they are fetched, so a year of them is never held in memory).

    ``steps`` may hold more than needed (analyse applies the period and unit itself);
    ``dossiers`` must already be those in the unit's scope (received at the unit or passed
    through it), since a step outside the period can be what puts a dossier in scope.
    """

    steps: Iterable[Row]
    pauses: Iterable[Row]
    dossiers: Iterable[Row]


# ---- the official verdict ------------------------------------------------------------------

@dataclass(frozen=True)
class OfficialVerdict:
    appointment: date  # the first appointment moved on by the working days paused
    on_time: bool
    handling_days: int


def official_verdict(dossier: Row, calendar: WorkingCalendar,
                     clock: OfficeClock | None = None) -> OfficialVerdict | None:
    """Decision 766's reading of a resolved dossier; None while it has no result.

    ``clock`` (over the same calendar) only makes counting the days faster.
    """
    ready = dossier["result_ready_at"]
    if ready is None:
        return None
    paused = int(dossier["paused_working_days"] or 0)
    first_due = dossier["first_due_date"]
    appointment = calendar.add_working_days(first_due, paused) if paused else first_due
    ready_on = local_day(ready)
    on_time = ready_on <= appointment and int(dossier["supplement_requests"] or 0) <= 1
    worked = (clock or calendar).working_days_between(local_day(dossier["received_at"]),
                                                      ready_on)
    return OfficialVerdict(appointment, on_time, max(0, worked - paused))


# ---- accumulating --------------------------------------------------------------------------

_AGE_LIMITS = tuple(d * OFFICE_DAY_HOURS for d in AGE_BUCKET_DAYS)


def _bucket(value: float, limits: tuple[float, ...]) -> int:
    """The bin [limits[i], limits[i + 1]) holding ``value`` (the first for values below it)."""
    return max(0, bisect_right(limits, value) - 1)


@dataclass
class _Group:
    hours: list[float] = field(default_factory=list)
    hits: int = 0
    judged: int = 0
    ages: list[int] = field(default_factory=lambda: [0] * len(AGE_BUCKET_DAYS))
    awaiting: int = 0
    overdue: int = 0

    def done(self, hours: float, on_time: bool | None) -> None:
        self.hours.append(hours)
        if on_time is not None:
            self.judged += 1
            self.hits += on_time

    def open(self, age_hours: float, awaiting: bool, overdue: bool) -> None:
        if awaiting:
            self.awaiting += 1
            return
        self.ages[_bucket(age_hours, _AGE_LIMITS)] += 1
        self.overdue += overdue

    def backlog(self) -> Backlog:
        return Backlog(tuple(self.ages), self.awaiting, self.overdue)

    def row(self, procedure_code: str | None = None, unit_code: str | None = None,
            route_position: int | None = None, officer_id: str | None = None) -> HandlingRow:
        return HandlingRow(procedure_code, unit_code, route_position, officer_id,
                           Spread.of(self.hours), Rate(self.hits, self.judged), self.backlog())


@dataclass
class _Official:
    hits: int = 0
    n: int = 0
    days: int = 0
    hoso_hits: int = 0
    hoso_hours: float = 0.0

    def add(self, verdict: OfficialVerdict, on_time: bool, hours: float) -> None:
        self.n += 1
        self.hits += verdict.on_time
        self.days += verdict.handling_days
        self.hoso_hits += on_time
        self.hoso_hours += hours

    def row(self, procedure_code: str | None, unit_code: str | None) -> OfficialRow:
        return OfficialRow(
            procedure_code, unit_code, Rate(self.hits, self.n),
            self.days / self.n if self.n else None, Rate(self.hoso_hits, self.n),
            self.hoso_hours / OFFICE_DAY_HOURS / self.n if self.n else None)


_R = TypeVar("_R", HandlingRow, OfficialRow)


def ranked(rows: Iterable[_R], rate: Callable[[_R], Rate], min_sample: int,
           order: Callable[[_R], Any]) -> tuple[_R, ...]:
    """Rows with enough sample by on-time share (ties share a rank), then the rest unranked."""
    rows = list(rows)
    eligible = sorted((r for r in rows if rate(r).n >= min_sample),
                      key=lambda r: (-(rate(r).share or 0.0), -rate(r).n, order(r)))
    out: list[_R] = []
    for position, row in enumerate(eligible, start=1):
        tied = out and rate(out[-1]).share == rate(row).share
        out.append(replace(row, rank=out[-1].rank if tied else position))
    out.extend(replace(r, rank=None)
               for r in sorted((r for r in rows if rate(r).n < min_sample), key=order))
    return tuple(out)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _handling_rate(r: HandlingRow) -> Rate:
    return r.on_time


def _official_rate(r: OfficialRow) -> Rate:
    return r.on_time_766


def _step_order(r: HandlingRow) -> tuple[str, int, str]:
    position = -1 if r.route_position is None else r.route_position
    return _text(r.procedure_code), position, _text(r.unit_code)


# ---- the analysis --------------------------------------------------------------------------

def analyse(rows: ReviewRows, *, period: Period, now: datetime, unit: str | None = None,
            min_sample: int = DEFAULT_MIN_SAMPLE, clock: OfficeClock | None = None) -> Analytics:
    """Every table and chart of the analytics page; ``rows`` are read once, in order."""
    clock = clock or OfficeClock()
    as_of = min(now, period.end_at)
    # Times as epoch seconds from here on: comparisons and office time without time zones.
    start, end, at = period.start_at.timestamp(), period.end_at.timestamp(), as_of.timestamp()
    pauses = Pauses(rows.pauses)
    weeks = _weeks(period)
    hours_between = clock.seconds_between

    def handled(dossier_id: str, since: float, until: float) -> float:
        seconds = hours_between(since, until) - pauses.seconds_within(clock, dossier_id,
                                                                       since, until)
        return seconds / 3600

    units: dict[str, _Group] = defaultdict(_Group)
    steps: dict[tuple[str, str, int | None], _Group] = defaultdict(_Group)
    officers: dict[str, _Group] = defaultdict(_Group)
    bins: dict[tuple[str, str, int | None], list[int]] = defaultdict(
        lambda: [0] * len(HOUR_BINS))
    for s in rows.steps:
        if unit is not None and s["unit_code"] != unit:
            continue
        dossier_id = s["dossier_id"]
        left, accepted, arrived = epoch(s["left_at"]), epoch(s["accepted_at"]), \
            s["arrived_at"].timestamp()
        due = epoch(s["step_due_at"])
        step_key = (s["unit_code"], s["procedure_code"], s["route_position"])
        if (left is not None and accepted is not None and start <= left < end
                and s["left_by"] != "Withdrawn"):
            hours = handled(dossier_id, accepted, left)
            on_time = None if due is None else left <= due
            units[s["unit_code"]].done(hours, on_time)
            steps[step_key].done(hours, on_time)
            if s["officer_id"]:
                officers[s["officer_id"]].done(hours, on_time)
            bins[step_key][_bucket(hours, HOUR_BINS)] += 1
            week = weeks.get(_monday(left))
            if week is not None and on_time is not None:
                week.steps.done(hours, on_time)
        if arrived <= at and (left is None or left > at):
            awaiting = pauses.awaited_at(dossier_id, at)
            age = handled(dossier_id, arrived, at)
            overdue = due is not None and due < at
            units[s["unit_code"]].open(age, awaiting, overdue)
            steps[step_key].open(age, awaiting, overdue)
            # An open stay is the backlog of whoever opened it (received or accepted it).
            if s["accepted_by"] and accepted is not None and accepted <= at:
                officers[s["accepted_by"]].open(age, awaiting, overdue)

    procedures: dict[str, _Group] = defaultdict(_Group)
    official_procedures: dict[str, _Official] = defaultdict(_Official)
    official_units: dict[str, _Official] = defaultdict(_Official)
    everything = _Group()
    today = day_number(at)
    for d in rows.dossiers:
        dossier_id, received = d["dossier_id"], d["received_at"].timestamp()
        ready, withdrawn = epoch(d["result_ready_at"]), epoch(d["withdrawn_at"])
        if ready is not None and start <= ready < end:
            hours = handled(dossier_id, received, ready)
            on_time = day_number(ready) <= number_of(d["due_date"])
            verdict = official_verdict(d, clock.calendar, clock)
            assert verdict is not None
            procedures[d["procedure_code"]].done(hours, on_time)
            official_procedures[d["procedure_code"]].add(verdict, on_time, hours)
            official_units[d["receiving_unit"]].add(verdict, on_time, hours)
            week = weeks.get(_monday(ready))
            if week is not None:
                week.hoso.done(hours, on_time)
                week.official.done(hours, verdict.on_time)
        if (received <= at and (ready is None or ready > at)
                and (withdrawn is None or withdrawn > at)):
            awaiting = pauses.awaited_at(dossier_id, at)
            age = handled(dossier_id, received, at)
            overdue = today > number_of(d["due_date"])
            procedures[d["procedure_code"]].open(age, awaiting, overdue)
            everything.open(age, awaiting, overdue)

    return Analytics(
        period=period, unit=unit, as_of=as_of, min_sample=min_sample,
        procedures=ranked((g.row(procedure_code=p) for p, g in procedures.items()),
                          _handling_rate, min_sample, lambda r: _text(r.procedure_code)),
        units=ranked((g.row(unit_code=u) for u, g in units.items()), _handling_rate,
                     min_sample, lambda r: _text(r.unit_code)),
        steps=ranked((g.row(unit_code=u, procedure_code=p, route_position=n)
                      for (u, p, n), g in steps.items()), _handling_rate, min_sample,
                     _step_order),
        officers=ranked((g.row(officer_id=o) for o, g in officers.items()), _handling_rate,
                        min_sample, lambda r: _text(r.officer_id)),
        official_by_procedure=ranked(
            (g.row(p, None) for p, g in official_procedures.items()), _official_rate,
            min_sample, lambda r: _text(r.procedure_code)),
        official_by_unit=ranked(
            (g.row(None, u) for u, g in official_units.items()), _official_rate, min_sample,
            lambda r: _text(r.unit_code)),
        weeks=tuple(w.point(monday) for monday, w in sorted(weeks.items())),
        distributions=tuple(
            StepDistribution(u, p, n, tuple(counts))
            for (u, p, n), counts in sorted(
                bins.items(), key=lambda kv: (kv[0][1], -1 if kv[0][2] is None else kv[0][2],
                                              kv[0][0]))),
        backlog=everything.backlog(),
    )


@lru_cache(maxsize=4096)
def _monday_of(day: int) -> date:
    return day_of(day - (day + 3) % 7)  # 1 January 1970 was a Thursday


def _monday(moment: float) -> date:
    return _monday_of(day_number(moment))


@dataclass
class _Week:
    hoso: _Group = field(default_factory=_Group)
    official: _Group = field(default_factory=_Group)
    steps: _Group = field(default_factory=_Group)

    def point(self, start: date) -> WeekPoint:
        return WeekPoint(start, Rate(self.hoso.hits, self.hoso.judged),
                         Rate(self.official.hits, self.official.judged),
                         Rate(self.steps.hits, self.steps.judged))


def _weeks(period: Period) -> dict[date, _Week]:
    weeks: dict[date, _Week] = {}
    monday = week_of(period.start)
    while monday <= period.last_day:
        weeks[monday] = _Week()
        monday += timedelta(days=7)
    return weeks


# ---- public statistics ---------------------------------------------------------------------

@dataclass(frozen=True)
class Mean:
    n: int = 0
    total: float = 0.0

    @property
    def average(self) -> float | None:
        return self.total / self.n if self.n else None


@dataclass(frozen=True)
class MonthlyFigures:
    """What the city publishes for one month: no names, no codes, only counts and rates.

    Received counts by month of receipt; resolved, on-time share (Decision 766) and average
    handling days by month of the result; satisfaction by month of the rating.
    """

    month: date
    unit_code: str | None  # None on the city-wide total lines
    procedure_code: str | None
    received: int
    resolved: int
    on_time_766: Rate
    average_days_766: float | None
    satisfaction: Mean
    small_sample: bool


@dataclass(frozen=True)
class PublicStatistics:
    rows: tuple[MonthlyFigures, ...]  # newest month first, then unit, then procedure
    totals: tuple[MonthlyFigures, ...]  # city-wide, oldest month first (for a chart)
    min_sample: int


@dataclass
class _Month:
    received: int = 0
    resolved: int = 0
    hits: int = 0
    days: int = 0
    rated: int = 0
    satisfaction: float = 0.0

    def figures(self, month: date, unit_code: str | None, procedure_code: str | None,
                min_sample: int) -> MonthlyFigures:
        return MonthlyFigures(
            month, unit_code, procedure_code, self.received, self.resolved,
            Rate(self.hits, self.resolved),
            self.days / self.resolved if self.resolved else None,
            Mean(self.rated, self.satisfaction), self.resolved < min_sample)


def public_statistics(dossiers: Iterable[Row], *, calendar: WorkingCalendar,
                      since: date | None = None, until: date | None = None,
                      min_sample: int = DEFAULT_MIN_SAMPLE) -> PublicStatistics:
    """Per month, receiving unit and procedure; months outside [since, until] left out."""
    clock = OfficeClock(calendar)
    cells: dict[tuple[date, str, str], _Month] = defaultdict(_Month)
    totals: dict[date, _Month] = defaultdict(_Month)
    first, last = since and month_of(since), until and month_of(until)

    def wanted(month: date) -> bool:
        return (first is None or month >= first) and (last is None or month <= last)

    for d in dossiers:
        unit, procedure = d["receiving_unit"], d["procedure_code"]
        month = month_of(local_day(d["received_at"]))
        if wanted(month):
            cells[month, unit, procedure].received += 1
            totals[month].received += 1
        verdict = official_verdict(d, calendar, clock)
        if verdict is not None:
            month = month_of(local_day(d["result_ready_at"]))
            if wanted(month):
                for cell in (cells[month, unit, procedure], totals[month]):
                    cell.resolved += 1
                    cell.hits += verdict.on_time
                    cell.days += verdict.handling_days
        if d.get("satisfaction") is not None:
            rated = d.get("rated_at") or d["result_ready_at"] or d["received_at"]
            month = month_of(local_day(rated))
            if wanted(month):
                for cell in (cells[month, unit, procedure], totals[month]):
                    cell.rated += 1
                    cell.satisfaction += d["satisfaction"]
    rows = tuple(
        cell.figures(month, unit, procedure, min_sample)
        for (month, unit, procedure), cell in sorted(
            cells.items(), key=lambda kv: (-kv[0][0].toordinal(), kv[0][1], kv[0][2])))
    return PublicStatistics(
        rows, tuple(totals[m].figures(m, None, None, min_sample) for m in sorted(totals)),
        min_sample)


# ---- online submissions at the counter (issue 16) ------------------------------------------

@dataclass(frozen=True)
class OnlineReception:
    """How long one counter took to answer citizens' online submissions: office hours from
    the submission to receiving it or refusing to receive it; those still unanswered by the
    age they have reached now."""

    unit_code: str
    submitted: int
    accepted: int
    refused: int
    waiting: int
    median_hours: float | None
    p90_hours: float | None
    oldest_waiting_hours: float | None


def online_reception(rows: Iterable[Row], clock: OfficeClock, now: datetime,
                     unit: str | None = None) -> list[OnlineReception]:
    """Per receiving unit, from ``review_dossier`` rows (the online ones are picked here)."""
    answered: dict[str, list[float]] = defaultdict(list)
    waiting: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"accepted": 0, "refused": 0})
    for r in rows:
        if r["channel"] != "online" or (unit and r["receiving_unit"] != unit):
            continue
        code = r["receiving_unit"]
        decided = r.get("reception_decided_at")
        hours = clock.seconds_between(r["received_at"].timestamp(),
                                      (decided or now).timestamp()) / 3600
        if decided is None:
            waiting[code].append(hours)
            continue
        answered[code].append(hours)
        counts[code][str(r["reception_decision"])] += 1
    lines = []
    for code in sorted(set(answered) | set(waiting)):
        done = sorted(answered[code])
        lines.append(OnlineReception(
            unit_code=code, submitted=len(done) + len(waiting[code]),
            accepted=counts[code]["accepted"], refused=counts[code]["refused"],
            waiting=len(waiting[code]), median_hours=median(done),
            p90_hours=nearest_rank(done, 0.9),
            oldest_waiting_hours=max(waiting[code]) if waiting[code] else None))
    return lines
