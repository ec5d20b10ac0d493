"""Demo dossiers spread over past weeks, recorded through the application service.

Every dossier is received and moved by the staff who would really act on it, with the times
it happened (``occurred_at``) in the past; the store records them now. The scenarios cover
every event type, including late dossiers with and without an apology.
"""

from __future__ import annotations

import heapq
import io
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from uuid import UUID

from domain.application import Attachment, HosoApplication, Outcome
from domain.documents import check_upload
from domain.dossier import RESULT_DOCUMENT, Dossier
from domain.flag_case import Subject, fingerprint
from domain.organisation import Directory, Procedure, Role
from domain.sample_pdf import simple_pdf
from domain.sample_signature import SampleAuthority
from domain.working_days import HCMC, OFFICE_HOURS, WorkingCalendar

_NAMES = ("Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Long", "Phạm Thị Thu", "Huỳnh Minh Khoa",
          "Võ Thị Ngọc Anh", "Đặng Quốc Bảo", "Bùi Thị Hạnh", "Đỗ Thành Nhân", "Hồ Thị Mỹ Linh")
_STREETS = ("Lê Lợi, phường Sài Gòn", "Nguyễn Trãi, phường Chợ Quán", "Võ Văn Tần, phường Xuân Hòa",
            "Cách Mạng Tháng Tám, phường Bàn Cờ", "Phan Xích Long, phường Cầu Kiệu",
            "Lê Văn Việt, phường Tăng Nhơn Phú")

# (scenario, weight): most dossiers go the usual way.
SCENARIOS: tuple[tuple[str, int], ...] = (
    ("usual", 6), ("usual_in_progress", 4), ("supplement", 3), ("second_supplement", 1),
    ("waiting_for_supplement", 1),
    ("rejected", 2), ("refusal_being_returned", 1), ("in_the_post", 1),
    ("ready_at_the_counter", 1),
    ("withdrawn", 1), ("late_with_apology", 2), ("late_without_apology", 2), ("off_route", 1),
    ("not_yet_accepted", 1), ("extended_twice", 1), ("ping_pong", 1), ("back_dated", 1),
    ("clock_gaming", 1), ("night_work", 1),
    # Weight 0: exactly once, among the first dossiers; bad ratings are rare.
    ("rated_well", 2), ("rated_came_back", 0), ("rated_unofficial_request", 0),
    ("refusal_rated", 1),
    # A file still at the counter, whatever the time of day the demo is loaded (the others'
    # next steps depend on it).
    ("just_received", 0),
)
# A result the post could not hand over at the first try, then did; one the citizen chose to
# collect at the counter after a failed attempt, which the post took back. Once each, in the
# demo told through the application (the bulk demo's year does without them).
_POSTAL_FAILURES = ("failed_then_delivered", "returned_by_post")

Step = Callable[[datetime], object]


class DemoDesk(Protocol):
    """The clerks' commands a demo walk uses, as ``HosoApplication`` offers them; the bulk
    demo (``domain/bulk_demo.py``) offers the same on dossiers it saves many at a time."""

    calendar: WorkingCalendar

    @property
    def directory(self) -> Directory: ...

    def dossier(self, dossier_id: UUID) -> Dossier: ...

    def receive(self, *, actor_id: str, procedure_code: str, applicant_name: str,
                applicant_phone: str, applicant_address: str, applicant_id_number: str = "",
                channel: str = ..., documents: Sequence[str],
                occurred_at: datetime | None = None,
                idempotency_key: str | None = None) -> Outcome: ...

    def transfer(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                 to_unit: str, to_officer: str | None = None, note: str = "",
                 occurred_at: datetime | None = None) -> Outcome: ...

    def accept_transfer(self, dossier_id: UUID, *, expected_version: int | None,
                        actor_id: str, occurred_at: datetime | None = None) -> Outcome: ...

    def request_supplement(self, dossier_id: UUID, *, expected_version: int | None,
                           actor_id: str, missing_items: Sequence[str], reason: str,
                           justification: str = "",
                           occurred_at: datetime | None = None) -> Outcome: ...

    def provide_supplement(self, dossier_id: UUID, *, expected_version: int | None,
                           actor_id: str, documents: Sequence[str],
                           occurred_at: datetime | None = None) -> Outcome: ...

    def extend(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
               new_due_date: date, reason: str, apology: str,
               occurred_at: datetime | None = None) -> Outcome: ...

    def reject(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
               reasons: str, occurred_at: datetime | None = None) -> Outcome: ...

    def withdraw(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                 reason: str, occurred_at: datetime | None = None) -> Outcome: ...

    def sign(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
             decision_number: str, decision_title: str, passphrase: str,
             document: bytes | None = None, occurred_at: datetime | None = None) -> Outcome: ...

    def dispatch(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                 method: str, postal_tracking_number: str | None = None,
                 occurred_at: datetime | None = None) -> Outcome: ...

    def deliver(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                recipient_name: str, occurred_at: datetime | None = None) -> Outcome: ...

    def rate(self, token: str, dossier_id: UUID, *, satisfaction: int, came_back: bool,
             unofficial_request: bool, comment: str,
             occurred_at: datetime | None = None) -> Outcome: ...

    def record_failed_delivery(self, dossier_id: UUID, *, expected_version: int | None,
                               actor_id: str, reason: str,
                               occurred_at: datetime | None = None) -> Outcome: ...

    def redirect_delivery(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, address: str | None,
                          occurred_at: datetime | None = None) -> Outcome: ...

    def return_to_counter(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, occurred_at: datetime | None = None) -> Outcome: ...


# One desk's month with enough files for the red flags' minimum samples.
CLUSTER = 48
# What every demo signing officer types to unlock their signing key.
DEMO_SIGNING_PASSPHRASE = "hoso-demo-ky-so"


def load_demo(app: HosoApplication, *, dossiers: int = 120, seed: int = 2026,
              progress: Callable[[], None] | None = None) -> int:
    """Receive ``dossiers`` dossiers and walk each through a scenario; how many were made."""
    rng = random.Random(seed)
    now = app.clock()
    procedures = list(app.directory.procedures.values())
    names = [name for name, _ in SCENARIOS] + list(_POSTAL_FAILURES)
    weights = [weight for _, weight in SCENARIOS] + [0] * len(_POSTAL_FAILURES)
    with_cluster = dossiers >= CLUSTER + len(SCENARIOS)
    with _recording(app) as record_at:
        # Well before the oldest demo dossier, so every demo decision is signed in force.
        record_at.at(_within_office_hours(now - timedelta(days=60), app), timedelta())
        register_demo_signing_keys(app)
    online = ONLINE_SUBMISSIONS if dossiers > ONLINE_SUBMISSIONS else 0
    pickups = POSTAL_PICKUPS if dossiers > online + POSTAL_PICKUPS + len(SCENARIOS) else 0
    # A small demo keeps its dossiers for the scenarios, one each.
    fees = (FEE_DOSSIERS if dossiers >= len(SCENARIOS) + online + pickups + FEE_DOSSIERS
            else 0)
    # A full demo also has a fee overpaid and refunded (a dossier withdrawn after paying)
    # and a fee taken only after the decision was signed: both red flags.
    if fees and dossiers >= 60:
        fees += 2
    electronic = 1 if dossiers >= len(SCENARIOS) + online + pickups + fees + 1 else 0
    walks: list[tuple[_Walk, datetime]] = []
    stories: list[Story] = []
    for n in range((dossiers - CLUSTER if with_cluster else dossiers) - online - pickups
                   - fees - electronic):
        # The first few dossiers take each scenario once, so a small demo has them all.
        scenario = names[n] if n < len(names) else rng.choices(names, weights)[0]
        procedure = rng.choice(procedures)
        days_ago = (rng.uniform(32, 45) if scenario in _LATE
                    else rng.uniform(15, 30) if scenario in _PATTERNS
                    else rng.uniform(1, 8) if scenario in _UNFINISHED
                    else rng.uniform(20, 40) if scenario in _RATED else rng.uniform(2, 40))
        received = _office_time(now - timedelta(days=days_ago), rng)
        walk = _Walk(app, procedure, rng, now, _RecordingClock())
        walks.append((walk, received))
        stories.append(_walk_story(walk, scenario, received, progress))
    if with_cluster:
        stories += cluster_stories(app, rng, now, progress)
    if online:
        stories += online_submission_stories(app, now)
    if pickups:
        stories += postal_pickup_stories(app, now)
    stories += feedback_stories(app, now, walks)
    stories += flag_case_stories(app, now, walks)
    if fees:
        stories += fee_stories(app, now, fees)
    if electronic:
        # One result signed as a PDF, sent online and downloaded after a one-time code.
        walk = _Walk(app, procedures[0], rng, now, _RecordingClock())
        walk.electronic = True
        stories.append(_walk_story(walk, "usual", _office_time(now - timedelta(days=12), rng),
                                   progress))
    _Timeline().tell(app, stories)
    return dossiers


def _walk_story(walk: _Walk, scenario: str, received: datetime,
                progress: Callable[[], None] | None) -> Story:
    def story(clock: _RecordingClock) -> None:
        walk.record_at = clock
        walk.run(scenario, received)
        if progress:
            progress()
    return story


def feedback_stories(app: HosoApplication, now: datetime,
                     walks: list[tuple[_Walk, datetime]]) -> list[Story]:
    """Three citizens' feedback cases on dossiers received weeks ago: one answered by the
    agency's head and closed, one naming an unofficial payment (at the inspectorate), one
    left unanswered past its deadline and escalated."""
    old = [(walk, received) for walk, received in walks
           if received < now - timedelta(days=25)][:3]
    texts = ("Đã quá ngày hẹn nhưng gọi điện không ai nghe máy.",
             "Cán bộ gợi ý nộp thêm tiền để được giải quyết nhanh.",
             "Tôi bổ sung giấy tờ hai lần mà vẫn chưa có kết quả.")

    def case(n: int, walk: _Walk, received: datetime, text: str) -> Story:
        def story(record_at: _RecordingClock) -> None:
            sent = _within_office_hours(received + timedelta(days=1 + n), app)
            record_at.at(sent, timedelta())
            dossier_id = walk.dossier_id_or_fail()  # received before: the story is told
            token = app.dossier(dossier_id).tracking_token
            case = app.give_feedback(token, dossier_id, text=text,
                                     about_unofficial_payment=n == 1,
                                     request_key=f"demo-feedback-{n}-{dossier_id.hex[:8]}")
            if n == 0:
                head = next(s.user_id for s in app.directory.members_of(
                    app.feedback(case.feedback_id).unit_code) if s.may_sign)
                record_at.at(_within_office_hours(sent + timedelta(days=3), app), timedelta())
                app.answer_feedback(case.feedback_id, actor_id=head, answer=(
                    "Hồ sơ chậm do chờ xác minh; đơn vị xin lỗi và đã trả kết quả. Số điện "
                    "thoại của bộ phận đã được kiểm tra lại."))
                record_at.at(_within_office_hours(sent + timedelta(days=4), app), timedelta())
                app.close_feedback(token, dossier_id, case.feedback_id)
            elif n == 2:
                due = app.feedback(case.feedback_id).due_on
                record_at.at(datetime.combine(due + timedelta(days=1), time(0, 30),
                                              tzinfo=HCMC), timedelta())
                app.escalate_feedback(case.feedback_id)
        return story

    return [case(n, walk, received, text)
            for n, ((walk, received), text) in enumerate(zip(old, texts, strict=False))]


def flag_case_stories(app: HosoApplication, now: datetime,
                      walks: list[tuple[_Walk, datetime]]) -> list[Story]:
    """The inspector takes up a flag on an old dossier (a citizen's complaint) and writes a
    first note; the case stays open on the desk."""
    old = [(walk, received) for walk, received in walks
           if received < now - timedelta(days=25)][:1]

    def story_of(walk: _Walk, received: datetime) -> Story:
        def story(record_at: _RecordingClock) -> None:
            record_at.at(_within_office_hours(received + timedelta(days=5), app), timedelta())
            inspector = next(s.user_id for s in app.directory.staff.values()
                             if Role.INSPECTOR in s.roles)
            case = app.open_flag_case(
                actor_id=inspector, flag_kind="bad_ratings", subject=Subject.DOSSIER,
                subject_id=str(walk.dossier_id_or_fail()),
                facts_fingerprint=fingerprint(f"demo|{walk.dossier_id_or_fail()}"))
            app.write_flag_case_note(case.case_id, actor_id=inspector, note=(
                "Đã gọi công dân để xác minh; chờ đơn vị giải trình."))
        return story

    return [story_of(walk, received) for walk, received in old]


POSTAL_PICKUPS = 4


def postal_pickup_stories(app: HosoApplication, now: datetime) -> list[Story]:
    """Four dossiers the post collects at citizens' addresses, from two days ago: one still
    to collect, one on its way, one left at the counter, one received there."""
    procedure = next(iter(app.directory.procedures.values()))
    clerk = next(s.user_id for s in app.directory.members_of(procedure.reception_unit)
                 if Role.RECEPTION in s.roles)
    agent = next(s.user_id for s in app.directory.members_of(app.directory.post_office().code))
    start = _within_office_hours(now - timedelta(days=2), app)
    if start > now - timedelta(hours=4):  # a long holiday: never in the future
        start = now - timedelta(hours=4)

    def pickup(n: int, name: str) -> Story:
        def story(record_at: _RecordingClock) -> None:
            record_at.at(start + timedelta(minutes=10 * n), timedelta())
            dossier_id = app.request_pickup(
                actor_id=clerk, procedure_code=procedure.code, applicant_name=name,
                applicant_phone=f"09{81234560 + n}", applicant_address=f"{12 + n} Lê Lợi, Q.1",
                documents=[procedure.document_list[0].name_vi] if procedure.document_list
                else [], idempotency_key=f"demo-pickup-{n}-{start:%Y%m%d}").dossier_id
            steps: list[Callable[[], object]] = [
                lambda: app.collect(dossier_id, expected_version=None, actor_id=agent,
                                    postal_tracking_number=f"EB{70000000 + n}VN",
                                    items=["Hồ sơ đề nghị (1 bộ)"]),
                lambda: app.hand_over(dossier_id, expected_version=None, actor_id=agent),
                lambda: app.receive_from_post(dossier_id, expected_version=None,
                                              actor_id=clerk),
            ]
            for hours, step in enumerate(steps[:n], start=1):
                record_at.at(start + timedelta(hours=hours, minutes=10 * n), timedelta())
                step()
        return story

    return [pickup(n, name) for n, name in enumerate(
        ("Hồ Văn Lộc", "Quách Thị Mai", "Vương Đức Anh", "Lưu Thị Hạnh"))]


FEE_DOSSIERS = 2


def fee_stories(app: HosoApplication, now: datetime,
                count: int = FEE_DOSSIERS) -> list[Story]:
    """Fees on the record: one paid in cash at the counter when received; one whose holder
    asked, days later, for an obligation fixed during processing and which waits for the
    citizen to pay it (portal status 6); with ``count`` 4, one paid more than owed,
    withdrawn the next day and refunded, and one whose fee was taken only once it was
    signed."""
    paying = [p for p in app.directory.procedures.values() if p.fee and p.fee.amount_vnd]
    if not paying:
        return []
    procedure = paying[0]
    fee = procedure.fee
    assert fee is not None
    clerk = next(s.user_id for s in app.directory.members_of(procedure.reception_unit)
                 if Role.RECEPTION in s.roles)
    received = _within_office_hours(now - timedelta(days=9), app)

    def story(n: int, name: str) -> Story:
        def told(record_at: _RecordingClock) -> None:
            at = received + timedelta(minutes=25 * n)
            record_at.at(at, timedelta())
            outcome = app.receive(
                actor_id=clerk, procedure_code=procedure.code, applicant_name=name,
                applicant_phone=f"09{61234560 + n}", applicant_address="TP.HCM",
                documents=[d.name_vi for d in procedure.document_list if d.required],
                idempotency_key=f"demo-fee-{n}-{received:%Y%m%d}")
            if n == 0:
                record_at.at(at + timedelta(minutes=5), timedelta())
                app.record_payment(outcome.dossier_id, expected_version=None, actor_id=clerk,
                                   amount_vnd=fee.due_at_reception, method="cash",
                                   receipt_number=f"BL-{received:%y%m%d}-{n + 1:04d}")
            elif n == 3:
                d, route = outcome.dossier_id, procedure.route
                desk = next(s.user_id for s in app.directory.members_of(route[1].unit_code)
                            if Role.SPECIALIST in s.roles)
                lead = next(s.user_id for s in app.directory.members_of(route[2].unit_code)
                            if Role.SIGNING_OFFICER in s.roles)
                for day, (sender, to, receiver) in enumerate(
                        ((clerk, route[1].unit_code, desk), (desk, route[2].unit_code, lead)),
                        start=1):
                    record_at.at(_within_office_hours(at + timedelta(days=day), app),
                                 timedelta())
                    app.transfer(d, expected_version=None, actor_id=sender, to_unit=to)
                    app.accept_transfer(d, expected_version=None, actor_id=receiver)
                record_at.at(_within_office_hours(at + timedelta(days=3), app), timedelta())
                app.sign(d, expected_version=None, actor_id=lead, decision_number="88/DEMO",
                         decision_title=procedure.name_vi,
                         passphrase=DEMO_SIGNING_PASSPHRASE)
                record_at.at(_within_office_hours(at + timedelta(days=3, hours=2), app),
                             timedelta())
                app.record_payment(d, expected_version=None, actor_id=clerk,
                                   amount_vnd=fee.due_at_reception, method="cash",
                                   receipt_number=f"BL-{received:%y%m%d}-{n + 1:04d}")
            elif n == 2:
                record_at.at(at + timedelta(minutes=5), timedelta())
                app.record_payment(outcome.dossier_id, expected_version=None, actor_id=clerk,
                                   amount_vnd=fee.due_at_reception + 50_000, method="cash",
                                   receipt_number=f"BL-{received:%y%m%d}-{n + 1:04d}")
                record_at.at(_within_office_hours(at + timedelta(days=1), app), timedelta())
                app.withdraw(outcome.dossier_id, expected_version=None, actor_id=clerk,
                             reason="Công dân xin rút hồ sơ để bổ sung thông tin.")
                app.refund(outcome.dossier_id, expected_version=None, actor_id=clerk,
                           amount_vnd=fee.due_at_reception + 50_000,
                           reason="Rút hồ sơ trước khi giải quyết: hoàn lại lệ phí.",
                           receipt_number=f"PC-{received:%y%m%d}-{n + 1:04d}")
            else:
                record_at.at(_within_office_hours(at + timedelta(days=2), app), timedelta())
                app.request_payment(
                    outcome.dossier_id, expected_version=None, actor_id=clerk,
                    amount_vnd=1_500_000,
                    reason="Lệ phí trước bạ theo thông báo của cơ quan thuế (Nghị định "
                           "10/2022/NĐ-CP); nộp trước khi được giải quyết tiếp.")
        return told

    names = ("Hà Thị Liên", "Quách Văn Tài", "Mạc Thị Xuân", "Đinh Công Thành")
    return [story(n, name) for n, name in enumerate(names[:count])]


ONLINE_SUBMISSIONS = 3


def online_submission_stories(app: HosoApplication, now: datetime) -> list[Story]:
    """Three citizens' online submissions from a few days ago: one still awaiting the counter's
    check (portal status 1), one received, one refused to receive (status 3)."""
    online = [p for p in app.directory.procedures.values() if p.online]
    if not online:
        return []
    procedure = online[0]
    clerk = next(s.user_id for s in app.directory.members_of(procedure.reception_unit)
                 if Role.RECEPTION in s.roles)
    yesterday = _within_office_hours(now - timedelta(days=4), app)
    if yesterday > now - timedelta(hours=3):  # a long holiday: never in the future
        yesterday = now - timedelta(hours=3)

    def submission(n: int, name: str, outcome: str) -> Story:
        def story(record_at: _RecordingClock) -> None:
            record_at.at(yesterday + timedelta(minutes=20 * n), timedelta())
            scans = [Attachment(d.name_vi, check_upload(
                io.BytesIO(simple_pdf(1, text=f"Online {n} {i}")), f"giay-to-{i + 1}.pdf"))
                for i, d in enumerate(procedure.document_list) if d.required]
            submitted = app.submit_online(
                procedure_code=procedure.code, applicant_name=name,
                applicant_phone=f"09{71234560 + n}", applicant_address="TP.HCM",
                applicant_email=f"demo{n}@example.vn", result_delivery="online",
                attachments=scans, confirm_contact=lambda _: None,
                idempotency_key=f"demo-online-{n}-{yesterday:%Y%m%d}")
            record_at.at(yesterday + timedelta(hours=2, minutes=20 * n), timedelta())
            if outcome == "accept":
                app.accept_online(submitted.dossier_id, expected_version=None, actor_id=clerk)
            elif outcome == "refuse":
                app.refuse_to_receive(
                    submitted.dossier_id, expected_version=None, actor_id=clerk,
                    reasons="Ảnh chụp CCCD bị mờ, không đọc được số; xin nộp lại bản rõ hơn.")
        return story

    return [submission(n, name, outcome) for n, (name, outcome) in enumerate(
        (("Đinh Thị Thu", "waiting"), ("Lâm Văn Phúc", "accept"), ("Tạ Minh Khoa", "refuse")))]


def add_cluster(app: HosoApplication, rng: random.Random, now: datetime,
                progress: Callable[[], None] | None = None) -> None:
    """The judicial records desk's month (``CLUSTER`` dossiers), and a clerk of another
    department reading two of its files: through the application, one command at a time,
    in the order of their recording times."""
    _Timeline().tell(app, cluster_stories(app, rng, now, progress))


def cluster_stories(app: HosoApplication, rng: random.Random, now: datetime,
                    progress: Callable[[], None] | None = None) -> list[Story]:
    month = desk_month(app, rng, now, progress)
    return [story for _, story in (*month.by_the_application, *month.dossiers)]


@dataclass(frozen=True)
class DeskMonth:
    """The judicial records desk's month as stories, each with the moment it begins:
    ``by_the_application`` (the newcomer's appointment, the other clerk's readings) are told
    through the application; ``dossiers`` through the desk given to ``desk_month``."""

    by_the_application: list[tuple[datetime, Story]]
    dossiers: list[tuple[datetime, Story]]


def desk_month(app: HosoApplication, rng: random.Random, now: datetime,
               progress: Callable[[], None] | None = None,
               desk: DemoDesk | None = None) -> DeskMonth:
    made: list[UUID] = []
    appointment, dossiers = _favours_and_a_broker(app, rng, now, made, progress,
                                                  desk or app)

    def reading(n: int, moment: datetime) -> Story:
        # A clerk of another department looks into two of them: nothing to do with her.
        def story(record_at: _RecordingClock) -> None:
            record_at.at(moment, timedelta())
            app.open_dossier(made[n], viewer_id="dkkd")
        return story

    readings = [(moment, reading(n, moment)) for n, moment in (
        (n, _within_office_hours(now - timedelta(days=3, hours=n), app)) for n in (1, 0))]
    return DeskMonth([appointment, *readings], dossiers)


def register_demo_signing_keys(app: HosoApplication) -> None:
    for staff in app.directory.staff.values():
        if staff.may_sign and not any(k.revoked_at is None
                                      for k in app.signing_keys(staff.user_id)):
            app.register_signing_key(officer_id=staff.user_id,
                                     passphrase=DEMO_SIGNING_PASSPHRASE)


# Dossiers left part-way on purpose: recent, so they show work in progress, not neglect.
_UNFINISHED = ("usual_in_progress", "not_yet_accepted", "waiting_for_supplement",
               "just_received")
# Patterns the red flags look for: told in full, well in the past.
_PATTERNS = ("ping_pong", "back_dated", "night_work", "off_route")
_LATE = ("late_with_apology", "late_without_apology", "extended_twice", "clock_gaming")
# Rated ones: old enough for the whole walk, and the rating after it, to have happened
# (the postal failures too, for their attempts after the dispatch).
_RATED = ("rated_well", "rated_came_back", "rated_unofficial_request", "refusal_rated",
          "failed_then_delivered", "returned_by_post")


class _RecordingClock:
    """The demo tells history as if it were typed in as it happened, minutes after each step.

    Without it every demo event would look recorded weeks late — back-dated. Within one
    story the recording time never goes back: a step typed in late holds up the next.
    """

    def __init__(self) -> None:
        self.moment: datetime | None = None

    def __call__(self) -> datetime:
        assert self.moment is not None
        return self.moment

    def at(self, occurred: datetime, delay: timedelta = timedelta(minutes=12)) -> None:
        moment = occurred + delay
        self.moment = moment if self.moment is None else max(self.moment, moment)

    def new_story(self) -> None:
        self.moment = None


@contextmanager
def _recording(app: HosoApplication) -> Iterator[_RecordingClock]:
    clock, real = _RecordingClock(), app.clock
    app.clock = clock
    try:
        yield clock
    finally:
        app.clock = real


Story = Callable[[_RecordingClock], object]


class _StoppedTelling(BaseException):
    """Raised in a story's thread when another story failed: it stops where it is."""


class _StoryClock(_RecordingClock):
    """One story's recording clock in a ``_Timeline``: each ``at`` waits for its turn."""

    def __init__(self, timeline: _Timeline, number: int) -> None:
        super().__init__()
        self.timeline, self.number = timeline, number
        self.turn = threading.Event()

    def __call__(self) -> datetime:
        return self.timeline()

    def at(self, occurred: datetime, delay: timedelta = timedelta(minutes=12)) -> None:
        super().at(occurred, delay)
        assert self.moment is not None
        self.timeline.wait_for_turn(self, self.moment)


class _Timeline:
    """Tells many stories at once, each step at its recording time, in the order of those
    times across every story — as the store would have recorded them had they happened.

    A story is a function of its recording clock, told in its own thread, but only one
    thread runs at a time: a story's ``clock.at(moment)`` hands over to the story whose next
    step is due first, and gets the turn back when its own moment is the earliest. Without
    it each dossier's story would be told in full before the next one's, and recording
    times would go back and forth in the store's order (``hoso verify`` reports that).
    """

    def __init__(self) -> None:
        self.moment: datetime | None = None
        self._due: list[tuple[datetime, int, _StoryClock]] = []
        self._yielded = threading.Event()
        self._failure: BaseException | None = None
        self._stopping = False

    def __call__(self) -> datetime:
        assert self.moment is not None
        return self.moment

    def wait_for_turn(self, clock: _StoryClock, moment: datetime) -> None:
        heapq.heappush(self._due, (moment, clock.number, clock))
        clock.turn.clear()
        self._yielded.set()
        clock.turn.wait()
        if self._stopping:
            raise _StoppedTelling
        self.moment = moment

    def tell(self, app: HosoApplication, stories: Sequence[Story]) -> None:
        real = app.clock
        app.clock = self
        clocks = [_StoryClock(self, n) for n in range(len(stories))]
        threads = [threading.Thread(target=self._run, args=(story, clock), daemon=True,
                                    name=f"hoso-demo-story-{n}")
                   for n, (story, clock) in enumerate(zip(stories, clocks, strict=True))]
        try:
            for thread in threads:
                # Each story runs alone up to its first step's moment.
                self._yielded.clear()
                thread.start()
                self._yielded.wait()
                if self._failure:
                    raise self._failure
            while self._due:
                _, _, clock = heapq.heappop(self._due)
                self._yielded.clear()
                clock.turn.set()
                self._yielded.wait()
                if self._failure:
                    raise self._failure
        finally:
            self._stopping = True
            for _, _, clock in self._due:
                clock.turn.set()
            for thread in threads:
                if thread.ident is not None:
                    thread.join()
            app.clock = real

    def _run(self, story: Story, clock: _StoryClock) -> None:
        try:
            story(clock)
        except _StoppedTelling:
            return
        except BaseException as error:  # handed to the thread telling the stories
            self._failure = error
        self._yielded.set()


def _office_time(moment: datetime, rng: random.Random) -> datetime:
    local = moment.astimezone(HCMC)
    while local.weekday() >= 5:
        local -= timedelta(days=1)
    return local.replace(hour=rng.randint(7, 16), minute=rng.choice((5, 20, 35, 50)),
                         second=0, microsecond=0)


class _Walk:
    """One dossier's scenario. ``to_the_end``: once the scenario's pattern is told, the file
    goes on to its result and delivery (a year of files left half-way would be a year of
    neglect); the small demo's files are recent and stop where their story does."""

    def __init__(self, app: DemoDesk, procedure: Procedure, rng: random.Random,
                 now: datetime, record_at: _RecordingClock, *, to_the_end: bool = False) -> None:
        self.app, self.procedure, self.rng, self.now = app, procedure, rng, now
        self.record_at = record_at
        self.to_the_end = to_the_end
        units = procedure.route_units
        self.reception, self.specialist, self.leader = units[0], units[1], units[2]
        self.dossier_id: UUID | None = None
        # The result signed as a PDF, sent online and downloaded by the citizen (the small
        # demo's one electronic result; the bulk demo's desk takes paper results only).
        self.electronic = False

    def _attach_scan(self, app: HosoApplication, clerk: str, received: datetime) -> None:
        """The counter's scan of the first document, so the demo shows a file to open."""
        content = simple_pdf(2, text=f"Demo scan {self.procedure.code}")
        scan = check_upload(io.BytesIO(content), "scan-01.pdf")
        self.record_at.at(received + timedelta(minutes=5))
        app.attach_documents(self.dossier_id_or_fail(), expected_version=None,
                             actor_id=clerk,
                             attachments=[Attachment(self.procedure.documents[0], scan)])

    def dossier_id_or_fail(self) -> UUID:
        assert self.dossier_id is not None
        return self.dossier_id

    def member(self, unit: str, signer: bool = False) -> str:
        members = self.app.directory.members_of(unit)
        return next(s.user_id for s in members if s.may_sign or not signer)

    def run(self, scenario: str, received: datetime) -> None:
        a, rng = self.app, self.rng
        rid = self.member(self.reception)
        self.record_at.at(received)
        outcome = a.receive(
            actor_id=rid, procedure_code=self.procedure.code,
            applicant_name=rng.choice(_NAMES),
            applicant_phone=f"09{rng.randint(10_000_000, 99_999_999)}",
            applicant_address=f"{rng.randint(1, 300)} {rng.choice(_STREETS)}, TP.HCM",
            channel=rng.choice(("counter", "counter", "post_office", "online")),
            documents=list(self.procedure.documents), occurred_at=received,
        )
        self.dossier_id = outcome.dossier_id
        if scenario == "just_received" and isinstance(a, HosoApplication):
            self._attach_scan(a, rid, received)
        # Hours between steps; a slow desk now and then makes some dossiers late.
        pace = self.procedure.processing_days * rng.choice((1.5, 2.5, 3.0))
        slow = pace * 4 if scenario in _LATE else pace
        steps = self._script(scenario, rid)
        when = received
        for n, (gap_factor, step) in enumerate(steps):
            when = when + timedelta(hours=rng.uniform(0.3, 1.0) * gap_factor * slow)
            when = _within_office_hours(when, self.app)
            if scenario == "night_work" and n == 2:
                when = _saturday_night_after(when)
            if when > self.now - timedelta(minutes=10):
                return
            # A paper transfer typed in three days later: what back-dating looks like.
            late_entry = scenario == "back_dated" and n == 0
            self.record_at.at(when, timedelta(days=3) if late_entry else timedelta(minutes=12))
            if self.record_at.moment and self.record_at.moment > self.now:
                return
            step(when)
            if late_entry and self.record_at.moment:
                # What follows happened after the paper was typed in: no one could act on
                # the transfer before it was in the system.
                when = self.record_at.moment
            if self.to_the_end:  # a step may have happened later than planned (on the due day)
                when = max(when, self.app.dossier(self.dossier_id).last_occurred_at)

    def _script(self, scenario: str, rid: str) -> list[tuple[float, Step]]:
        a, d = self.app, self.dossier_id
        assert d is not None
        spec, lead = self.member(self.specialist), self.member(self.leader, signer=True)
        by_post = scenario in ("in_the_post", *_POSTAL_FAILURES) or (
            scenario != "ready_at_the_counter" and self.rng.random() < 0.4)

        def transfer(actor: str, unit: str, note: str = "") -> Step:
            return lambda t: a.transfer(d, expected_version=None, actor_id=actor, to_unit=unit,
                                        note=note, occurred_at=t)

        def accept(actor: str) -> Step:
            return lambda t: a.accept_transfer(d, expected_version=None, actor_id=actor,
                                               occurred_at=t)

        listed = self.procedure.document_list[-1].name_vi

        def supplement(justification: str = "", item: str = listed) -> Step:
            return lambda t: a.request_supplement(
                d, expected_version=None, actor_id=spec, missing_items=[item],
                reason="Bản sao nộp kèm chưa được chứng thực", justification=justification,
                occurred_at=t)

        def supplement_on_due_day(t: datetime) -> object:
            # Asked for on the morning of the due date: the clock stops just in time.
            due = a.dossier(d).due_date
            moment = datetime.combine(due, datetime.min.time(), tzinfo=HCMC) + timedelta(
                hours=9)
            self.record_at.at(moment)
            return supplement()(moment)

        def provided(t: datetime) -> object:
            return a.provide_supplement(d, expected_version=None, actor_id=rid,
                                        documents=["Bản sao có chứng thực"], occurred_at=t)

        def extend(t: datetime) -> object:
            due = a.dossier(d).due_date
            return a.extend(d, expected_version=None, actor_id=spec,
                            new_due_date=a.calendar.add_working_days(due, 5),
                            reason="Cần xác minh thêm với cơ quan liên quan",
                            apology="Chúng tôi thành thật xin lỗi vì chậm trả kết quả.",
                            occurred_at=min(t, _end_of(due)))

        def sign(t: datetime) -> object:
            number = f"{self.rng.randint(100, 9999)}/QĐ"
            if self.electronic and isinstance(a, HosoApplication):
                # Signed (PAdES) by the officer's certificate from a throwaway demo CA made
                # now, which the application trusts for this one signature only.
                authority = SampleAuthority()
                officer = authority.officer(a.directory.member(lead).full_name[:64])
                pdf = officer.sign(simple_pdf(1, text=f"Quyet dinh {number}"))
                trust = a.result_trust
                a.result_trust = trust.also_trusting(authority.root)
                try:
                    return a.sign(d, expected_version=None, actor_id=lead,
                                  decision_number=number, decision_title=self.procedure.name_vi,
                                  passphrase=DEMO_SIGNING_PASSPHRASE, occurred_at=t,
                                  result=Attachment(RESULT_DOCUMENT, check_upload(
                                      io.BytesIO(pdf), "ket-qua.pdf")))
                finally:
                    a.result_trust = trust
            return a.sign(d, expected_version=None, actor_id=lead, decision_number=number,
                          decision_title=self.procedure.name_vi,
                          passphrase=DEMO_SIGNING_PASSPHRASE, occurred_at=t)

        def reject(t: datetime) -> object:
            return a.reject(d, expected_version=None, actor_id=spec, occurred_at=t,
                            reasons="Thửa đất đang có tranh chấp nên chưa đủ điều kiện "
                                    "giải quyết")

        def dispatch(t: datetime) -> object:
            if self.electronic:
                return a.dispatch(d, expected_version=None, actor_id=rid, method="online",
                                  occurred_at=t)
            return a.dispatch(
                d, expected_version=None, actor_id=rid,
                method="post" if by_post else "counter_pickup",
                postal_tracking_number=f"EB{self.rng.randint(10**8, 10**9 - 1)}VN"
                if by_post else None, occurred_at=t)

        def deliver(t: datetime) -> object:
            if self.electronic and isinstance(a, HosoApplication):
                return a.download_result(d)  # after a one-time code, at the look-up
            courier = self.member(a.directory.post_office().code) if by_post else rid
            return a.deliver(d, expected_version=None, actor_id=courier,
                             recipient_name="Người nộp hồ sơ", occurred_at=t)

        courier = self.member(a.directory.post_office().code)

        def failed_attempt(reason: str) -> Step:
            return lambda t: a.record_failed_delivery(d, expected_version=None,
                                                      actor_id=courier, reason=reason,
                                                      occurred_at=t)

        def to_the_counter(t: datetime) -> object:
            return a.redirect_delivery(d, expected_version=None, actor_id=rid, address=None,
                                       occurred_at=t)

        def taken_back(t: datetime) -> object:
            return a.return_to_counter(d, expected_version=None, actor_id=courier,
                                       occurred_at=t)

        def handed_out(t: datetime) -> object:
            return a.deliver(d, expected_version=None, actor_id=rid,
                             recipient_name="Người nộp hồ sơ", occurred_at=t)

        def rate(satisfaction: int, *, came_back: bool = False,
                 unofficial_request: bool = False, comment: str = "") -> Step:
            return lambda t: a.rate(a.dossier(d).tracking_token, d, satisfaction=satisfaction,
                                    came_back=came_back, unofficial_request=unofficial_request,
                                    comment=comment, occurred_at=t)

        def withdraw(t: datetime) -> object:
            return a.withdraw(d, expected_version=None, actor_id=rid,
                              reason="Công dân có đơn xin rút hồ sơ", occurred_at=t)

        Script = list[tuple[float, Step]]
        to_specialist: Script = [(0.3, transfer(rid, self.specialist)), (0.3, accept(spec))]
        to_leader: Script = [(1.0, transfer(spec, self.leader, "Trình ký")), (0.3, accept(lead))]
        back: Script = [(0.5, transfer(lead, self.reception, "Chuyển trả kết quả")),
                        (0.3, accept(rid))]
        finish: Script = [(0.5, dispatch), (1.0, deliver)]
        to_result: Script = to_specialist + to_leader + [(0.5, sign)] + back + finish
        to_dispatch: Script = to_specialist + to_leader + [(0.5, sign)] + back + finish[:1]
        stop = self.rng.randint(0, 12)
        scripts: dict[str, list[tuple[float, Step]]] = {
            "usual": to_specialist + to_leader + [(0.5, sign)] + back + finish,
            "usual_in_progress": (to_specialist + to_leader + [(0.5, sign)] + back
                                  + finish)[:stop],
            "supplement": to_specialist + [(0.5, supplement()), (1.5, provided)] + to_leader
            + [(0.5, sign)] + back + finish,
            "second_supplement": to_specialist + [
                (0.5, supplement()), (1.0, provided),
                (0.5, supplement("Bản sao đã bổ sung bị mờ, không đọc được")), (1.0, provided)],
            "rejected": to_specialist + [(1.0, reject),
                                         (0.5, transfer(spec, self.reception, "Trả hồ sơ")),
                                         (0.3, accept(rid))] + finish,
            "waiting_for_supplement": to_specialist + [(0.5, supplement())],
            "in_the_post": to_specialist + to_leader + [(0.5, sign)] + back + finish[:1],
            "ready_at_the_counter": to_specialist + to_leader + [(0.5, sign)] + back
            + finish[:1],
            "refusal_being_returned": to_specialist + [(1.0, reject)],
            "withdrawn": to_specialist + [(0.5, withdraw)],
            "late_with_apology": to_specialist + [(1.0, extend)],
            "late_without_apology": to_specialist,
            "off_route": [(0.3, transfer(rid, "STP-HCTP" if self.specialist != "STP-HCTP"
                                         else "STC-DKKD", "Xin ý kiến phối hợp"))],
            "not_yet_accepted": [(0.3, transfer(rid, self.specialist))],
            "just_received": [],
            "extended_twice": to_specialist + [(0.6, extend), (0.6, extend)],
            "ping_pong": to_specialist + to_leader + [
                (0.3, transfer(lead, self.specialist, "Trả lại để làm rõ ý kiến")),
                (0.3, accept(spec)), (0.5, transfer(spec, self.leader, "Trình ký lại")),
                (0.3, accept(lead)), (0.5, sign)],
            "back_dated": to_specialist + to_leader,
            "clock_gaming": to_specialist + [(0.1, supplement_on_due_day)],
            "night_work": to_specialist + to_leader,
            "rated_well": to_result + [(0.5, rate(self.rng.choice((4, 5, 5)),
                                                  comment="Cán bộ hướng dẫn tận tình."))],
            "rated_came_back": to_specialist + [
                (0.5, supplement()), (1.0, provided),
                # A paper the published list does not ask for: the red flags count it.
                (0.5, supplement("Bản sao đã bổ sung bị mờ, không đọc được",
                                 "Giấy xác nhận của công an phường")), (1.0, provided)]
            + to_leader + [(0.5, sign)] + back + finish
            + [(0.5, rate(2, came_back=True,
                          comment="Phải lên bổ sung hai lần; lần đầu không được báo đủ."))],
            "rated_unofficial_request": to_result + [
                (0.5, rate(1, came_back=True, unofficial_request=True,
                           comment="Được gợi ý nộp thêm “phí làm nhanh” không có biên lai."))],
            "failed_then_delivered": to_dispatch + [(0.6, failed_attempt("nobody_home")),
                                                    (0.6, deliver)],
            "returned_by_post": to_dispatch + [
                (0.6, failed_attempt("wrong_address")), (0.3, to_the_counter),
                (0.4, taken_back), (1.0, handed_out)],
            "refusal_rated": to_specialist + [
                (1.0, reject), (0.5, transfer(spec, self.reception, "Trả hồ sơ")),
                (0.3, accept(rid)), (0.5, rate(3, comment="Lý do từ chối được giải thích rõ."))],
        }
        if not self.to_the_end:
            return scripts[scenario]
        other = "STP-HCTP" if self.specialist != "STP-HCTP" else "STC-DKKD"
        helper = self.member(other)
        to_result_from_desk: Script = to_leader + [(0.5, sign)] + back + finish
        returned: Script = [(0.5, transfer(spec, self.reception, "Trả hồ sơ")),
                            (0.3, accept(rid))] + finish
        rest: dict[str, Script] = {
            "second_supplement": to_result_from_desk,
            "late_with_apology": to_result_from_desk,
            "late_without_apology": to_result_from_desk,
            "extended_twice": to_result_from_desk,
            "clock_gaming": [(1.5, provided)] + to_result_from_desk,
            "back_dated": [(0.5, sign)] + back + finish,
            "night_work": [(0.5, sign)] + back + finish,
            "ping_pong": back + finish,
            "refusal_being_returned": returned,
            "in_the_post": finish[1:],
            "ready_at_the_counter": finish[1:],
            "refusal_rated": finish,
            "off_route": [(0.3, accept(helper)),
                          (0.5, transfer(helper, self.specialist, "Gửi lại sau khi phối hợp")),
                          (0.3, accept(spec))] + to_result_from_desk,
        }
        return scripts[scenario] + rest.get(scenario, [])


def _within_office_hours(moment: datetime, app: DemoDesk) -> datetime:
    """Staff act in office hours: a step due at night happens at the next opening."""
    local = moment.astimezone(HCMC)
    for _ in range(30):
        day = local.date()
        if app.calendar.is_working_day(day):
            for opens, closes in OFFICE_HOURS:
                start = datetime.combine(day, opens, tzinfo=HCMC)
                end = datetime.combine(day, closes, tzinfo=HCMC)
                if local < end:
                    return max(local, start + timedelta(minutes=local.minute % 20 + 5))
        local = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=HCMC)
    return local


def _saturday_night_after(moment: datetime) -> datetime:
    local = moment.astimezone(HCMC)
    saturday = local.date() + timedelta(days=(5 - local.weekday()) % 7)
    return datetime.combine(saturday, datetime.min.time(), tzinfo=HCMC) + timedelta(hours=21)


def _favours_and_a_broker(app: HosoApplication, rng: random.Random, now: datetime,
                          made: list[UUID], progress: Callable[[], None] | None,
                          desk: DemoDesk) -> tuple[tuple[datetime, Story],
                                                   list[tuple[datetime, Story]]]:
    """A month at the judicial records desk, with enough files for the red flags' samples.

    A second specialist arrives; most of her files wait days, but two files sharing a phone
    with three others fly through (possible favours, overtaking older files, a broker).
    Her colleague asks for missing documents on almost every other file. ``made`` gets the
    dossiers' ids in the order of their receipt; the files are handled through ``desk``.
    """
    procedure = app.directory.procedure("2.000488")
    reception, specialist, leader = procedure.route_units[:3]
    walk = _Walk(app, procedure, rng, now, _RecordingClock())
    rid, spec = walk.member(reception), walk.member(specialist)
    lead = walk.member(leader, signer=True)
    start = _office_time(now - timedelta(days=40), rng)

    appointed = start - timedelta(days=1)

    def newcomer_arrives(record_at: _RecordingClock) -> None:
        # Recorded at the moment it is told (no typing delay): the bulk demo tells it when
        # the walk reaches that moment, and a later recording time would put it after
        # events recorded before it.
        record_at.at(appointed, timedelta())
        app.appoint_staff(admin_id="quantri", user_id="hctp2", full_name="Lê Văn Tín",
                          unit_code=specialist, roles=["specialist"])

    broker_phone = "0909123456"

    def dossier(n: int) -> Story:
        def story(record_at: _RecordingClock) -> None:
            newcomer = n % 2 == 0
            favoured = n in (40, 44)
            received = _within_office_hours(start + timedelta(hours=9 * n), app)
            officer = "hctp2" if newcomer else spec
            record_at.at(received)
            d = desk.receive(
                actor_id=rid, procedure_code=procedure.code,
                applicant_name=rng.choice(_NAMES),
                applicant_phone=broker_phone if favoured or n in (6, 18, 30)
                else f"09{rng.randint(10_000_000, 99_999_999)}",
                applicant_address=f"{rng.randint(1, 300)} {rng.choice(_STREETS)}, TP.HCM",
                channel="counter", documents=list(procedure.documents), occurred_at=received,
            ).dossier_id
            made.append(d)
            handed = _within_office_hours(received + timedelta(hours=1), app)
            done = _within_office_hours(
                handed + (timedelta(minutes=50) if favoured else timedelta(days=4)), app)
            asks = not newcomer and n % 4 == 1

            plan = [(handed, "hand_over"), (handed + timedelta(minutes=20), "open")]
            if asks:
                plan += [(done, "ask"), (_within_office_hours(done + timedelta(days=2), app),
                                         "provided")]
                done = _within_office_hours(done + timedelta(days=3), app)
            plan += [(done, "onward"), (_within_office_hours(done + timedelta(hours=2), app),
                                        "leader_opens"),
                     (_within_office_hours(done + timedelta(hours=5), app), "sign")]
            for moment, what in plan:
                if moment > now - timedelta(minutes=30):
                    break
                record_at.at(moment)
                _cluster_step(desk, what, d, moment, rid=rid, officer=officer, lead=lead,
                              specialist=specialist, leader=leader,
                              decision=f"{rng.randint(100, 9999)}/PLLTP")
            if progress:
                progress()
        return story

    return ((appointed, newcomer_arrives),
            [(_within_office_hours(start + timedelta(hours=9 * n), app), dossier(n))
             for n in range(CLUSTER)])


def _cluster_step(app: DemoDesk, what: str, d: UUID, t: datetime, *, rid: str,
                  officer: str, lead: str, specialist: str, leader: str, decision: str) -> None:
    if what == "hand_over":
        app.transfer(d, expected_version=None, actor_id=rid, to_unit=specialist, occurred_at=t)
    elif what == "open":
        app.accept_transfer(d, expected_version=None, actor_id=officer, occurred_at=t)
    elif what == "ask":
        app.request_supplement(d, expected_version=None, actor_id=officer,
                               missing_items=["Bản chụp CCCD"],
                               reason="Cần đối chiếu thông tin nhân thân", justification="",
                               occurred_at=t)
    elif what == "provided":
        app.provide_supplement(d, expected_version=None, actor_id=rid,
                               documents=["Bản chụp CCCD"], occurred_at=t)
    elif what == "onward":
        app.transfer(d, expected_version=None, actor_id=officer, to_unit=leader, note="Trình ký",
                     occurred_at=t)
    elif what == "leader_opens":
        app.accept_transfer(d, expected_version=None, actor_id=lead, occurred_at=t)
    elif what == "sign":
        app.sign(d, expected_version=None, actor_id=lead, decision_number=decision,
                 decision_title=app.directory.procedure("2.000488").name_vi,
                 passphrase=DEMO_SIGNING_PASSPHRASE, occurred_at=t)


def _end_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=HCMC) + timedelta(hours=16)
