"""What inspectors read: a dossier's events with the time each step took, its state at any
recorded moment, and the processing control slip — all computed from the event store.

"A moment" means *recording* time (the library's event ``timestamp``): the state as of a
moment is what hoso's record showed at that moment. A report entered late (``occurred_at``
in the past) therefore appears only from when it was recorded, which is what an audit must
see; business times are shown beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.dossier import Channel, DispatchMethod, Dossier, Stage
from domain.errors import AccessDenied, DomainError
from domain.office_time import OfficeClock
from domain.organisation import Directory, Staff
from domain.working_days import HCMC, WorkingCalendar

# A step measured in working days is due at the end of an 8-hour office day.
OFFICE_HOURS_PER_DAY = 8.0

# A moment to rebuild the state at: a recording time, or a position in the dossier's
# history (the number of events recorded by then: the slider).
Moment = datetime | int


def require_reviewer(staff: Staff) -> None:
    """Audit trails are for those who oversee: inspectors, and administrators (the same
    ``may_review`` rule as analytics and red flags, whose pages link here). Every such
    view is recorded, so an administrator's curiosity is on record like anyone's."""
    if not staff.may_review:
        raise AccessDenied(
            "Chỉ thanh tra viên (và quản trị viên) mới được xem nhật ký kiểm tra và phiếu "
            "kiểm soát của hồ sơ.",
            "Only inspectors (and administrators) may open a dossier's audit trail and "
            "processing control slip.",
        )


class Verdict(StrEnum):
    """The control slip's "kết quả giải quyết" for a step or the whole dossier."""

    EARLY = "early"  # trước hạn: done on a day before the day it was due
    ON_TIME = "on_time"  # đúng hạn: done on the day it was due, in time
    LATE = "late"  # quá hạn


def step_verdict(done_at: datetime, due_at: datetime) -> Verdict:
    if done_at > due_at:
        return Verdict.LATE
    if done_at.astimezone(HCMC).date() < due_at.astimezone(HCMC).date():
        return Verdict.EARLY
    return Verdict.ON_TIME


def day_verdict(done_on: date, due_on: date) -> Verdict:
    """The dossier as a whole is judged by days, as ``is_late`` does."""
    if done_on > due_on:
        return Verdict.LATE
    return Verdict.EARLY if done_on < due_on else Verdict.ON_TIME


def office_hours_between(clock: OfficeClock, start: datetime, end: datetime) -> float:
    """Hours of office time (07:30–11:30, 13:00–17:00 on working days) in [start, end]."""
    return clock.hours(start, end) if end > start else 0.0


class Span(StrEnum):
    """Which part of a dossier's path a duration measures."""

    DESK = "desk"  # accepted → left: the unit had it on its desk
    POSTAL = "postal"  # collected at the citizen's address → received at the counter
    TRANSIT = "transit"  # transferred → accepted: on its way, on nobody's desk
    HANDOUT = "handout"  # dispatched → delivered: at the post or waiting at the counter


@dataclass(frozen=True)
class StepTiming:
    """How long a stretch of the path took, in office hours; paused days are included (the
    step's due time already moved by them)."""

    span: Span
    unit_code: str
    started_at: datetime
    ended_at: datetime
    office_hours: float
    due_at: datetime | None
    verdict: Verdict | None

    @property
    def elapsed(self) -> timedelta:
        return self.ended_at - self.started_at

    @property
    def working_days(self) -> float:
        return self.office_hours / OFFICE_HOURS_PER_DAY


@dataclass(frozen=True)
class DossierState:
    """A dossier's state at one moment. Field names match ``DossierSnapshot``'s, so a state
    rebuilt for a moment compares field by field with what a page showed at that moment."""

    id: UUID
    version: int
    code: str
    procedure_code: str
    applicant: dict[str, str]
    channel: Channel
    documents: list[str]
    receiving_unit: str
    holder_unit: str
    holder_officer: str | None
    stage: Stage
    received_at: datetime
    due_date: date
    decision_number: str | None
    decision_title: str | None
    signed_at: datetime | None
    rejected_at: datetime | None
    rejection_reasons: str | None
    step_due_at: datetime | None
    pending_from_unit: str | None
    supplement_requests: int
    paused_at: datetime | None
    extensions: int
    dispatch_method: DispatchMethod | None
    postal_tracking_number: str | None
    recipient_name: str | None
    delivered_at: datetime | None
    pickup_address: str | None
    collected_at: datetime | None
    postal_transit: timedelta | None

    @classmethod
    def of(cls, dossier: Dossier) -> DossierState:
        return cls(**{f.name: _copied(getattr(dossier, f.name)) for f in fields(cls)})


def _copied(value: Any) -> Any:
    # Later events replace these containers rather than mutate them; copy all the same,
    # so a state never changes under a reader.
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


# Bookkeeping that changes with every event; the diff says which events lie between instead.
_NOT_COMPARED = frozenset({"id", "version"})


@dataclass(frozen=True)
class FieldChange:
    name: str  # a DossierState field
    before: Any  # at the earlier of the two moments
    after: Any


def state_diff(earlier: DossierState, later: DossierState) -> list[FieldChange]:
    return [
        FieldChange(f.name, getattr(earlier, f.name), getattr(later, f.name))
        for f in fields(DossierState)
        if f.name not in _NOT_COMPARED and getattr(earlier, f.name) != getattr(later, f.name)
    ]


@dataclass(frozen=True)
class AuditEvent:
    position: int  # 1-based, the event's version
    kind: str
    actor_id: str
    actor_name: str
    actor_unit: str
    unit_name: str
    occurred_at: datetime  # business time: when it happened
    recorded_at: datetime  # when hoso recorded it
    details: dict[str, Any]
    timing: StepTiming | None  # the stretch this event ends, if it ends one
    starts_step_due_at: datetime | None  # the due time of the step this event starts


@dataclass(frozen=True)
class MomentState:
    """The dossier as recorded at one moment; ``state`` is None before it existed."""

    requested: datetime | None  # the moment asked for; None when given as a position
    position: int  # how many events had been recorded by then
    recorded_at: datetime | None  # when the last of those was recorded
    state: DossierState | None
    message: DomainError | None  # why there is no state


@dataclass(frozen=True)
class AuditTrail:
    dossier_id: UUID
    code: str
    procedure_code: str
    events: list[AuditEvent]
    as_of: MomentState
    compare_to: MomentState | None
    diff: list[FieldChange] | None  # None unless both moments have a state

    @property
    def first_recorded_at(self) -> datetime:
        return self.events[0].recorded_at


@dataclass(frozen=True)
class Party:
    """One side of a handoff: a member of staff at a unit, or a citizen (no unit)."""

    unit_code: str | None
    unit_name: str
    officer_id: str | None
    officer_name: str | None


@dataclass(frozen=True)
class Handoff:
    """One row of the processing control slip."""

    number: int
    kind: str  # the event that handed the file over: Received, Transferred, Dispatched…
    giver: Party
    receiver: Party | None  # None: a transfer not accepted yet
    handed_at: datetime
    received_at: datetime | None
    due_at: datetime | None  # the giver's step due time (the result's due date at the end)
    verdict: Verdict | None
    handoff: AuditEvent
    during: list[AuditEvent]  # what else happened while the giver held the file


@dataclass(frozen=True)
class ControlSlip:
    dossier_id: UUID
    code: str
    procedure_code: str
    receiving_unit: str
    applicant_name: str
    received_at: datetime
    due_date: date
    rows: list[Handoff]


# ---- building them from the events -------------------------------------------------------

class _Names:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def staff(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        member = self.directory.staff.get(user_id)
        return member.full_name if member else user_id  # deactivated staff keep their id

    def party(self, unit_code: str, officer_id: str | None) -> Party:
        return Party(unit_code, self.directory.unit_name(unit_code), officer_id,
                     self.staff(officer_id))


@dataclass(frozen=True)
class _Before:
    """What the dossier looked like just before an event (the step it was on)."""

    holder_unit: str
    step_started_at: datetime | None
    arrived_at: datetime
    step_due_at: datetime | None


def audit_events(events: Sequence[Dossier.Event], directory: Directory,
                 calendar: WorkingCalendar) -> list[AuditEvent]:
    """Every event in recording order, each with the stretch of time it ends."""
    names = _Names(directory)
    clock = OfficeClock(calendar)
    rows: list[AuditEvent] = []
    dossier: Dossier | None = None
    dispatched_at: datetime | None = None
    for e in events:
        before = None if dossier is None else _Before(
            dossier.holder_unit, dossier.step_started_at, dossier.arrived_at,
            dossier.step_due_at)
        dossier = e.mutate(dossier)
        assert isinstance(dossier, Dossier)
        timing = _timing(e, before, dispatched_at, dossier, calendar, clock)
        if isinstance(e, Dossier.Dispatched):
            dispatched_at = e.occurred_at
        starts = e.step_due_at if isinstance(e, Dossier.Received | Dossier.TransferAccepted) \
            else None
        rows.append(AuditEvent(
            position=e.originator_version, kind=type(e).__name__, actor_id=e.actor_id,
            actor_name=names.staff(e.actor_id) or e.actor_id, actor_unit=e.actor_unit,
            unit_name=directory.unit_name(e.actor_unit), occurred_at=e.occurred_at,
            recorded_at=e.timestamp, details=event_details(e), timing=timing,
            starts_step_due_at=starts,
        ))
    return rows


_COMMON = frozenset({"actor_id", "actor_unit", "occurred_at", "originator_id",
                     "originator_version", "timestamp", "originator_topic"})


def event_details(e: Dossier.Event) -> dict[str, Any]:
    """What an event recorded beyond who and when, with the transit it ended, if any."""
    details = {k: v for k, v in e.__dict__.items() if k not in _COMMON}
    if isinstance(e, Dossier.TransferAccepted):
        details["transit"] = e.occurred_at - e.transferred_at
    if isinstance(e, Dossier.ReceivedFromPost):
        details["transit"] = e.occurred_at - e.collected_at
    return details


def _timing(e: Dossier.Event, before: _Before | None, dispatched_at: datetime | None,
            after: Dossier, calendar: WorkingCalendar,
            clock: OfficeClock) -> StepTiming | None:
    if before is None:
        return None
    if isinstance(e, Dossier.TransferAccepted):
        return StepTiming(Span.TRANSIT, e.actor_unit, e.transferred_at, e.occurred_at,
                          office_hours_between(clock, e.transferred_at, e.occurred_at),
                          None, None)
    if isinstance(e, Dossier.ReceivedFromPost):
        # Collected at the citizen's address → received at the counter: the post's time.
        return StepTiming(Span.POSTAL, e.from_unit,
                          e.collected_at, e.occurred_at,
                          office_hours_between(clock, e.collected_at, e.occurred_at),
                          None, None)
    if isinstance(e, Dossier.Transferred | Dossier.Dispatched | Dossier.Withdrawn):
        start = before.step_started_at or before.arrived_at
        due = before.step_due_at
        return StepTiming(Span.DESK, before.holder_unit, start, e.occurred_at,
                          office_hours_between(clock, start, e.occurred_at), due,
                          step_verdict(e.occurred_at, due) if due else None)
    if isinstance(e, Dossier.Delivered) and dispatched_at is not None:
        ready = after.result_ready_at
        return StepTiming(
            Span.HANDOUT, before.holder_unit, dispatched_at, e.occurred_at,
            office_hours_between(clock, dispatched_at, e.occurred_at),
            calendar.end_of_working_day(after.due_date),
            day_verdict(ready.astimezone(HCMC).date(), after.due_date) if ready else None)
    return None


def moment_state(events: Sequence[Dossier.Event], moment: Moment | None,
                 rebuild: Callable[[int], Dossier]) -> MomentState:
    """The state as recorded at ``moment``; ``rebuild(n)`` gives the dossier at version n."""
    if moment is None:
        position, requested = len(events), None
    elif isinstance(moment, int):
        if not 0 <= moment <= len(events):
            raise DomainError(
                f"Vị trí phải từ 0 đến {len(events)} (số sự kiện của hồ sơ).",
                f"The position must be between 0 and {len(events)} (the dossier's events).",
            )
        position, requested = moment, None
    else:
        if moment.tzinfo is None:
            raise ValueError("a moment must be timezone-aware")
        requested = moment
        position = 0
        # The record as it stood: the events recorded by then, in recording order.
        while position < len(events) and events[position].timestamp <= moment:
            position += 1
    if position == 0:
        first = events[0].timestamp.astimezone(HCMC).strftime("%H:%M:%S %d/%m/%Y")
        return MomentState(requested, 0, None, None, DomainError(
            f"Hồ sơ chưa tồn tại vào thời điểm này (sự kiện đầu tiên được ghi nhận lúc "
            f"{first}).",
            f"The dossier did not exist yet at that moment (its first event was recorded "
            f"at {first}).",
        ))
    return MomentState(requested, position, events[position - 1].timestamp,
                       DossierState.of(rebuild(position)), None)


def compare(first: MomentState, second: MomentState) -> list[FieldChange] | None:
    if first.state is None or second.state is None:
        return None
    earlier, later = sorted((first, second), key=lambda m: m.position)
    assert earlier.state is not None and later.state is not None
    return state_diff(earlier.state, later.state)


# ---- the control slip --------------------------------------------------------------------

_HANDOFFS = frozenset({"Received", "Transferred", "Dispatched", "Delivered", "Withdrawn",
                       "CollectedByPost", "HandedToCounter"})
# Not part of handling the file: the citizen's rating comes after it; a receipt or an
# acceptance is the other side of the handoff before it.
_NOT_ON_THE_SLIP = frozenset({"TransferAccepted", "Rated", "DocumentAttached",
                              "ReceivedFromPost"})


def control_slip(events: Sequence[Dossier.Event], trail: list[AuditEvent],
                 directory: Directory, current: Dossier) -> ControlSlip:
    """One row per handoff of the paper file: who gave it, who took it, when, and whether
    the giver's step was on time."""
    names = _Names(directory)
    rows: list[Handoff] = []
    during: list[AuditEvent] = []
    by_position = {e.originator_version: e for e in events}
    for index, row in enumerate(trail):
        e = by_position[row.position]
        if row.kind not in _HANDOFFS:
            if row.kind not in _NOT_ON_THE_SLIP:
                during.append(row)
            continue
        giver, receiver, received_at = _parties(e, trail[index + 1:], names, current)
        timing = row.timing
        rows.append(Handoff(
            number=len(rows) + 1, kind=row.kind, giver=giver, receiver=receiver,
            handed_at=row.occurred_at, received_at=received_at,
            due_at=timing.due_at if timing else None,
            verdict=timing.verdict if timing else None, handoff=row, during=during,
        ))
        during = []
    if during and rows:
        # Events after the last handoff (e.g. a signature still on the leader's desk)
        # belong with the row that brought the file there.
        rows[-1] = replace(rows[-1], during=[*rows[-1].during, *during])
    return ControlSlip(
        dossier_id=current.id, code=current.code, procedure_code=current.procedure_code,
        receiving_unit=current.receiving_unit, applicant_name=current.applicant["name"],
        received_at=current.received_at, due_date=current.due_date, rows=rows,
    )


def _parties(e: Dossier.Event, later: list[AuditEvent], names: _Names, current: Dossier
             ) -> tuple[Party, Party | None, datetime | None]:
    actor = names.party(e.actor_unit, e.actor_id)
    citizen = Party(None, "", None, current.applicant["name"])
    if isinstance(e, Dossier.Received):
        return citizen, actor, e.occurred_at
    if isinstance(e, Dossier.CollectedByPost):
        return citizen, actor, e.occurred_at
    if isinstance(e, Dossier.HandedToCounter):
        # The post's side now, the counter's when it records the receipt.
        receipt = next((r for r in later if r.kind == "ReceivedFromPost"), None)
        if receipt is None:
            return actor, None, None
        return actor, names.party(receipt.actor_unit, receipt.actor_id), receipt.occurred_at
    if isinstance(e, Dossier.Transferred):
        if not e.awaits_acceptance:
            return actor, names.party(e.to_unit, e.to_officer), e.occurred_at
        accepted = next((r for r in later if r.kind == "TransferAccepted"), None)
        if accepted is None or _handed_on_before(later, accepted):
            return actor, None, None
        return actor, names.party(accepted.actor_unit, accepted.actor_id), accepted.occurred_at
    if isinstance(e, Dossier.Dispatched):
        # By post, the post office takes it; for pick-up, the counter keeps it for the citizen.
        officer = None if e.method == DispatchMethod.POST.value else e.actor_id
        return actor, names.party(e.holder_unit, officer), e.occurred_at
    if isinstance(e, Dossier.Delivered):
        return actor, Party(None, "", None, e.recipient_name), e.occurred_at
    return actor, citizen, e.occurred_at  # withdrawn: the file goes back to the citizen


def _handed_on_before(later: list[AuditEvent], accepted: AuditEvent) -> bool:
    """Whether another handoff came before this acceptance (then it accepted that one)."""
    for row in later:
        if row is accepted:
            return False
        if row.kind in _HANDOFFS:
            return True
    return False
