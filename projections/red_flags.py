"""Red flags: reasons for an inspector to open a file, computed from the review read model.

A flag is never a verdict. Each one says in plain words what was seen, links the dossiers
behind it, and shows officers' rates only beside their sample size; below ``min_sample``
a rate is shown as too small to compare, never ranked. The method and the defaults are
documented in docs/red-flags.md; every threshold lives in :class:`Thresholds`.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.flag_case import Subject, fingerprint
from domain.office_time import OfficeClock
from domain.working_days import HCMC, WorkingCalendar
from projections.read_model import Row
from projections.readings import ReadingView
from projections.review import ReviewView


@dataclass(frozen=True)
class Thresholds:
    # Stuck: a stay longer than this many times its allowance…
    stuck_allowance_factor: float = 2.0
    # …or, for a dossier still at the desk, longer than the unit's own 90th percentile.
    stuck_percentile: float = 0.9
    # Rates and percentiles from fewer cases than this are not compared.
    min_sample: int = 20
    # Queue jumping: finished while an older file of the same procedure, which arrived at
    # least this much earlier at the same unit, still waited.
    queue_jump_grace: timedelta = timedelta(hours=24)
    queue_jump_min_overtaken: int = 3
    # Supplements: an officer asking this many times more often than the unit as a whole.
    supplement_rate_factor: float = 2.0
    # Favours: a few files handled in under this share of the officer's usual time…
    favour_fast_share: float = 0.25
    # …when they are at most this share of the officer's files, and the usual time is slow.
    favour_max_share: float = 0.15
    favour_min_usual: timedelta = timedelta(hours=8)  # office hours: one working day
    # Transit: a paper not opened by the receiving unit within this much office time.
    long_transit: timedelta = timedelta(hours=8)
    # Ping-pong: this many transfers back and forth between the same two units.
    ping_pong_transfers: int = 3
    # Back-dating: recorded this long after it happened (the post office reports later).
    backdating: timedelta = timedelta(hours=24)
    backdating_delivery: timedelta = timedelta(days=7)
    # Clock gaming: a supplement request or refusal within this many working days of the due date.
    clock_gaming_working_days: int = 1
    # Lost in the post: a result sent by post with no delivery (or return) after this many
    # working days.
    postal_delivery_working_days: int = 5
    # Online submissions: the counter answers (receives or refuses to receive) within this
    # much office time of the citizen's submission.
    online_reception: timedelta = timedelta(hours=8)  # office hours: one working day
    # Brokers: one phone behind this many dossiers, of which this many were fast or jumped.
    broker_dossiers: int = 4
    broker_suspicious: int = 2


_CALENDAR = WorkingCalendar()


def N_(text: str) -> str:
    """Marks a message for translation where it is written (``make messages`` finds it);
    the web translates it when it shows the flag, in the reader's language."""
    return text


# A flagged dossier's explanation is a message with typed values, not a sentence: the page
# writes it in the reader's language, with units and people by name, times and decimals as
# that language writes them. These are the values' kinds.

@dataclass(frozen=True)
class OfficeTime:
    """Office time, in working days (of eight office hours) from two days on, else hours."""
    value: timedelta


@dataclass(frozen=True)
class Moment:
    value: datetime


@dataclass(frozen=True)
class Day:
    value: date


@dataclass(frozen=True)
class UnitRef:
    code: str


@dataclass(frozen=True)
class PersonRef:
    user_id: str


@dataclass(frozen=True)
class EventRef:
    kind: str  # the event's class name, shown by its label


@dataclass(frozen=True)
class ProcedureRef:
    code: str


@dataclass(frozen=True)
class Times:
    """A ratio, "2.5 times"."""
    value: float


@dataclass(frozen=True)
class Money:
    """An amount of whole đồng."""
    vnd: int


DetailValue = (OfficeTime | Moment | Day | UnitRef | PersonRef | EventRef | ProcedureRef | Times
               | Money | int)


@dataclass(frozen=True)
class Detail:
    text: str  # Vietnamese, with %(name)s for each value: the msgid the web translates
    values: tuple[tuple[str, DetailValue], ...] = ()

    @property
    def vi(self) -> str:
        """The Vietnamese sentence with plain values (codes and ids): for logs and tests;
        pages write it with names."""
        return self.text % {name: _plain(value) for name, value in self.values}


def _detail(text: str, **values: DetailValue) -> Detail:
    return Detail(text, tuple(values.items()))


def _plain(value: DetailValue) -> str:
    if isinstance(value, OfficeTime):
        hours = value.value.total_seconds() / 3600
        text = (f"{hours / 8:.1f} ngày làm việc" if hours >= 16
                else f"{hours:.1f} giờ làm việc")
        return text.replace(".", ",")
    if isinstance(value, Moment):
        return _local(value.value)
    if isinstance(value, Day):
        return f"{value.value:%d/%m/%Y}"
    if isinstance(value, UnitRef | ProcedureRef):
        return value.code
    if isinstance(value, PersonRef):
        return value.user_id
    if isinstance(value, EventRef):
        return value.kind
    if isinstance(value, Times):
        return f"{value.value:.1f}".replace(".", ",")
    if isinstance(value, Money):
        return f"{value.vnd:,} đồng".replace(",", ".")
    return str(value)


@dataclass(frozen=True)
class FlaggedDossier:
    dossier_id: str
    code: str
    detail: Detail


@dataclass(frozen=True)
class OfficerRate:
    officer_id: str
    unit_code: str
    flagged: int
    sample: int
    # None when the sample is too small to compare.
    rate: float | None


@dataclass(frozen=True)
class RedFlag:
    key: str
    dossiers: list[FlaggedDossier] = field(default_factory=list)
    officers: list[OfficerRate] = field(default_factory=list)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive
    unit_code: str | None = None

    def start_utc(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time(), tzinfo=HCMC).astimezone(UTC)

    def end_utc(self) -> datetime:
        return datetime.combine(self.end, datetime.min.time(), tzinfo=HCMC).astimezone(UTC)


@dataclass(frozen=True)
class Step:
    """One stay at a desk; durations in office hours (nights and days off do not count)."""

    dossier_id: str
    procedure_code: str
    unit_code: str
    from_unit: str | None
    off_route: bool
    arrived_at: datetime
    accepted_at: datetime | None
    step_due_at: datetime | None
    left_at: datetime | None
    left_by: str | None
    officer_id: str | None
    accepted_by: str | None
    paused: timedelta
    # Time at the desk since it was opened, less any wait for the citizen's documents.
    worked: timedelta | None
    allowance: timedelta | None
    transit: timedelta | None


@dataclass
class ReviewData:
    """The rows flags are computed from: dossiers received in the period, and their history."""

    now: datetime
    dossiers: dict[str, Row]
    steps: list[Step]
    pauses: list[Row]
    events: list[Row]
    out_of_order: list[Row] = field(default_factory=list)
    readings_without_a_part: list[Row] = field(default_factory=list)
    payments: list[Row] = field(default_factory=list)  # fees paid and refunded

    @classmethod
    def load(cls, view: ReviewView, period: Period, now: datetime,
             calendar: WorkingCalendar | None = None,
             readings: ReadingView | None = None) -> ReviewData:
        calendar = calendar or _CALENDAR
        window = {"start": period.start_utc(), "end": period.end_utc()}
        in_period = "received_at >= %(start)s AND received_at < %(end)s"
        of_dossiers = ("dossier_id IN (SELECT dossier_id FROM {p}review_dossier "
                       f"WHERE {in_period})")
        dossiers = {r["dossier_id"]: r for r in view.rows("review_dossier", in_period, window)}
        pauses = view.rows("review_pause", of_dossiers, window)
        step_rows = view.rows("review_step", of_dossiers, window)
        # Only events some flag looks at one by one; counting is done on steps and dossiers.
        events = view.rows(
            "review_event",
            f"{of_dossiers} AND (off_hours = 1 OR recording_delay_s > 3600 "
            "OR kind = 'Rejected')",
            window, order="dossier_id, version")
        data = cls(now=now, dossiers=dossiers, steps=[], pauses=pauses, events=events,
                   out_of_order=view.out_of_order_events(of_dossiers, window),
                   readings_without_a_part=readings.readings_without_a_part(
                       window["start"], window["end"]) if readings else [],
                   payments=view.rows("review_payment", of_dossiers, window,
                                      order="dossier_id, version"))
        clock = OfficeClock(calendar)
        data.steps = [_step(r, data.pauses_of(r["dossier_id"]), now, clock) for r in step_rows]
        if period.unit_code:
            data.steps = [s for s in data.steps if s.unit_code == period.unit_code]
        return data

    def pauses_of(self, dossier_id: str) -> list[Row]:
        if not hasattr(self, "_pauses_by_dossier"):
            grouped: dict[str, list[Row]] = defaultdict(list)
            for p in self.pauses:
                grouped[p["dossier_id"]].append(p)
            self._pauses_by_dossier = grouped
        return self._pauses_by_dossier.get(dossier_id, [])


def _step(row: Row, pauses: list[Row], now: datetime, clock: OfficeClock) -> Step:
    start, end, due = row["accepted_at"], row["left_at"], row["step_due_at"]

    def office(a: datetime, b: datetime) -> timedelta:
        return timedelta(seconds=clock.seconds_between(a.timestamp(), b.timestamp()))

    paused = timedelta()
    paused_office = timedelta()
    if start is not None:
        for p in pauses:
            lo = max(start, p["requested_at"])
            hi = min(end or now, p["provided_at"] or now)
            if hi > lo:
                paused += hi - lo
                paused_office += office(lo, hi)
    worked = None if start is None else office(start, end or now) - paused_office
    transit = None if row["from_unit"] is None else office(row["arrived_at"], start or now)
    return Step(
        dossier_id=row["dossier_id"], procedure_code=row["procedure_code"],
        unit_code=row["unit_code"], from_unit=row["from_unit"], off_route=bool(row["off_route"]),
        arrived_at=row["arrived_at"], accepted_at=start, step_due_at=due,
        left_at=end, left_by=row["left_by"], officer_id=row["officer_id"],
        accepted_by=row.get("accepted_by"), paused=paused,
        worked=worked,
        allowance=None if start is None or due is None else office(start, due),
        transit=transit,
    )


def red_flags(data: ReviewData, thresholds: Thresholds = Thresholds(),
              calendar: WorkingCalendar | None = None) -> list[RedFlag]:
    calendar = calendar or _CALENDAR
    t = thresholds
    jumps = queue_jumping(data, t, calendar)
    favours = favours_flag(data, t)
    return [
        stuck(data, t),
        jumps,
        repeated_supplements(data, t),
        supplement_rates(data, t),
        supplements_outside_list(data, t),
        late_without_apology(data, calendar),
        moved_more_than_once(data),
        favours,
        off_route(data),
        ping_pong(data, t),
        long_transit(data, t),
        lost_in_the_post(data, t, calendar),
        online_waiting(data, t, calendar),
        backdated(data, t),
        out_of_order(data),
        clock_gaming(data, t, calendar),
        brokers(data, t, suspicious={f.dossier_id for f in jumps.dossiers + favours.dossiers}),
        off_hours(data, t),
        bad_ratings(data),
        fee_differs(data),
        fee_after_result(data),
        reading_without_a_part(data),
    ]


# ---- helpers ---------------------------------------------------------------------------

def _code(data: ReviewData, dossier_id: str) -> str:
    row = data.dossiers.get(dossier_id)
    return str(row["code"]) if row else dossier_id[:8]


def _flagged(data: ReviewData, dossier_id: str, detail: Detail) -> FlaggedDossier:
    return FlaggedDossier(dossier_id, _code(data, dossier_id), detail)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _local(moment: datetime) -> str:
    return moment.astimezone(HCMC).strftime("%d/%m/%Y %H:%M")


def _rates(flagged: Counter[str], sample: Counter[str], units: dict[str, str],
           min_sample: int) -> list[OfficerRate]:
    rates = [
        OfficerRate(officer, units.get(officer, ""), flagged[officer], n,
                    flagged[officer] / n if n >= min_sample else None)
        for officer, n in sample.items() if flagged[officer]
    ]
    # Comparable rates first, highest first; small samples after, never ranked among them.
    return sorted(rates, key=lambda r: (r.rate is None, -(r.rate or 0), -r.flagged))


def _finished(steps: Iterable[Step]) -> Iterator[Step]:
    return (s for s in steps if s.left_at is not None and s.accepted_at is not None)


# ---- the flags -------------------------------------------------------------------------

def stuck(data: ReviewData, t: Thresholds) -> RedFlag:
    usual: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in _finished(data.steps):
        assert s.worked is not None
        usual[(s.unit_code, s.procedure_code)].append(s.worked.total_seconds())
    flagged = []
    p90s: dict[tuple[str, str], float] = {}
    for s in data.steps:
        worked, allowance = s.worked, s.allowance
        if worked is None:
            continue
        if allowance and allowance > timedelta() and worked > allowance * t.stuck_allowance_factor:
            flagged.append(_flagged(data, s.dossier_id, _detail(
                N_("%(worked)s tại %(unit)s, gấp %(times)s lần thời gian cho phép "
                   "(%(allowance)s)") if s.left_at else
                N_("%(worked)s tại %(unit)s, gấp %(times)s lần thời gian cho phép "
                   "(%(allowance)s) — vẫn đang nằm tại đây"),
                worked=OfficeTime(worked), unit=UnitRef(s.unit_code),
                times=Times(worked / allowance), allowance=OfficeTime(allowance))))
            continue
        peers = usual[(s.unit_code, s.procedure_code)]
        if s.left_at is None and len(peers) >= t.min_sample:
            p90 = p90s.get((s.unit_code, s.procedure_code)) or p90s.setdefault(
                (s.unit_code, s.procedure_code), _percentile(peers, t.stuck_percentile))
            if worked.total_seconds() > p90:
                flagged.append(_flagged(data, s.dossier_id, _detail(
                    N_("Đang nằm %(worked)s tại %(unit)s, lâu hơn 90%% hồ sơ cùng thủ tục đã "
                       "xử lý tại đây (%(p90)s; mẫu %(sample)s)"),
                    worked=OfficeTime(worked), unit=UnitRef(s.unit_code),
                    p90=OfficeTime(timedelta(seconds=p90)), sample=len(peers))))
    return RedFlag("stuck", flagged)


def queue_jumping(data: ReviewData, t: Thresholds, calendar: WorkingCalendar) -> RedFlag:
    """Files finished while older files of the same procedure still waited at the same desk.

    A desk is the officer who opened the file at the unit (or the unit, when nobody has).
    An older file counts as waiting only until it is stuck (then it is the stuck flag's
    business, and everyone after it would otherwise look like a jumper).
    """
    groups: dict[tuple[str, str, str], list[Step]] = defaultdict(list)
    for s in data.steps:
        if s.accepted_at is not None:
            groups[(s.unit_code, s.accepted_by or "", s.procedure_code)].append(s)
    never = datetime.max.replace(tzinfo=UTC)
    flagged, jumped, finished = [], Counter[str](), Counter[str]()
    units: dict[str, str] = {}
    for steps in groups.values():
        steps.sort(key=lambda s: s.accepted_at or never)
        waiting_until: list[datetime] = []  # sorted left times of files already waiting
        older = 0
        for s in steps:
            assert s.accepted_at is not None
            while older < len(steps) and (
                    steps[older].accepted_at or never) + t.queue_jump_grace < s.accepted_at:
                o = steps[older]
                # A file waiting for the citizen's documents may rightly be overtaken.
                if o.paused == timedelta():
                    bisect.insort(waiting_until, _waiting_until(o, t) or never)
                older += 1
            if s.left_at is None or s.officer_id is None:
                continue
            finished[s.officer_id] += 1
            units[s.officer_id] = s.unit_code
            overtaken = len(waiting_until) - bisect.bisect_right(waiting_until, s.left_at)
            if overtaken >= t.queue_jump_min_overtaken:
                jumped[s.officer_id] += 1
                flagged.append(_flagged(data, s.dossier_id, _detail(
                    N_("Xử lý xong tại %(unit)s lúc %(at)s trong khi %(overtaken)s hồ sơ cùng "
                       "thủ tục đến trước vẫn đang chờ"),
                    unit=UnitRef(s.unit_code), at=Moment(s.left_at), overtaken=overtaken)))
    return RedFlag("queue_jumping", flagged,
                   _rates(jumped, finished, units, t.min_sample))


def _waiting_until(step: Step, t: Thresholds) -> datetime | None:
    if step.step_due_at is None or step.accepted_at is None:
        return step.left_at
    # The allowance stretched on the calendar: close enough to office time for this purpose,
    # and cheap for hundreds of thousands of stays.
    stuck_from = step.accepted_at + (step.step_due_at - step.accepted_at) * \
        t.stuck_allowance_factor
    return min(step.left_at, stuck_from) if step.left_at else stuck_from


def repeated_supplements(data: ReviewData, t: Thresholds) -> RedFlag:
    requests: dict[str, list[Row]] = defaultdict(list)
    for p in data.pauses:
        requests[p["dossier_id"]].append(p)
    flagged = [
        _flagged(data, dossier_id, _detail(
            N_("%(count)s lần yêu cầu bổ sung (lần sau không có giải trình)")
            if not all(p["justified"] for p in ps[1:])
            else N_("%(count)s lần yêu cầu bổ sung (có giải trình)"), count=len(ps)))
        for dossier_id, ps in requests.items() if len(ps) >= 2
    ]
    return RedFlag("repeated_supplements", flagged)


def supplement_rates(data: ReviewData, t: Thresholds) -> RedFlag:
    """Officers who ask for supplements far more often than their colleagues in the unit."""
    first_requests = [p for p in data.pauses if p["request_number"] == 1]
    requested = Counter(p["officer_id"] for p in first_requests)
    handled: Counter[str] = Counter()
    units: dict[str, str] = {}
    for s in _finished(data.steps):
        if s.officer_id:
            handled[s.officer_id] += 1
            units[s.officer_id] = s.unit_code
    for p in first_requests:
        # Asking for documents is itself a way of dealing with a file.
        handled[p["officer_id"]] += 1
        units[p["officer_id"]] = p["unit_code"]
    officers = []
    for officer, n in handled.items():
        unit = units[officer]
        peers = [o for o in handled if o != officer and units[o] == unit]
        peer_n = sum(handled[o] for o in peers)
        if n < t.min_sample or peer_n < t.min_sample:
            continue
        rate = requested[officer] / n
        peer_rate = sum(requested[o] for o in peers) / peer_n
        if rate >= t.supplement_rate_factor * peer_rate and rate - peer_rate >= 0.1:
            officers.append(OfficerRate(officer, unit, requested[officer], n, rate))
    return RedFlag("supplement_rates", [], sorted(officers, key=lambda r: -(r.rate or 0)))


def supplements_outside_list(data: ReviewData, t: Thresholds) -> RedFlag:
    """Supplement requests asking for papers the procedure's published list does not name:
    allowed (the list can be incomplete), but each is a reason to look; counted per officer
    against all their requests."""
    asked, outside, units = Counter[str](), Counter[str](), {}
    flagged = []
    for p in data.pauses:
        asked[p["officer_id"]] += 1
        units[p["officer_id"]] = p["unit_code"]
        if p.get("outside_items"):
            outside[p["officer_id"]] += 1
            flagged.append(_flagged(data, p["dossier_id"], _detail(
                N_("Yêu cầu bổ sung lần %(number)s có %(count)s giấy tờ ngoài danh mục công "
                   "bố, bởi %(officer)s"),
                number=p["request_number"], count=p["outside_items"],
                officer=PersonRef(p["officer_id"]))))
    return RedFlag("supplements_outside_list", flagged,
                   _rates(outside, asked, units, t.min_sample))


def late_without_apology(data: ReviewData, calendar: WorkingCalendar) -> RedFlag:
    today = data.now.astimezone(HCMC).date()
    flagged = []
    for d in data.dossiers.values():
        if d["extensions"] or d["withdrawn_at"]:
            continue
        ready = d["result_ready_at"]
        if ready is not None:
            finished = ready.astimezone(HCMC).date()
            if finished > d["due_date"]:
                late_by = calendar.working_days_between(d["due_date"], finished)
                flagged.append(_flagged(data, d["dossier_id"], _detail(
                    N_("Có kết quả ngày %(finished)s, trễ %(late_by)s ngày làm việc so với hẹn "
                       "%(due)s, không có phiếu xin lỗi"),
                    finished=Day(finished), late_by=late_by, due=Day(d["due_date"]))))
        elif today > d["due_date"] and not _paused_now(data, d["dossier_id"]):
            flagged.append(_flagged(data, d["dossier_id"], _detail(
                N_("Quá hẹn %(due)s (%(late_by)s ngày làm việc), chưa có kết quả và chưa có "
                   "phiếu xin lỗi"),
                due=Day(d["due_date"]),
                late_by=calendar.working_days_between(d["due_date"], today))))
    return RedFlag("late_without_apology", flagged)


def _paused_now(data: ReviewData, dossier_id: str) -> bool:
    return any(p["provided_at"] is None for p in data.pauses_of(dossier_id))


def moved_more_than_once(data: ReviewData) -> RedFlag:
    return RedFlag("moved_more_than_once", [
        _flagged(data, d["dossier_id"], _detail(
            N_("Hẹn trả đã dời %(count)s lần: %(first)s → %(due)s"),
            count=d["extensions"], first=Day(d["first_due_date"]), due=Day(d["due_date"])))
        for d in data.dossiers.values() if d["extensions"] >= 2
    ])


def favours_flag(data: ReviewData, t: Thresholds) -> RedFlag:
    """A few files handled very fast by an officer whose other files of the kind wait long."""
    groups: dict[tuple[str, str], list[tuple[Step, timedelta]]] = defaultdict(list)
    for s in _finished(data.steps):
        if s.officer_id and s.worked is not None:
            groups[(s.officer_id, s.procedure_code)].append((s, s.worked))
    flagged = []
    for (officer, procedure), handled in groups.items():
        if len(handled) < t.min_sample:
            continue
        usual = timedelta(seconds=statistics.median(w.total_seconds() for _, w in handled))
        if usual < t.favour_min_usual:
            continue
        fast = [(s, w) for s, w in handled if w < usual * t.favour_fast_share]
        if 0 < len(fast) <= t.favour_max_share * len(handled):
            flagged += [_flagged(data, s.dossier_id, _detail(
                N_("%(officer)s xử lý trong %(worked)s, trong khi thường mất %(usual)s cho thủ "
                   "tục %(procedure)s (%(fast)s/%(handled)s hồ sơ nhanh bất thường)"),
                officer=PersonRef(officer), worked=OfficeTime(w), usual=OfficeTime(usual),
                procedure=ProcedureRef(procedure), fast=len(fast), handled=len(handled)))
                for s, w in fast]
    return RedFlag("favours", flagged)


def off_route(data: ReviewData) -> RedFlag:
    return RedFlag("off_route", [
        _flagged(data, s.dossier_id, _detail(
            N_("Chuyển %(from_unit)s → %(unit)s ngoài quy trình lúc %(at)s"),
            from_unit=UnitRef(s.from_unit or ""), unit=UnitRef(s.unit_code),
            at=Moment(s.arrived_at)))
        for s in data.steps if s.off_route
    ])


def ping_pong(data: ReviewData, t: Thresholds) -> RedFlag:
    pairs: Counter[tuple[str, frozenset[str]]] = Counter()
    for s in data.steps:
        if s.from_unit:
            pairs[(s.dossier_id, frozenset((s.from_unit, s.unit_code)))] += 1
    return RedFlag("ping_pong", [
        _flagged(data, dossier_id, _detail(
            N_("%(count)s lần chuyển qua lại giữa %(one)s và %(other)s"), count=n,
            one=UnitRef(sorted(units)[0]), other=UnitRef(sorted(units)[-1])))
        for (dossier_id, units), n in pairs.items() if n >= t.ping_pong_transfers
    ])


def long_transit(data: ReviewData, t: Thresholds) -> RedFlag:
    flagged = []
    for s in data.steps:
        transit = s.transit
        if transit is None:
            continue
        if transit > t.long_transit:
            flagged.append(_flagged(data, s.dossier_id, _detail(
                N_("%(transit)s đi đường %(from_unit)s → %(unit)s") if s.accepted_at else
                N_("%(transit)s đi đường %(from_unit)s → %(unit)s — chưa được tiếp nhận"),
                transit=OfficeTime(transit), from_unit=UnitRef(s.from_unit or ""),
                unit=UnitRef(s.unit_code))))
    return RedFlag("long_transit", flagged)


def lost_in_the_post(data: ReviewData, t: Thresholds, calendar: WorkingCalendar) -> RedFlag:
    """A result handed to the post and, working days later, neither delivered nor back at the
    counter. (A parcel the post left at the counter that the counter never received is a
    stay never accepted: ``long_transit`` raises it.)"""
    today = data.now.astimezone(HCMC).date()
    flagged = []
    for d in data.dossiers.values():
        posted = d.get("posted_at")
        if posted is None or d["delivered_at"] is not None or d.get("returned_at") is not None:
            continue
        waited = calendar.working_days_between(posted.astimezone(HCMC).date(), today)
        if waited > t.postal_delivery_working_days:
            flagged.append(_flagged(data, d["dossier_id"], _detail(
                N_("Gửi qua bưu điện ngày %(posted)s; sau %(waited)s ngày làm việc chưa có xác "
                   "nhận đã trao hay trả lại"),
                posted=Day(posted.astimezone(HCMC).date()), waited=waited)))
    return RedFlag("lost_in_the_post", flagged)


def online_waiting(data: ReviewData, t: Thresholds, calendar: WorkingCalendar) -> RedFlag:
    """A counter sitting on online files: a submission answered (received or refused to
    receive) more than the allowance of office time after the citizen sent it, or still
    unanswered past it."""
    clock = OfficeClock(calendar)
    flagged = []
    for d in data.dossiers.values():
        if d["channel"] != "online":
            continue
        decided = d.get("reception_decided_at")
        waited = timedelta(seconds=clock.seconds_between(
            d["received_at"].timestamp(), (decided or data.now).timestamp()))
        if waited <= t.online_reception:
            continue
        flagged.append(_flagged(data, d["dossier_id"], _detail(
            N_("Nộp trực tuyến lúc %(submitted)s; bộ phận một cửa trả lời sau %(waited)s")
            if decided else
            N_("Nộp trực tuyến lúc %(submitted)s; bộ phận một cửa chưa trả lời sau %(waited)s"),
            submitted=Moment(d["received_at"]), waited=OfficeTime(waited))))
    return RedFlag("online_waiting", flagged)


def backdated(data: ReviewData, t: Thresholds) -> RedFlag:
    flagged = []
    for e in data.events:
        limit = t.backdating_delivery if e["kind"] == "Delivered" else t.backdating
        delay = timedelta(seconds=e["recording_delay_s"])
        if delay > limit:
            flagged.append(_flagged(data, e["dossier_id"], _detail(
                N_("%(event)s ghi ngày %(occurred)s nhưng nhập vào hệ thống %(recorded)s (sau "
                   "%(delay)s), bởi %(actor)s"),
                event=EventRef(e["kind"]), occurred=Moment(e["occurred_at"]),
                recorded=Moment(e["recorded_at"]), delay=OfficeTime(delay),
                actor=PersonRef(e["actor_id"]))))
    return RedFlag("backdated", flagged)


def out_of_order(data: ReviewData) -> RedFlag:
    return RedFlag("out_of_order", [
        _flagged(data, e["dossier_id"], _detail(
            N_("%(event)s (bước %(step)s) ghi thời điểm %(occurred)s, sớm hơn bước trước đó "
               "(%(previous)s)"),
            event=EventRef(e["kind"]), step=e["version"], occurred=Moment(e["occurred_at"]),
            previous=Moment(e["previous_occurred_at"])))
        for e in data.out_of_order
    ])


def clock_gaming(data: ReviewData, t: Thresholds, calendar: WorkingCalendar) -> RedFlag:
    flagged = []
    stops = [(p["dossier_id"], p["requested_at"], p["due_date"], "SupplementRequested")
             for p in data.pauses]
    stops += [(e["dossier_id"], e["occurred_at"], data.dossiers[e["dossier_id"]]["due_date"],
               "Rejected") for e in data.events
              if e["kind"] == "Rejected" and e["dossier_id"] in data.dossiers]
    for dossier_id, at, due, what in stops:
        day = at.astimezone(HCMC).date()
        if day <= due and calendar.working_days_between(day, due) < t.clock_gaming_working_days:
            flagged.append(_flagged(data, dossier_id, _detail(
                N_("%(event)s lúc %(at)s, sát hạn trả %(due)s"),
                event=EventRef(what), at=Moment(at), due=Day(due))))
    return RedFlag("clock_gaming", flagged)


def brokers(data: ReviewData, t: Thresholds, suspicious: set[str]) -> RedFlag:
    by_phone: dict[str, list[str]] = defaultdict(list)
    for d in data.dossiers.values():
        by_phone[d["phone_hash"]].append(d["dossier_id"])
    flagged = []
    for ids in by_phone.values():
        hits = [i for i in ids if i in suspicious]
        if len(ids) >= t.broker_dossiers and len(hits) >= t.broker_suspicious:
            flagged += [_flagged(data, i, _detail(
                N_("Cùng một số điện thoại trên %(count)s hồ sơ; %(hits)s hồ sơ trong đó được "
                   "xử lý nhanh bất thường hoặc vượt lượt — hồ sơ này là một trong số đó")
                if i in hits else
                N_("Cùng một số điện thoại trên %(count)s hồ sơ; %(hits)s hồ sơ trong đó được "
                   "xử lý nhanh bất thường hoặc vượt lượt"),
                count=len(ids), hits=len(hits)))
                for i in ids]
    return RedFlag("brokers", flagged)


def off_hours(data: ReviewData, t: Thresholds) -> RedFlag:
    flagged, counts, units = [], Counter[str](), {}
    for e in data.events:
        if not e["off_hours"] or e["kind"] in ("Delivered", "Rated"):
            continue  # results reach citizens whenever they are home; citizens rate any time
        dossier = data.dossiers.get(e["dossier_id"])
        if e["kind"] == "Received" and dossier and dossier["channel"] == "online":
            continue  # citizens file online at any hour
        counts[e["actor_id"]] += 1
        units[e["actor_id"]] = e["actor_unit"]
        flagged.append(_flagged(data, e["dossier_id"], _detail(
            N_("%(event)s lúc %(at)s, ngoài giờ làm việc, bởi %(actor)s"),
            event=EventRef(e["kind"]), at=Moment(e["occurred_at"]),
            actor=PersonRef(e["actor_id"]))))
    officers = [OfficerRate(o, units[o], n, n, None) for o, n in counts.most_common()]
    return RedFlag("off_hours", flagged, officers)


def bad_ratings(data: ReviewData) -> RedFlag:
    flagged = []
    for d in data.dossiers.values():
        came_back, unofficial = d.get("came_back"), d.get("unofficial_request")
        if came_back and unofficial:
            text = N_("Công dân đánh giá: phải đi lại nhiều lần, bị đòi hỏi ngoài quy định")
        elif came_back:
            text = N_("Công dân đánh giá: phải đi lại nhiều lần")
        elif unofficial:
            text = N_("Công dân đánh giá: bị đòi hỏi ngoài quy định")
        else:
            continue
        flagged.append(_flagged(data, d["dossier_id"], _detail(text)))
    return RedFlag("bad_ratings", flagged)


def fee_differs(data: ReviewData) -> RedFlag:
    """A fee taken at the counter that is not what was owed: more (an unofficial charge?)
    or less (an exemption nobody recorded?). Online payments are checked by the gateway."""
    flagged = [
        _flagged(data, p["dossier_id"], _detail(
            N_("Thu %(paid)s tại quầy khi số phải nộp là %(owed)s"),
            paid=Money(int(p["amount_vnd"])), owed=Money(int(p["owed_vnd"]))))
        for p in data.payments
        if p["kind"] == "payment" and p["method"] == "cash"
        and p["owed_vnd"] is not None and int(p["amount_vnd"]) != int(p["owed_vnd"])]
    return RedFlag("fee_differs", flagged)


def fee_after_result(data: ReviewData) -> RedFlag:
    """A fee recorded only once the decision was made: money taken for the result?"""
    flagged = [
        _flagged(data, p["dossier_id"], _detail(
            N_("Ghi nhận nộp %(paid)s lúc %(at)s, sau khi hồ sơ đã có kết quả"),
            paid=Money(int(p["amount_vnd"])), at=Moment(p["occurred_at"])))
        for p in data.payments if p["kind"] == "payment" and p["after_result"]]
    return RedFlag("fee_after_result", flagged)


def with_thresholds(base: Thresholds, **overrides: Any) -> Thresholds:
    return replace(base, **overrides)


def reading_without_a_part(data: ReviewData) -> RedFlag:
    counts: Counter[str] = Counter()
    units: dict[str, str] = {}
    flagged = []
    for r in data.readings_without_a_part:
        counts[r["viewer_id"]] += 1
        units[r["viewer_id"]] = r["viewer_unit"]
        flagged.append(FlaggedDossier(r["dossier_id"], r["code"], _detail(
            N_("%(viewer)s (%(unit)s) mở hồ sơ lúc %(at)s dù đơn vị mình chưa từng giữ hồ sơ "
               "và chưa thao tác gì trên đó"),
            viewer=PersonRef(r["viewer_id"]), unit=UnitRef(r["viewer_unit"]),
            at=Moment(r["opened_at"]))))
    return RedFlag("reading_without_a_part", flagged,
                   [OfficerRate(o, units[o], n, n, None) for o, n in counts.most_common()])


# ---- flags taken up as cases (domain/flag_case.py) -----------------------------------------

def dossier_facts(flag_key: str, dossier: FlaggedDossier) -> str:
    """The facts a dossier's flag stands on: its explanation's discrete values (units,
    people, events, dates, counts). Measures that grow with the clock (office time, ratios)
    are left out, or a file closed as explained while still waiting would be raised again
    on every visit."""
    discrete = [f"{name}={_plain(value)}" for name, value in dossier.detail.values
                if not isinstance(value, OfficeTime | Times)]
    return fingerprint("|".join([flag_key, dossier.dossier_id, dossier.detail.text,
                                 *discrete]))


def officer_facts(flag_key: str, officer: OfficerRate) -> str:
    """The facts an officer's flag stands on: their flagged files out of their sample."""
    return fingerprint(f"{flag_key}|{officer.officer_id}|{officer.flagged}/{officer.sample}")


def without_settled(flags: list[RedFlag], settled: set[tuple[str, str, str, str]]
                    ) -> list[RedFlag]:
    """The flags less those whose case was closed on the very same facts; a changed fact
    (another fingerprint) raises the flag again. Only the lines of a subject with a closed
    case have their facts computed."""
    closed: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for flag_key, subject, subject_id, facts in settled:
        closed[(flag_key, subject, subject_id)].add(facts)
    if not closed:
        return flags
    dossier, officer = Subject.DOSSIER.value, Subject.OFFICER.value
    return [replace(
        f,
        dossiers=[x for x in f.dossiers
                  if (f.key, dossier, x.dossier_id) not in closed
                  or dossier_facts(f.key, x) not in closed[(f.key, dossier, x.dossier_id)]],
        officers=[o for o in f.officers
                  if (f.key, officer, o.officer_id) not in closed
                  or officer_facts(f.key, o) not in closed[(f.key, officer, o.officer_id)]])
        for f in flags]
