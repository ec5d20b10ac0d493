"""The inspector's desk: the red flags of a period summed up — each flag's count against the
previous period of the same length, and the units and officers whose files are flagged most,
ranked only on a sample of at least ``min_sample`` files — and a flag's files filtered by unit,
procedure and officer.

The flags themselves are computed in :mod:`projections.red_flags`; a flag closed as a case on
the same facts is left out before anything here counts it (``without_settled``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from domain.working_days import WorkingCalendar
from projections.readings import ReadingView
from projections.red_flags import (
    FlaggedDossier,
    Period,
    RedFlag,
    ReviewData,
    Thresholds,
    red_flags,
)
from projections.review import ReviewView


@dataclass(frozen=True)
class FileFacts:
    """Where and by whom a file received in the period was handled: what the desk's filters
    and rankings go by."""

    procedure_code: str
    units: frozenset[str]
    officers: frozenset[str]


@dataclass(frozen=True)
class DeskData:
    """A period's flags and the previous period's (both before settled cases are left out),
    and the facts of every file received in the period."""

    period: Period
    previous_period: Period
    flags: list[RedFlag]
    previous: list[RedFlag]
    files: dict[str, FileFacts]
    previous_files: dict[str, FileFacts]

    @property
    def reviewed(self) -> int:
        return len(self.files)


def previous_period(period: Period) -> Period:
    """The period of the same length just before."""
    length = period.end - period.start
    return Period(period.start - length, period.start, period.unit_code)


def _file_facts(data: ReviewData, unit_chosen: bool) -> dict[str, FileFacts]:
    units: dict[str, set[str]] = defaultdict(set)
    officers: dict[str, set[str]] = defaultdict(set)
    for s in data.steps:
        units[s.dossier_id].add(s.unit_code)
        officers[s.dossier_id].update(o for o in (s.officer_id, s.accepted_by, s.left_by) if o)
    # With a unit chosen, the steps are that unit's: the files that never stayed there are
    # not its files.
    ids = units.keys() if unit_chosen else data.dossiers.keys()
    return {
        dossier_id: FileFacts(str(data.dossiers[dossier_id]["procedure_code"]),
                              frozenset(units[dossier_id]), frozenset(officers[dossier_id]))
        for dossier_id in ids if dossier_id in data.dossiers
    }


def load_desk(view: ReviewView, period: Period, now: datetime, thresholds: Thresholds,
              calendar: WorkingCalendar, readings: ReadingView | None = None) -> DeskData:
    """Both periods' flags from the review read model: the work of a desk page, done once
    (the pages share it for a few minutes, like the analytics)."""
    data = ReviewData.load(view, period, now, calendar, readings)
    before = previous_period(period)
    earlier = ReviewData.load(view, before, now, calendar, readings)
    unit_chosen = period.unit_code is not None
    return DeskData(period, before, red_flags(data, thresholds, calendar),
                    red_flags(earlier, thresholds, calendar), _file_facts(data, unit_chosen),
                    _file_facts(earlier, unit_chosen))


def flag_count(flag: RedFlag, files: dict[str, FileFacts], unit_code: str | None) -> int:
    """A flag's count: its distinct files (of the unit, when one is chosen), or for a flag
    on officers' rates alone, the officers whose rate could be compared."""
    if flag.dossiers:
        return len({d.dossier_id for d in files_of(flag, files, FileFilter(unit_code))})
    return sum(1 for o in flag.officers
               if o.rate is not None and unit_code in (None, o.unit_code))


@dataclass(frozen=True)
class Rate:
    """A unit's or an officer's flagged files out of the files they handled; ``rate`` is
    None when the sample is below ``min_sample`` (shown with its n, never ranked)."""

    key: str
    flagged: int
    sample: int
    rate: float | None


def _ranked(flagged: dict[str, int], sample: dict[str, int], min_sample: int) -> list[Rate]:
    rates = [Rate(k, flagged.get(k, 0), n, flagged.get(k, 0) / n if n >= min_sample else None)
             for k, n in sample.items() if flagged.get(k)]
    return sorted(rates, key=lambda r: (r.rate is None, -(r.rate or 0), -r.flagged, r.key))


def rankings(flags: list[RedFlag], files: dict[str, FileFacts],
             min_sample: int) -> tuple[list[Rate], list[Rate]]:
    """Units, then officers, by the share of their files some flag raised: each file counts
    once however many flags it raised, for every unit it stayed at and every officer who
    received, accepted or moved it on."""
    flagged_ids = {d.dossier_id for f in flags for d in f.dossiers} & files.keys()
    unit_sample: dict[str, int] = defaultdict(int)
    unit_flagged: dict[str, int] = defaultdict(int)
    officer_sample: dict[str, int] = defaultdict(int)
    officer_flagged: dict[str, int] = defaultdict(int)
    for dossier_id, facts in files.items():
        hit = dossier_id in flagged_ids
        for unit in facts.units:
            unit_sample[unit] += 1
            unit_flagged[unit] += hit
        for officer in facts.officers:
            officer_sample[officer] += 1
            officer_flagged[officer] += hit
    return (_ranked(unit_flagged, unit_sample, min_sample),
            _ranked(officer_flagged, officer_sample, min_sample))


@dataclass(frozen=True)
class FileFilter:
    unit_code: str | None = None
    procedure_code: str | None = None
    officer_id: str | None = None

    def keeps(self, facts: FileFacts | None) -> bool:
        if not (self.unit_code or self.procedure_code or self.officer_id):
            return True
        if facts is None:
            return False
        return ((not self.unit_code or self.unit_code in facts.units)
                and (not self.procedure_code or self.procedure_code == facts.procedure_code)
                and (not self.officer_id or self.officer_id in facts.officers))


def files_of(flag: RedFlag, files: dict[str, FileFacts],
             chosen: FileFilter) -> list[FlaggedDossier]:
    """A flag's files that the filter keeps, in the flag's order."""
    return [d for d in flag.dossiers if chosen.keeps(files.get(d.dossier_id))]
