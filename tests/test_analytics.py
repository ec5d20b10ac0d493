"""Handling-time analytics and the Decision 766 indices: histories in, exact figures out.

Histories go through the application (with times in the past, as a late report would), the
review read model catches up, and the figures are computed from its rows — on both stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.application import HosoApplication
from domain.working_days import HCMC, WorkingCalendar
from projections.analytics import (
    Analytics,
    Backlog,
    HandlingRow,
    OfficeClock,
    OfficialRow,
    OfficialVerdict,
    Period,
    Rate,
    ReviewRows,
    Spread,
    analyse,
    nearest_rank,
    official_verdict,
    public_statistics,
    ranked,
)
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, PROCEDURE, sign

CALENDAR = WorkingCalendar()


def local(day: int, month: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=HCMC)


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


class Walk:
    """One dossier of the criminal-record procedure, moved at the times a test chooses."""

    def __init__(self, app: HosoApplication, received: datetime) -> None:
        self.app = app
        self.last = 0  # the log position of the last command, once one is kept
        self.id: UUID = app.receive(actor_id="tiepnhan", procedure_code=PROCEDURE,
                                    documents=["Tờ khai"], occurred_at=received,
                                    **APPLICANT).dossier_id

    def to(self, sender: str, unit: str, receiver: str, sent: datetime,
           accepted: datetime) -> Walk:
        self.app.transfer(self.id, expected_version=None, actor_id=sender, to_unit=unit,
                          occurred_at=sent)
        self.app.accept_transfer(self.id, expected_version=None, actor_id=receiver,
                                 occurred_at=accepted)
        return self

    def supplement(self, requested: datetime, provided: datetime | None,
                   actor: str = "hctp", justification: str = "") -> Walk:
        self.app.request_supplement(self.id, expected_version=None, actor_id=actor,
                                    missing_items=["Bản sao CCCD có chứng thực"],
                                    reason="Bản sao chưa chứng thực",
                                    justification=justification, occurred_at=requested)
        if provided is not None:
            self.app.provide_supplement(self.id, expected_version=None, actor_id=actor,
                                        documents=["Bản sao có chứng thực"], occurred_at=provided)
        return self

    def sign(self, signed: datetime) -> Walk:
        self.to("hctp", "STP-BGD", "gd.stp", signed, signed)
        self.last = sign(self.app, self.id, decision_number="1/QĐ",
                         decision_title="Phiếu lý lịch tư pháp",
                         occurred_at=signed).notification_id
        return self

    def delivered_and_rated(self, delivered: datetime, stars: int) -> Walk:
        """Back to the counter, handed to the citizen, who rates the service an hour later."""
        self.to("gd.stp", "TTHCC", "tiepnhan", delivered, delivered)
        self.app.dispatch(self.id, expected_version=None, actor_id="tiepnhan",
                          method="counter_pickup", occurred_at=delivered)
        self.app.deliver(self.id, expected_version=None, actor_id="tiepnhan",
                         recipient_name="Trần Thị Bích Ngọc", occurred_at=delivered)
        self.app.rate(self.app.dossier(self.id).tracking_token, self.id, satisfaction=stars,
                      came_back=False, unofficial_request=False, comment="",
                      occurred_at=delivered + timedelta(hours=1))
        return self

    def at_specialist(self, accepted: datetime) -> Walk:
        return self.to("tiepnhan", "STP-HCTP", "hctp", accepted, accepted)


def figures(models: ReadModels, period: Period, now: datetime, unit: str | None = None,
            min_sample: int = 1) -> Analytics:
    models.catch_up()
    rows = models.review.analytics_rows(start=period.start_at, end=period.end_at,
                                        as_of=min(now, period.end_at), unit=unit)
    return analyse(rows, period=period, now=now, unit=unit, min_sample=min_sample)


def one(rows: tuple[Any, ...], **key: Any) -> Any:
    [found] = [r for r in rows if all(getattr(r, k) == v for k, v in key.items())]
    return found


# ---- pure arithmetic -----------------------------------------------------------------------

def test_office_time_skips_nights_lunch_weekends_and_holidays() -> None:
    clock = OfficeClock(CALENDAR)
    assert clock.hours(local(23, 11, 9), local(23, 11, 14)) == 3.5  # lunch 11:30–13:00
    assert clock.hours(local(27, 11, 16), local(30, 11, 8)) == 1.5  # Friday 16:00 to Monday
    assert clock.hours(local(23, 11, 18), local(23, 11, 20)) == 0.0  # all after hours
    # 24 November is Vietnamese Culture Day, a day off since 2026.
    assert clock.hours(local(23, 11, 17), local(25, 11, 8, 30)) == 1.0
    # 2 September (National Day) is a public holiday: only the 3rd counts.
    assert clock.hours(datetime(2026, 9, 1, 17, tzinfo=HCMC),
                       datetime(2026, 9, 3, 17, tzinfo=HCMC)) == 8.0
    # An earlier start than any seen before still measures right.
    assert clock.hours(datetime(2024, 11, 25, 9, tzinfo=HCMC),
                       datetime(2024, 11, 25, 10, tzinfo=HCMC)) == 1.0


def test_percentile_is_the_nearest_observed_rank() -> None:
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9) == 10
    assert nearest_rank([5.0], 0.9) == 5.0 and nearest_rank([], 0.9) is None


def test_rows_below_the_minimum_sample_are_listed_but_never_ranked() -> None:
    def row(unit: str, hits: int, n: int) -> HandlingRow:
        return HandlingRow(None, unit, None, None, Spread(), Rate(hits, n), Backlog())

    rows = [row("A", 18, 20), row("B", 19, 20), row("C", 3, 3), row("D", 36, 40)]
    out = ranked(rows, lambda r: r.on_time, 20, lambda r: r.unit_code)
    # Equal shares share a rank; the larger sample is listed first.
    assert [(r.unit_code, r.rank) for r in out] == [("B", 1), ("D", 2), ("A", 2), ("C", None)]


# ---- from event histories ------------------------------------------------------------------
# October 2026 has no public holiday on a weekday: Monday 5 October starts these histories.

def test_step_medians_percentiles_and_on_time_shares(app: HosoApplication, models: ReadModels,
                                                     clock: FakeClock) -> None:
    clock.now = local(16, 10, 10)
    monday_9 = local(5, 10, 9)
    # Office hours at the specialist desk: 1, 2, 3.5 (over lunch), 7.5 (overnight), 24, and
    # 64 — past the step's 7 working days (Wednesday 14 October, 17:00), so late.
    for left in (local(5, 10, 10), local(5, 10, 11), local(5, 10, 14), local(6, 10, 8, 30),
                 local(8, 10, 9), local(15, 10, 9)):
        Walk(app, local(5, 10, 8)).at_specialist(monday_9).to(
            "hctp", "STP-BGD", "gd.stp", left, left)
    # 10 office hours at the desk, 8 of them waiting for the citizen: 2 hours of handling.
    Walk(app, local(5, 10, 8)).at_specialist(monday_9).supplement(
        local(5, 10, 10), local(6, 10, 10)).to("hctp", "STP-BGD", "gd.stp",
                                               local(6, 10, 11), local(6, 10, 11))
    period = Period(date(2026, 10, 5), date(2026, 10, 17))
    a = figures(models, period, clock.now)

    desk = one(a.steps, unit_code="STP-HCTP", procedure_code=PROCEDURE, route_position=1)
    assert desk.time.n == 7
    assert desk.time.median_hours == 3.5
    assert desk.time.p90_hours == 64.0
    assert desk.time.mean_hours == pytest.approx((1 + 2 + 2 + 3.5 + 7.5 + 24 + 64) / 7)
    # The supplement wait moved the step's due time on by one working day, so the paused
    # dossier is on time; only the 64-hour stay is late.
    assert desk.on_time == Rate(6, 7)
    assert one(a.units, unit_code="STP-HCTP").on_time == Rate(6, 7)
    officer = one(a.officers, officer_id="hctp")
    assert (officer.time.median_hours, officer.on_time) == (3.5, Rate(6, 7))
    assert one(a.distributions, unit_code="STP-HCTP").counts == (0, 1, 3, 1, 0, 1, 1, 0)
    # In the first week the counter's 7 stays and 6 of the specialist's ended, all on time;
    # the late one ended the week after.
    assert one(a.weeks, week_start=date(2026, 10, 5)).steps == Rate(13, 13)
    assert one(a.weeks, week_start=date(2026, 10, 12)).steps == Rate(0, 1)
    # Every file now waits at the signing desk, opened by the signing officer.
    signing = one(a.units, unit_code="STP-BGD")
    assert signing.completed == 0 and signing.backlog.total == 7
    assert one(a.officers, officer_id="gd.stp").backlog.total == 7

    # With the unit filter, only that unit's stays count.
    only = figures(models, period, clock.now, unit="STP-HCTP")
    assert [r.unit_code for r in only.units] == ["STP-HCTP"]
    assert {r.officer_id for r in only.officers} == {"hctp"}


def test_the_review_row_moves_the_step_due_time_with_the_pause(
        app: HosoApplication, models: ReadModels, clock: FakeClock) -> None:
    clock.now = local(16, 10, 10)
    walk = Walk(app, local(5, 10, 8)).at_specialist(local(5, 10, 9)).supplement(
        local(5, 10, 10), local(6, 10, 10))
    models.catch_up()
    [step] = models.review.rows("review_step", "dossier_id = %(d)s AND left_at IS NULL",
                                {"d": str(walk.id)})
    assert step["step_due_at"] == app.dossier(walk.id).step_due_at == local(15, 10, 17)


def test_decision_766_counts_two_supplements_and_extensions_as_late(
        app: HosoApplication, models: ReadModels, clock: FakeClock) -> None:
    clock.now = local(23, 10, 10)
    received = local(5, 10, 8)  # 10 working days: first appointment Monday 19 October
    # Two supplement requests: hoso on time (its due date moved twice), 766 late.
    twice = Walk(app, received).at_specialist(local(5, 10, 9))
    twice.supplement(local(6, 10, 9), local(7, 10, 9)).supplement(
        local(7, 10, 10), local(8, 10, 9), justification="Bản sao bổ sung bị mờ")
    twice.sign(local(9, 10, 9))
    # Extended with an apology to 23 October, signed on the 21st: on time for hoso (the
    # apologised date), late for 766 (after the first appointment).
    extended = Walk(app, received).at_specialist(local(5, 10, 9))
    app.extend(extended.id, expected_version=None, actor_id="hctp",
               new_due_date=date(2026, 10, 23), reason="Cần xác minh thêm",
               apology="Xin lỗi ông/bà vì chậm trễ.", occurred_at=local(16, 10, 9))
    extended.sign(local(21, 10, 9))
    # On time for both.
    Walk(app, received).at_specialist(local(5, 10, 9)).sign(local(8, 10, 10))
    # Seven working days waiting for documents move the appointment to 28 October; a result
    # on the 21st is after the first appointment but on time for both.
    waited = Walk(app, received).at_specialist(local(5, 10, 9))
    waited.supplement(local(6, 10, 9), local(15, 10, 9)).sign(local(21, 10, 9))
    # Not resolved: not counted.
    Walk(app, received).at_specialist(local(5, 10, 9))

    a = figures(models, Period(date(2026, 10, 5), date(2026, 10, 24)), clock.now)
    [row] = a.official_by_procedure
    assert isinstance(row, OfficialRow)
    assert row.resolved == 4
    assert row.on_time_766 == Rate(2, 4)
    assert row.on_time_hoso == Rate(4, 4)
    # Working days after receipt up to the result, less the days waiting: 2 + 12 + 3 + 5.
    assert row.average_days_766 == 5.5
    [by_unit] = a.official_by_unit
    assert (by_unit.unit_code, by_unit.on_time_766) == ("TTHCC", Rate(2, 4))
    # hoso's own procedure line agrees with the hoso column of the official table.
    assert one(a.procedures, procedure_code=PROCEDURE).on_time == Rate(4, 4)

    verdicts = {r["dossier_id"]: official_verdict(r, CALENDAR)
                for r in models.review.rows("review_dossier")}
    assert verdicts[str(extended.id)] == OfficialVerdict(date(2026, 10, 19), False, 12)
    assert verdicts[str(waited.id)] == OfficialVerdict(date(2026, 10, 28), True, 5)
    assert verdicts[str(twice.id)] == OfficialVerdict(date(2026, 10, 21), False, 2)


def test_backlog_by_age_with_waits_counted_apart(app: HosoApplication, models: ReadModels,
                                                 clock: FakeClock) -> None:
    clock.now = local(16, 10, 10)  # Friday
    Walk(app, local(16, 10, 8))  # 2 office hours: under a day
    Walk(app, local(14, 10, 9))  # 17 hours: 2.1 days
    Walk(app, local(13, 10, 9))  # 25 hours: 3.1 days
    Walk(app, local(5, 10, 9))  # 73 hours: 9.1 days
    Walk(app, local(14, 9, 9))  # a month: over 10 days, and overdue (due 28 September)
    Walk(app, local(5, 10, 9)).supplement(local(6, 10, 9), None, actor="tiepnhan")
    Walk(app, local(5, 10, 8)).at_specialist(local(5, 10, 9)).sign(local(6, 10, 9))
    period = Period(date(2026, 9, 1), date(2026, 10, 17))
    a = figures(models, period, clock.now)

    expected = Backlog(by_age=(1, 1, 1, 1, 1), awaiting_supplement=1, overdue=1)
    assert a.backlog == expected
    assert one(a.procedures, procedure_code=PROCEDURE).backlog == expected
    # The same files sit at the counter's desk, opened by the clerk who received them; the
    # counter's step (4 office hours) is overdue for all but this morning's.
    at_counter = Backlog(by_age=(1, 1, 1, 1, 1), awaiting_supplement=1, overdue=4)
    assert one(a.units, unit_code="TTHCC").backlog == at_counter
    assert one(a.officers, officer_id="tiepnhan").backlog == at_counter

    # At the end of an earlier period the month-old file was 46.5 office hours old, on time.
    earlier = figures(models, Period(date(2026, 9, 1), date(2026, 9, 22)), clock.now)
    assert earlier.backlog == Backlog(by_age=(0, 0, 0, 1, 0), awaiting_supplement=0, overdue=0)

    # None of the open files reached the specialists.
    assert figures(models, period, clock.now, unit="STP-HCTP").backlog == Backlog()


def test_public_statistics_by_month(app: HosoApplication, models: ReadModels,
                                    clock: FakeClock) -> None:
    clock.now = local(11, 11, 10)
    # Resolved in October, rated in November.
    Walk(app, local(5, 10, 8)).at_specialist(local(5, 10, 9)).sign(
        local(8, 10, 10)).delivered_and_rated(local(3, 11, 9), 5)
    twice = Walk(app, local(5, 10, 8)).at_specialist(local(5, 10, 9))
    twice.supplement(local(6, 10, 9), local(7, 10, 9)).supplement(
        local(7, 10, 10), local(8, 10, 9), justification="Bản sao bổ sung bị mờ")
    twice.sign(local(2, 11, 9)).delivered_and_rated(local(3, 11, 9), 2)
    Walk(app, local(2, 11, 8))
    models.catch_up()

    stats = public_statistics(models.review.public_rows(), calendar=CALENDAR, min_sample=2)
    october = one(stats.rows, month=date(2026, 10, 1))
    assert (october.unit_code, october.procedure_code) == ("TTHCC", PROCEDURE)
    assert (october.received, october.resolved, october.on_time_766) == (2, 1, Rate(1, 1))
    assert october.average_days_766 == 3.0 and october.small_sample
    assert october.satisfaction.n == 0
    november = one(stats.rows, month=date(2026, 11, 1))
    assert (november.received, november.resolved, november.on_time_766) == (1, 1, Rate(0, 1))
    assert (november.satisfaction.n, november.satisfaction.average) == (2, 3.5)
    assert [t.month for t in stats.totals] == [date(2026, 10, 1), date(2026, 11, 1)]
    assert public_statistics(models.review.public_rows(), calendar=CALENDAR,
                             since=date(2026, 11, 1)).totals[0].received == 1


def test_analysis_of_no_rows_is_empty() -> None:
    period = Period(date(2026, 11, 1), date(2026, 12, 1))
    a = analyse(ReviewRows([], [], []), period=period, now=local(4, 12, 10))
    assert (a.procedures, a.units, a.steps, a.officers, a.official_by_procedure) == (
        (), (), (), (), ())
    # Sunday 1 November belongs to the week of Monday 26 October.
    assert [w.week_start for w in a.weeks][::5] == [date(2026, 10, 26), date(2026, 11, 30)]
    assert a.backlog.total == 0
    assert a.as_of == period.end_at
