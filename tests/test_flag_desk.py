"""The desk's figures (projections/flag_desk.py): counts, the previous period, rankings only
from the minimum sample, and the files' filters."""

from __future__ import annotations

from datetime import date

from projections.flag_desk import (
    FileFacts,
    FileFilter,
    files_of,
    flag_count,
    previous_period,
    rankings,
)
from projections.red_flags import Detail, FlaggedDossier, OfficerRate, Period, RedFlag


def facts(unit: str, *officers: str, procedure: str = "P1") -> FileFacts:
    return FileFacts(procedure, frozenset({unit}), frozenset(officers))


FILES = {f"d{n}": facts("A" if n < 6 else "B", "lan" if n < 4 else "minh") for n in range(10)}


def flagged(*ids: str) -> RedFlag:
    return RedFlag("stuck", [FlaggedDossier(i, i, Detail("x")) for i in ids])


def test_the_previous_period_has_the_same_length_just_before() -> None:
    period = Period(date(2026, 9, 1), date(2026, 12, 1), "A")
    assert previous_period(period) == Period(date(2026, 6, 2), date(2026, 9, 1), "A")


def test_a_flag_counts_distinct_files_or_comparable_officers() -> None:
    twice = RedFlag("off_route", [FlaggedDossier("d0", "c", Detail("a")),
                                  FlaggedDossier("d0", "c", Detail("b")),
                                  FlaggedDossier("d7", "c", Detail("a"))])
    assert flag_count(twice, FILES, None) == 2
    assert flag_count(twice, FILES, "B") == 1  # only the unit's files
    rates = RedFlag("supplement_rates", [], [OfficerRate("lan", "A", 3, 30, 0.1),
                                             OfficerRate("minh", "A", 1, 5, None)])
    assert flag_count(rates, FILES, None) == 1  # a rate too small to compare is not counted


def test_rankings_rank_only_from_the_minimum_sample_with_n() -> None:
    units, officers = rankings([flagged("d0", "d1", "d6")], FILES, min_sample=5)
    assert [(r.key, r.flagged, r.sample, r.rate) for r in units] == [
        ("A", 2, 6, 2 / 6), ("B", 1, 4, None)]  # B: 4 files, below 5, not ranked
    assert [(r.key, r.flagged, r.sample, r.rate) for r in officers] == [
        ("minh", 1, 6, 1 / 6), ("lan", 2, 4, None)]
    # A file raised by two flags counts once.
    units_twice, _ = rankings([flagged("d0"), flagged("d0")], FILES, min_sample=1)
    assert [(r.key, r.flagged) for r in units_twice] == [("A", 1)]


def test_a_flags_files_are_filtered_by_unit_procedure_and_officer() -> None:
    files = FILES | {"d10": facts("B", "lan", procedure="P2")}
    flag = flagged("d0", "d6", "d10")
    ids = lambda chosen: [d.dossier_id for d in files_of(flag, files, chosen)]  # noqa: E731
    assert ids(FileFilter()) == ["d0", "d6", "d10"]
    assert ids(FileFilter(unit_code="B")) == ["d6", "d10"]
    assert ids(FileFilter(procedure_code="P2")) == ["d10"]
    assert ids(FileFilter(officer_id="lan")) == ["d0", "d10"]
    assert ids(FileFilter(unit_code="B", officer_id="minh")) == ["d6"]


def test_the_desk_serves_its_last_result_while_the_next_is_computed() -> None:
    import threading
    from datetime import UTC, datetime
    from typing import Any

    from web.red_flags import DeskCache

    minute = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    results: list[Any] = []
    release = threading.Event()

    def compute(n: int, wait: bool = False) -> Any:
        def run() -> Any:
            if wait:
                assert release.wait(10)
            results.append(n)
            return n
        return run

    cache = DeskCache()
    first = cache.get("k", 1, minute, compute(1), max_age=0.0)
    assert first.data == 1  # nothing yet: computed on the request
    assert cache.get("k", 1, minute, compute(99), max_age=60).data == 1  # nothing moved
    # The read model moved and the result is old (max_age 0 here: old at once) …
    assert cache.get("k", 2, minute, compute(2), max_age=0.0).data == 2  # … computed at once
    # With a max_age, an old result is served while one thread computes the next.
    cache._items["k"] = type(first)(2, minute, 0.0, 2)  # computed long ago
    served = cache.get("k", 3, minute, compute(3, wait=True), max_age=60)
    assert served.data == 2
    assert cache.get("k", 3, minute, compute(4), max_age=60).data == 2  # one refresh at a time
    release.set()
    for _ in range(100):
        if cache._items["k"].data == 3:
            break
        threading.Event().wait(0.05)
    assert cache.get("k", 3, minute, compute(5), max_age=60).data == 3
    assert results == [1, 2, 3]
