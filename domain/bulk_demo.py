"""Demo data by the hundred thousand: a year of dossiers, saved hundreds at a time.

``load_demo`` walks each dossier through ``HosoApplication``, one command and one transaction
at a time — right for 120 dossiers, far too slow for a million. ``load_bulk_demo`` tells the
same scenarios (``domain.demo``'s walks, with the same weights) with the same aggregate
commands and rules, through ``MemoryDesk``: the application's commands on dossiers held in
memory, saved together with their code sequences many dossiers to a transaction.

What stays as real as in the small demo:

- codes come from ``DossierCodeSequence`` aggregates saved with the dossiers (one per agency
  and day, continued from the store if it already has one), so codes are unique and the
  sequences agree with them;
- decisions are signed with the signing officers' registered keys (``register_demo_signing_keys``
  with the demo passphrase), each unlocked once from the application's key vault;
- every event is recorded minutes after it happened (the small demo's recording clock), at
  times spread over the past year in office hours;
- the judicial records desk's month (favours, a broker, a colleague's readings): its files
  walked with the others, the newcomer's appointment and the readings through the application
  when their time comes;
- events are saved in the order they were recorded (``hoso verify`` reports a recording time
  that goes back), each held until nothing still to be walked can be recorded before it.

``Synthesiser`` (a simpler mix, no code sequences, throw-away keys) makes the benchmarks'
dossiers; it lives here beside the demo's generator.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol

from domain.application import HosoApplication, Outcome
from domain.demo import (
    _LATE,
    _PATTERNS,
    _RATED,
    _UNFINISHED,
    CLUSTER,
    SCENARIOS,
    _recording,
    _RecordingClock,
    _Walk,
    _within_office_hours,
    desk_month,
    register_demo_signing_keys,
)
from domain.dossier import (
    Actor,
    Applicant,
    Channel,
    DeliveryFailure,
    DispatchMethod,
    Dossier,
    DossierCodeSequence,
)
from domain.errors import DomainError
from domain.organisation import Directory, Procedure, Role
from domain.signing import UnlockedKey, key_id_of
from domain.working_days import HCMC, OFFICE_HOURS, WorkingCalendar

# ``hoso demo`` takes the bulk path above this many dossiers.
BULK_THRESHOLD = 2_000
# Events saved per transaction: whole dossiers, about 450 of them. Saves of 15,000 events or
# more hang in psycopg 3.3's pipelined executemany (psycopg/psycopg#685, see
# bench/verify_log.py); from 1,000 up the rate hardly changes.
BATCH_EVENTS = 5_000
YEAR = 365
# Receipts of scenarios meant to be in progress are this recent; older ones go the usual
# way (a year of "still open" files would be a year of neglect, not a demo).
RECENT_DAYS = 8
# A scenario that needs its whole story told is received at least this long ago.
_MIN_AGE_DAYS = {**dict.fromkeys(_LATE, 32.0), **dict.fromkeys(_PATTERNS, 15.0),
                 **dict.fromkeys(_RATED, 20.0)}


class MemoryDesk:
    """``HosoApplication``'s clerk commands (the ``DemoDesk`` a walk uses) on dossiers kept in
    memory: the same checks and the same aggregate commands, nothing saved until ``take``.

    Times are recorded by ``clock``; decisions are signed with the registered keys, each
    unlocked once through the application's key vault.
    """

    def __init__(self, app: HosoApplication, clock: Callable[[], datetime]) -> None:
        self.app = app
        self.clock = clock
        self.calendar = app.calendar
        self._directory = app.directory  # one read: a demo appoints nobody meanwhile
        self._dossiers: dict[UUID, Dossier] = {}
        self._sequences: dict[tuple[str, date], DossierCodeSequence] = {}
        self._actors: dict[str, Actor] = {}
        self._keys: dict[tuple[str, str], UnlockedKey] = {}

    @property
    def directory(self) -> Directory:
        return self._directory

    def reread_directory(self) -> None:
        self._directory = self.app.directory

    def pending_events(self) -> int:
        """How many events wait to be taken (the code sequences' included)."""
        return (sum(len(s.pending_events) for s in self._sequences.values())
                + sum(len(d.pending_events) for d in self._dossiers.values()))

    def take(self) -> list[DomainEventProtocol[UUID]]:
        """The new events of the code sequences and the dossiers, in that order; the dossiers
        are forgotten (each is walked to its end before the next begins). Collected here, so
        that the sequences can go on issuing numbers while the events are being saved."""
        events: list[DomainEventProtocol[UUID]] = [
            e for s in self._sequences.values() for e in s.collect_events()]
        events += [e for d in self._dossiers.values() for e in d.collect_events()]
        self._dossiers.clear()
        return events

    # ---- commands, as HosoApplication has them ------------------------------------------

    def receive(self, *, actor_id: str, procedure_code: str, applicant_name: str,
                applicant_phone: str, applicant_address: str, applicant_id_number: str = "",
                channel: str = Channel.COUNTER.value, documents: Sequence[str],
                occurred_at: datetime | None = None,
                idempotency_key: str | None = None) -> Outcome:
        actor = self._actor(actor_id)
        unit = self._directory.unit(actor.unit_code)
        recorded_at = self.clock()
        when = occurred_at or recorded_at
        dossier = Dossier.receive(
            procedure=self._directory.procedure(procedure_code),
            applicant=Applicant.cleaned(applicant_name, applicant_phone, applicant_address,
                                        applicant_id_number),
            channel=Channel(channel), documents=list(documents), actor=actor,
            receiving_unit=unit, occurred_at=when, recorded_at=recorded_at,
            sequence_number=self._sequence(unit.agency_code, when, recorded_at).issue(
                recorded_at),
            calendar=self.calendar, idempotency_key=idempotency_key or uuid4().hex)
        self._dossiers[dossier.id] = dossier
        return Outcome(dossier.id, 0)

    def transfer(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                 to_unit: str, to_officer: str | None = None, note: str = "",
                 occurred_at: datetime | None = None) -> Outcome:
        unit = self._directory.unit(to_unit)
        officer = self._directory.member(to_officer) if to_officer else None
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.transfer(
                             to_unit=unit, to_officer=officer, note=note, actor=actor,
                             occurred_at=when, recorded_at=now))

    def accept_transfer(self, dossier_id: UUID, *, expected_version: int | None,
                        actor_id: str, occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.accept_transfer(
                             actor=actor, occurred_at=when, recorded_at=now,
                             calendar=self.calendar))

    def request_supplement(self, dossier_id: UUID, *, expected_version: int | None,
                           actor_id: str, missing_items: Sequence[str], reason: str,
                           justification: str = "",
                           occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.request_supplement(
                             missing_items=list(missing_items), reason=reason,
                             justification=justification, actor=actor, occurred_at=when,
                             recorded_at=now,
                             procedure=self._directory.procedure(d.procedure_code)))

    def provide_supplement(self, dossier_id: UUID, *, expected_version: int | None,
                           actor_id: str, documents: Sequence[str],
                           occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.provide_supplement(
                             documents=list(documents), actor=actor, occurred_at=when,
                             recorded_at=now, calendar=self.calendar))

    def extend(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
               new_due_date: date, reason: str, apology: str,
               occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.extend(
                             new_due_date=new_due_date, reason=reason, apology=apology,
                             actor=actor, occurred_at=when, recorded_at=now,
                             calendar=self.calendar))

    def reject(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
               reasons: str, occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.reject(
                             reasons=reasons, actor=actor, occurred_at=when, recorded_at=now))

    def withdraw(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                 reason: str, occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.withdraw(
                             reason=reason, actor=actor, occurred_at=when, recorded_at=now))

    def sign(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
             decision_number: str, decision_title: str, passphrase: str,
             document: bytes | None = None, occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.sign(
                             decision_number=decision_number, decision_title=decision_title,
                             unlock_key=lambda: self._key(actor_id, passphrase),
                             document=document, actor=actor, occurred_at=when,
                             recorded_at=now))

    def dispatch(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                 method: str, postal_tracking_number: str | None = None,
                 occurred_at: datetime | None = None) -> Outcome:
        post_office = self._directory.post_office()
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.dispatch(
                             method=DispatchMethod(method),
                             postal_tracking_number=postal_tracking_number,
                             post_office=post_office, actor=actor, occurred_at=when,
                             recorded_at=now))

    def deliver(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                recipient_name: str, occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.deliver(
                             recipient_name=recipient_name, actor=actor, occurred_at=when,
                             recorded_at=now))

    def record_failed_delivery(self, dossier_id: UUID, *, expected_version: int | None,
                               actor_id: str, reason: str,
                               occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.record_failed_delivery(
                             reason=DeliveryFailure(reason), actor=actor, occurred_at=when,
                             recorded_at=now))

    def redirect_delivery(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, address: str | None,
                          occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.redirect_delivery(
                             address=address, actor=actor, occurred_at=when, recorded_at=now))

    def return_to_counter(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, occurred_at: datetime | None = None) -> Outcome:
        return self._act(dossier_id, actor_id, occurred_at,
                         lambda d, actor, when, now: d.return_to_counter(
                             actor=actor, occurred_at=when, recorded_at=now))

    def rate(self, token: str, dossier_id: UUID, *, satisfaction: int, came_back: bool,
             unofficial_request: bool, comment: str,
             occurred_at: datetime | None = None) -> Outcome:
        self.dossier(dossier_id).rate(
            token=token, satisfaction=satisfaction, came_back=came_back,
            unofficial_request=unofficial_request, comment=comment, now=self.clock(),
            occurred_at=occurred_at)
        return Outcome(dossier_id, 0)

    def dossier(self, dossier_id: UUID) -> Dossier:
        return self._dossiers[dossier_id]

    # ---- helpers ---------------------------------------------------------------------------

    def _act(self, dossier_id: UUID, actor_id: str, occurred_at: datetime | None,
             command: Callable[[Dossier, Actor, datetime, datetime], None]) -> Outcome:
        now = self.clock()
        command(self.dossier(dossier_id), self._actor(actor_id), occurred_at or now, now)
        return Outcome(dossier_id, 0)

    def _actor(self, user_id: str) -> Actor:
        if user_id not in self._actors:
            self._actors[user_id] = Actor.of(self._directory.member(user_id))
        return self._actors[user_id]

    def _key(self, officer_id: str, passphrase: str) -> UnlockedKey:
        """The officer's registered key, opened once (Argon2id takes a tenth of a second)."""
        if (officer_id, passphrase) not in self._keys:
            self._keys[officer_id, passphrase] = self.app._unlocked_key(officer_id, passphrase)
        return self._keys[officer_id, passphrase]

    def _sequence(self, agency_code: str, when: datetime,
                  recorded_at: datetime) -> DossierCodeSequence:
        day = when.astimezone(HCMC).date()
        sequence = self._sequences.get((agency_code, day))
        if sequence is None:
            try:  # a store that already has dossiers of that day: go on from its numbers
                stored: object = self.app.repository.get(
                    DossierCodeSequence.create_id(agency_code, day))
                assert isinstance(stored, DossierCodeSequence)
                sequence = stored
            except AggregateNotFoundError:
                sequence = DossierCodeSequence(agency_code, day, timestamp=recorded_at)
            self._sequences[agency_code, day] = sequence
        return sequence


def load_bulk_demo(app: HosoApplication, *, dossiers: int, seed: int = 2026,
                   progress: Callable[[], None] | None = None, days: int = YEAR,
                   batch_events: int = BATCH_EVENTS) -> int:
    """``dossiers`` dossiers received over the past ``days`` days, the small demo's scenarios
    in its proportions, saved ``batch_events`` events (whole dossiers) a transaction, oldest
    receipts first; how many were made."""
    rng = random.Random(seed)
    now = app.clock()
    with _recording(app) as record_at:
        # Before the oldest dossier, so every decision is signed with a key in force.
        record_at.at(_within_office_hours(now - timedelta(days=days + 7), app), timedelta())
        register_demo_signing_keys(app)
    # Keys registered earlier by a smaller demo are younger: no dossier older than them.
    days = min(days, max(RECENT_DAYS + 1, (now - _keys_in_force_since(app)).days - 1))
    with_cluster = dossiers >= CLUSTER + len(SCENARIOS)
    procedures = list(app.directory.procedures.values())
    plan = _plan(rng, dossiers - CLUSTER if with_cluster else dossiers, days, len(procedures))
    clock = _RecordingClock()
    desk = MemoryDesk(app, clock)
    # Every receipt drawn first, so that dossiers are walked in the order they arrived and
    # the code sequences number them in that order.
    receipts = array("d", (_received(now - timedelta(days=age), rng, app.calendar).timestamp()
                           for age in plan.ages))
    order = sorted(range(len(receipts)), key=receipts.__getitem__)
    month = desk_month(app, rng, now, progress, desk) if with_cluster else None
    # The desk's month: its files walked with the others, in receipt order; the appointment
    # and the readings told through the application when their time comes.
    month_files = sorted(month.dossiers, key=lambda item: item[0]) if month else []
    by_the_application = sorted(month.by_the_application, key=lambda item: item[0]) \
        if month else []
    # Events wait here until nothing can be recorded before them any more: a dossier's
    # story runs for weeks, and the ones received later begin before it ends. Everything
    # still to be walked is recorded at or after the receipt being walked, so what was
    # recorded up to it is saved, in recording order (a stable sort keeps each aggregate's
    # versions in order).
    held: list[DomainEventProtocol[UUID]] = []
    # One batch is saved (waiting on the database) while the next is made; one at a time,
    # in order, so the log holds them as they were made. A failed save raises here.
    with ThreadPoolExecutor(1, thread_name_prefix="hoso-bulk-demo-save") as writer:
        saving: Future[object] | None = None

        def release(upto: datetime | None) -> None:
            nonlocal held, saving
            held += desk.take()
            held.sort(key=_recorded)
            cut = len(held) if upto is None else bisect_right(held, upto, key=_recorded)
            if cut:
                if saving is not None:
                    saving.result()
                saving, held = writer.submit(app.save, *held[:cut]), held[cut:]

        def tell_through_the_application(until: datetime | None) -> None:
            nonlocal saving
            while by_the_application and (until is None or by_the_application[0][0] <= until):
                moment, story = by_the_application.pop(0)
                release(moment)
                if saving is not None:
                    saving.result()
                with _recording(app) as record_at:
                    story(record_at)
                if record_at.moment != moment:
                    # Told at ``moment``: recorded later, it would land after events the
                    # walk records between the two, back-dated in the store's order.
                    raise ValueError(f"a story told at {moment} was recorded at "
                                     f"{record_at.moment}")
                desk.reread_directory()  # the newcomer may act from now on

        def walk_file(received: datetime, story: Callable[[_RecordingClock], object]) -> int:
            tell_through_the_application(received)
            clock.new_story()
            story(clock)
            return desk.pending_events()

        unsaved = 0
        for n in order:
            received = datetime.fromtimestamp(receipts[n], tz=UTC)
            while month_files and month_files[0][0] <= received:
                unsaved = walk_file(*month_files.pop(0))
            walk = _Walk(desk, procedures[plan.procedures[n]], rng, now, clock,
                         to_the_end=True)
            unsaved = walk_file(received, _walking(walk, SCENARIOS[plan.scenarios[n]][0],
                                                   received))
            if unsaved >= batch_events:
                release(received)
                unsaved = 0
            if progress:
                progress()
        for received, story in month_files:
            walk_file(received, story)
        tell_through_the_application(None)
        release(None)
        if saving is not None:
            saving.result()
    return dossiers


def _walking(walk: _Walk, scenario: str,
             received: datetime) -> Callable[[_RecordingClock], object]:
    return lambda _clock: walk.run(scenario, received)


def _recorded(event: DomainEventProtocol[UUID]) -> datetime:
    recorded: datetime = getattr(event, "timestamp")  # noqa: B009 (not on the protocol)
    return recorded


class _Plan:
    """Each dossier's scenario, procedure and age in days, drawn before any is walked so that
    they can be walked oldest first (compactly: a million of them)."""

    def __init__(self) -> None:
        self.scenarios = array("B")
        self.procedures = array("B")
        self.ages = array("d")


def _plan(rng: random.Random, count: int, days: int, procedures: int) -> _Plan:
    names = [name for name, _ in SCENARIOS]
    weights = [weight for _, weight in SCENARIOS]
    index = {name: i for i, name in enumerate(names)}
    plan = _Plan()
    for n in range(count):
        # The first few take each scenario once, the rare ones included, as in the small demo.
        scenario = names[n] if n < len(names) else rng.choices(names, weights)[0]
        if scenario in _UNFINISHED:
            age = rng.uniform(1, RECENT_DAYS)
            if n >= len(names) and rng.random() > RECENT_DAYS / days:
                # Most files of a year are finished; recent "usual" ones are still open.
                scenario, age = "usual", rng.uniform(1, days)
        else:
            age = rng.uniform(min(_MIN_AGE_DAYS.get(scenario, 1.0), days - 1), days)
        plan.scenarios.append(index[scenario])
        plan.procedures.append(rng.randrange(procedures))
        plan.ages.append(age)
    return plan


def _received(moment: datetime, rng: random.Random, calendar: WorkingCalendar) -> datetime:
    """A time in office hours on ``moment``'s day, or the last working day before it."""
    day = moment.astimezone(HCMC).date()
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    minutes = rng.randrange(_OFFICE_MINUTES)
    for opens, closes in OFFICE_HOURS:
        start = datetime.combine(day, opens, tzinfo=HCMC)
        length = int((datetime.combine(day, closes, tzinfo=HCMC) - start).total_seconds() // 60)
        if minutes < length:
            return start + timedelta(minutes=minutes)
        minutes -= length
    raise AssertionError("minutes beyond office hours")


# Minutes of a working day in office hours, less the last ten (a receipt takes a while).
_OFFICE_MINUTES = sum((c.hour * 60 + c.minute) - (o.hour * 60 + o.minute)
                      for o, c in OFFICE_HOURS) - 10


def _keys_in_force_since(app: HosoApplication) -> datetime:
    """When the last of the signing officers' active keys was registered."""
    registered = [key.registered_at for staff in app.directory.staff.values() if staff.may_sign
                  for key in app.signing_keys(staff.user_id) if key.revoked_at is None]
    if not registered:
        raise DomainError("Không đăng ký được khóa ký của cán bộ.",
                          "The signing officers' keys could not be registered.")
    return max(registered)


# ---- the benchmarks' dossiers ----------------------------------------------------------------

_DESK_ROLES = frozenset({Role.RECEPTION, Role.SPECIALIST, Role.SIGNING_OFFICER})


class Synthesiser:
    """Dossiers of a year at the city's counters, walked by the seed staff through the
    aggregate's commands: most the usual way, some with supplement requests (a few twice),
    extensions, refusals and withdrawals; the newest still open.

    For benchmarks: code numbers are counted without sequence aggregates, and decisions are
    signed with keys made on the spot and never registered (use ``load_bulk_demo`` for data
    that must check out)."""

    def __init__(self, directory: Directory, calendar: WorkingCalendar, now: datetime,
                 seed: int = 2026, days: int = YEAR) -> None:
        self.d, self.calendar, self.now, self.days = directory, calendar, now, days
        self.rng = random.Random(seed)
        self.procedures = list(directory.procedures.values())
        self.numbers: dict[tuple[str, date], int] = {}
        self.keys: dict[str, UnlockedKey] = {}

    def _actor(self, unit: str) -> Actor:
        desk = [s for s in self.d.members_of(unit) if s.roles & _DESK_ROLES]
        return Actor.of(self.rng.choice(desk))

    def _key(self, signer: Actor) -> UnlockedKey:
        """One signing key per officer for the whole run (unregistered: the pages measured
        here do not check signatures)."""
        if signer.user_id not in self.keys:
            private = Ed25519PrivateKey.generate()
            public = private.public_key().public_bytes_raw()
            self.keys[signer.user_id] = UnlockedKey(key_id_of(signer.user_id, public), private)
        return self.keys[signer.user_id]

    def _office_time(self, day: date) -> datetime:
        while not self.calendar.is_working_day(day):
            day += timedelta(days=1)
        minutes = self.rng.randint(7 * 60 + 30, 16 * 60 + 50)
        return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=HCMC)

    def _later(self, when: datetime, office_hours: float) -> datetime:
        return self.calendar.add_working_hours(when, office_hours)

    def dossier(self, day: date | None = None) -> list[Dossier.Event]:
        """One dossier's events, received on ``day`` (or a day drawn in the period)."""
        rng, d = self.rng, self.d
        procedure: Procedure = rng.choice(self.procedures)
        reception, specialist, leader = procedure.route_units[:3]
        if day is None:
            day = (self.now - timedelta(days=rng.uniform(0, self.days))).astimezone(HCMC).date()
        received = self._office_time(day)
        if received > self.now:
            received = self.now - timedelta(hours=1)
        unit = d.unit(reception)
        key = (unit.agency_code, received.date())
        self.numbers[key] = self.numbers.get(key, 0) + 1
        clerk = self._actor(reception)
        dossier = Dossier.receive(
            procedure=procedure,
            applicant=Applicant("Nguyễn Văn A", f"09{rng.randint(10**7, 10**8 - 1)}", "TP.HCM"),
            channel=Channel.COUNTER, documents=["Tờ khai"], actor=clerk, receiving_unit=unit,
            occurred_at=received, recorded_at=received, sequence_number=self.numbers[key],
            calendar=self.calendar, idempotency_key=uuid4().hex)
        when = received
        # Each desk's pace: usually well within its allotment, a slow one now and then.
        pace = rng.choice((0.3, 0.5, 0.8, 1.0, 1.5)) * procedure.processing_days * 8 / 4

        def step(hours: float) -> datetime | None:
            nonlocal when
            when = self._later(when, max(0.1, rng.expovariate(1 / hours)))
            return when if when < self.now else None

        def hand_over(to: str, sender: Actor) -> Actor | None:
            if (t := step(0.5)) is None:
                return None
            dossier.transfer(to_unit=d.unit(to), to_officer=None, note="Trình", actor=sender,
                             occurred_at=t, recorded_at=t)
            receiver = self._actor(to)
            if (t := step(1.0)) is None:
                return None
            dossier.accept_transfer(actor=receiver, occurred_at=t, recorded_at=t,
                                    calendar=self.calendar)
            return receiver

        def walk() -> None:
            roll = rng.random()
            officer = hand_over(specialist, clerk)
            if officer is None:
                return
            if roll < 0.01:
                if (t := step(pace)) is not None:
                    dossier.withdraw(reason="Công dân xin rút", actor=clerk, occurred_at=t,
                                     recorded_at=t)
                return
            requests = 2 if roll < 0.03 else 1 if roll < 0.13 else 0
            for n in range(requests):
                if (t := step(pace / 2)) is None:
                    return
                dossier.request_supplement(
                    missing_items=[procedure.document_list[-1].name_vi],
                    reason="Bản sao chưa chứng thực",
                    justification="Bản bổ sung bị mờ" if n else "", actor=officer,
                    occurred_at=t, recorded_at=t, procedure=procedure)
                if (t := step(16)) is None:
                    return
                dossier.provide_supplement(documents=["Bản sao có chứng thực"], actor=clerk,
                                           occurred_at=t, recorded_at=t, calendar=self.calendar)
            if 0.13 <= roll < 0.16 and (t := step(pace / 2)) is not None:
                due_end = datetime.combine(dossier.due_date, datetime.min.time(), tzinfo=HCMC)
                t = min(t, due_end + timedelta(hours=16))
                if t >= dossier.last_occurred_at:
                    dossier.extend(new_due_date=self.calendar.add_working_days(
                        dossier.due_date, 5), reason="Cần xác minh", apology="Xin lỗi",
                        actor=officer, occurred_at=t, recorded_at=t, calendar=self.calendar)
            if (t := step(pace)) is None:
                return
            if roll > 0.97:
                dossier.reject(reasons="Không đủ điều kiện", actor=officer, occurred_at=t,
                               recorded_at=t)
                holder = officer
            else:
                dossier.transfer(to_unit=d.unit(leader), to_officer=None, note="Trình ký",
                                 actor=officer, occurred_at=t, recorded_at=t)
                holder = self._actor(leader)
                if (t := step(1.0)) is None:
                    return
                dossier.accept_transfer(actor=holder, occurred_at=t, recorded_at=t,
                                        calendar=self.calendar)
                if (t := step(pace / 3)) is None:
                    return
                dossier.sign(decision_number=f"{rng.randint(1, 9999)}/QĐ",
                             decision_title=procedure.name_vi, unlock_key=lambda: self._key(holder),
                             actor=holder, occurred_at=t, recorded_at=t)
            back = hand_over(reception, holder)
            if back is None or (t := step(2)) is None:
                return
            dossier.dispatch(method=DispatchMethod.COUNTER_PICKUP, postal_tracking_number=None,
                             post_office=d.post_office(), actor=back, occurred_at=t,
                             recorded_at=t)
            if (t := step(8)) is not None:
                dossier.deliver(recipient_name="Nguyễn Văn A", actor=back, occurred_at=t,
                                recorded_at=t)

        walk()
        return list(dossier.collect_events())  # type: ignore[arg-type]

    def batches(self, events: int, size: int = 20_000) -> Iterator[list[Dossier.Event]]:
        """About ``events`` events in batches of about ``size``, in recording order: receipt
        days move through the period as the events are made, and each event waits until no
        dossier still to come can be recorded before it (``hoso verify`` reports recording
        times that go back)."""
        made, held = 0, []
        first = (self.now - timedelta(days=self.days)).astimezone(HCMC).date()
        while made < events:
            day = first + timedelta(days=int(self.days * made / events))
            new = self.dossier(day)
            held.extend(new)
            made += len(new)
            if len(held) >= 2 * size:
                # Later dossiers are received on this day or after, in office hours.
                frontier = min(datetime.combine(day, datetime.min.time(), tzinfo=HCMC),
                               self.now - timedelta(hours=1))
                held.sort(key=_recorded)
                cut = bisect_right(held, frontier, key=_recorded)
                if cut >= size:
                    yield held[:cut]
                    held = held[cut:]
        held.sort(key=_recorded)
        for start in range(0, len(held), size):
            yield held[start:start + size]
