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
