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


def test_receipt_on_a_holiday_counts_as_received_the_next_working_day() -> None:
    # 24 Nov 2026 is Vietnam Culture Day: treated as received on 25 Nov, so 1 day → 26 Nov.
    due = calendar.due_date(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), 1)
    assert (due.counted_from, due.due) == (date(2026, 11, 25), date(2026, 11, 26))


def test_local_date_decides_not_utc() -> None:
    # 18:30 UTC Friday is 01:30 Saturday in Ho Chi Minh City: treated as received Monday.
    due = calendar.due_date(datetime(2026, 11, 27, 18, 30, tzinfo=UTC), 1)
    assert (due.received_on, due.counted_from, due.due) == (
        date(2026, 11, 28), date(2026, 11, 30), date(2026, 12, 1))


def test_cutoff_moves_the_count_to_the_next_working_day() -> None:
    from datetime import time

    from domain.working_days import HCMC

    morning = calendar.due_date(datetime(2026, 11, 26, 14, 59, tzinfo=HCMC), 1, time(15))
    evening = calendar.due_date(datetime(2026, 11, 26, 15, 1, tzinfo=HCMC), 1, time(15))
    assert (morning.due, morning.after_cutoff) == (date(2026, 11, 27), False)
    # After 15:00 Thursday → counted from Friday → due Monday (weekend skipped and listed).
    assert (evening.due, evening.after_cutoff) == (date(2026, 11, 30), True)
    assert [d for d, _ in evening.days_off] == [date(2026, 11, 28), date(2026, 11, 29)]


def test_working_hours_skip_lunch_nights_and_holidays() -> None:
    from domain.working_days import HCMC

    # Monday 23 Nov 16:00 + 4 office hours: 1 h that day, 24 Nov is a holiday, then
    # 07:30–10:30 on Wednesday 25 Nov.
    end = calendar.add_working_hours(datetime(2026, 11, 23, 16, 0, tzinfo=HCMC), 4)
    assert end == datetime(2026, 11, 25, 10, 30, tzinfo=HCMC)
    # 11:00 + 1 h: 30 min before lunch, 30 min after 13:00.
    assert calendar.add_working_hours(datetime(2026, 11, 25, 11, 0, tzinfo=HCMC), 1) == (
        datetime(2026, 11, 25, 13, 30, tzinfo=HCMC))


def test_government_override_wins() -> None:
    extra_day_off = WorkingCalendar(overrides={date(2026, 11, 30): False})
    assert extra_day_off.add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)
