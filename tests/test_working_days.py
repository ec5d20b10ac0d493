from datetime import UTC, date, datetime

from domain.working_days import WorkingCalendar

calendar = WorkingCalendar()


def test_weekend_is_skipped() -> None:
    # Friday + 1 working day = Monday.
    assert calendar.add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)


def test_tet_2026_is_skipped() -> None:
    # Tết holidays 16–20 Feb 2026, then a weekend: Thursday 12 Feb + 3 = Tuesday 24 Feb.
    assert calendar.add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)
    assert not calendar.is_working_day(date(2026, 2, 17))
    assert calendar.holiday_name(date(2026, 2, 17)) is not None


def test_tet_2027_is_skipped() -> None:
    # Tết 2027 runs 4–10 Feb (Thursday to Wednesday): Wednesday 3 Feb + 1 = Thursday 11 Feb.
    assert calendar.add_working_days(date(2027, 2, 3), 1) == date(2027, 2, 11)


def test_swapped_working_saturday_counts() -> None:
    # Saturday 22 Aug 2026 is worked to make Monday 31 Aug a day off.
    assert calendar.is_working_day(date(2026, 8, 22))
    assert not calendar.is_working_day(date(2026, 8, 31))


def test_receipt_on_a_holiday_counts_from_the_next_working_day() -> None:
    # 24 Nov 2026 is Vietnam Culture Day (a day off): 1 working day later is 25 Nov.
    received = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert calendar.due_date(received, 1) == date(2026, 11, 25)


def test_local_date_decides_not_utc() -> None:
    # 18:30 UTC Friday is 01:30 Saturday in Ho Chi Minh City: counting starts from Saturday.
    received = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    assert calendar.due_date(received, 1) == date(2026, 11, 30)


def test_government_override_wins() -> None:
    extra_day_off = WorkingCalendar(overrides={date(2026, 11, 30): False})
    assert extra_day_off.add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)
