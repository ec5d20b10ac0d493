"""The use cases: one method per clerk command, plus the queries the clerk pages need.

Knows no HTTP and no SQL: the store is chosen by the eventsourcing environment it is given.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Repository,
    project_aggregate,
)
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording, Transcoding
from eventsourcing.utils import get_topic

from domain.audit import (
    AuditTrail,
    ControlSlip,
    DossierState,
    Moment,
    audit_events,
    compare,
    control_slip,
    event_details,
    moment_state,
    require_reviewer,
)
from domain.documents import (
    MAX_FILES,
    AttachmentPurpose,
    CheckedFile,
    DocumentStore,
    FileFacts,
    MemoryDocumentStore,
    document_missing,
)
from domain.dossier import (
    CITIZEN,
    Action,
    Actor,
    Applicant,
    Channel,
    DeliveryFailure,
    DispatchMethod,
    Dossier,
    DossierCodeSequence,
    PaymentMethod,
    ResultDelivery,
    Stage,
    is_late,
    signed_statement,
)
from domain.errors import AccessDenied, ConcurrentChange, DomainError, DossierNotFound, NotFound
from domain.feedback import FEEDBACK_EVENT_CLASSES, Feedback, FeedbackNotFound
from domain.fees import (
    FeeSchedule,
    PaymentOrderUnknown,
    order_ref,
    parse_order_ref,
)
from domain.flag_case import FlagCase, FlagCaseNotFound, Subject
from domain.keyring import OfficerKeyring
from domain.organisation import Directory, MediaType, Procedure, Staff
from domain.reading import Page, ReadingLog, ReadingNotRecorded
from domain.register import REGISTER_ID, OrganisationRegister
from domain.requests import HandledRequest, Request, RequestKeyReused, check_key
from domain.result_signature import ResultTrust
from domain.signing import (
    DecisionSignature,
    KeyVault,
    NoKeyVault,
    RegisteredKey,
    UnlockedKey,
    generate_key,
    owner_of,
    unseal,
)
from domain.text import clean_text
from domain.working_days import HCMC, WorkingCalendar

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Outcome:
    """What a command did: the dossier, and the log position a page must wait for."""

    dossier_id: UUID
    notification_id: int


@dataclass(frozen=True)
class FeedbackOutcome:
    """What a feedback command did: the case, and the log position a page must wait for."""

    feedback_id: UUID
    notification_id: int


@dataclass(frozen=True)
class FlagCaseOutcome:
    """What a command on a red flag's case did: the case, and the log position a page must
    wait for."""

    case_id: UUID
    notification_id: int


class FlagCaseChanged(DomainError):
    def __init__(self) -> None:
        super().__init__("Vụ việc này vừa được cập nhật. Vui lòng tải lại trang.",
                         "This case was just changed. Please reload the page.")


class FeedbackChanged(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "Phản ánh, kiến nghị này vừa được cập nhật. Vui lòng tải lại trang.",
            "This feedback was just changed. Please reload the page.")


@dataclass(frozen=True)
class Attachment:
    """A checked file and the line of the document list it is (or a name typed outside it)."""

    document_type: str
    file: CheckedFile


@dataclass(frozen=True)
class SignedResult:
    """An electronic result, as anyone handed a copy may check it (no personal data)."""

    dossier_id: UUID
    code: str
    procedure_code: str
    sha256: str
    size: int
    unit_code: str
    decision_number: str
    signed_at: datetime
    recorded_at: datetime
    signature: dict[str, Any] | None  # the PAdES verdict recorded in Signed (version 3)


@dataclass(frozen=True)
class PaymentOrder:
    """What a payment gateway is asked to collect: the order reference, the amount owed
    now (whole đồng) and the dossier's code for the citizen's bank statement."""

    ref: str
    amount_vnd: int
    code: str


@dataclass(frozen=True)
class OpenedDocument:
    facts: FileFacts
    document_type: str
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class HistoryEntry:
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    actor_id: str
    actor_unit: str
    details: dict[str, Any]


@dataclass(frozen=True)
class DossierSnapshot(DossierState):
    """A clerk's view of one dossier (includes private applicant data): its state now, with
    what only the present adds."""

    tracking_token: str
    allowed_actions: list[Action]
    history: list[HistoryEntry]
    # Unit codes the dossier may be transferred to, and the next one on its route: asked of
    # the aggregate, so a page never offers a unit that ``transfer`` refuses.
    transfer_targets: list[str]
    suggested_transfer: str | None
    attachments: list[dict[str, Any]]
    may_open_documents: bool
    may_attach: bool
    # The fee schedule the dossier was received under (None: no fee, or received before
    # hoso kept schedules).
    fee_schedule: FeeSchedule | None
    amount_owed_vnd: int
    refundable_vnd: int
    payments: list[dict[str, Any]]

    def is_late(self, today: date) -> bool:
        return is_late(stage=self.stage, due_date=self.due_date,
                       result_ready_at=self.signed_at or self.rejected_at,
                       paused_at=self.paused_at, today=today)


# Events the read models follow; sequence counters are internal bookkeeping.
DOSSIER_EVENT_CLASSES: tuple[type[Dossier.Event], ...] = (
    Dossier.Received,
    Dossier.Transferred,
    Dossier.TransferAccepted,
    Dossier.SupplementRequested,
    Dossier.SupplementProvided,
    Dossier.Extended,
    Dossier.Signed,
    Dossier.Rejected,
    Dossier.Withdrawn,
    Dossier.Dispatched,
    Dossier.Delivered,
    Dossier.ResultDownloaded,
    Dossier.Rated,
    Dossier.DocumentAttached,
    Dossier.AcceptedOnline,
    Dossier.RefusedToReceive,
    Dossier.PaymentRequested,
    Dossier.FeePaid,
    Dossier.PickupRequested,
    Dossier.CollectedByPost,
    Dossier.HandedToCounter,
    Dossier.ReceivedFromPost,
    Dossier.FeeRefunded,
    Dossier.DeliveryAttemptFailed,
    Dossier.DeliveryRedirected,
    Dossier.ReturnedToCounter,
)

_DOSSIER_TOPICS = tuple(get_topic(c) for c in DOSSIER_EVENT_CLASSES)
_FEEDBACK_TOPICS = tuple(get_topic(c) for c in FEEDBACK_EVENT_CLASSES)

# Nothing is paid online for a dossier that is over.
_CLOSED = frozenset({Stage.DELIVERED, Stage.WITHDRAWN, Stage.NOT_RECEIVED})

# How many times a receipt is retried when another clerk took the same code number.
_RECEIPT_ATTEMPTS = 20
# How many times a rating is tried again when the dossier changed under it (most often the
# same form sent twice: the second try then says "already rated").
_RATING_ATTEMPTS = 5
# How many times a reading is retried when the same viewer's log moved on meanwhile (the
# same person opening pages in several tabs at once).
_READING_ATTEMPTS = 10


log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL = 100


class StoreUnreadable(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "the stored events cannot be read with this cipher setting: HOSO_CIPHER_KEY is "
            "missing, wrong, or was set for a store that was begun without one")


class HosoApplication(Application[UUID]):
    name = "hoso"
    # A day's code sequence and a reader's day log grow by one event per receipt or page
    # view; without snapshots every receipt replayed the whole day (p50 3.8 ms for the first
    # receipt of a day, 69 ms for the 3,000th on PostgreSQL). The dossiers themselves stay
    # short and are not snapshotted (read through ``unsnapshotted``), so an audit replay
    # reads only events.
    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[Any]], int]] = {
        DossierCodeSequence: SNAPSHOT_INTERVAL, ReadingLog: SNAPSHOT_INTERVAL}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock = utc_now,
        calendar: WorkingCalendar | None = None,
        directory: Directory | None = None,
        key_vault: KeyVault | None = None,
        document_store: DocumentStore | None = None,
        result_trust: ResultTrust | None = None,
    ) -> None:
        super().__init__(env)
        # The roots an electronic result's signature must chain to (none: refused).
        self.result_trust = result_trust or ResultTrust()
        self.documents: DocumentStore = document_store or MemoryDocumentStore()
        # The library's repository looks for a snapshot before every read; only the two
        # day aggregates have any, so everything else is read through a repository without
        # the snapshot store (one query per read instead of two).
        self.unsnapshotted: Repository[UUID] = Repository(event_store=self.events)
        self.clock = clock
        self.key_vault: KeyVault = key_vault or NoKeyVault()
        self.calendar = calendar or WorkingCalendar()
        self._seed_directory = directory or Directory()
        self._directory: tuple[int, Directory] = (0, self._seed_directory)
        self._directory_lock = threading.Lock()

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None,
                      projector_func: Any = project_aggregate) -> None:
        # Called by save() after the events are committed: a snapshot is only a shortcut,
        # so failing to write one must not turn a recorded action into an error.
        try:
            super().take_snapshot(aggregate_id, version, projector_func)
        except Exception:  # any store error: logged, and the next interval tries again
            log.warning("no snapshot of %s at version %s", aggregate_id, version,
                        exc_info=True)

    def check_store_readable(self) -> None:
        """Read the first stored event back, so that a missing or wrong cipher key (or a
        key given to a store begun without one) stops the process at start, in words,
        instead of failing on every page."""
        first = self.recorder.select_notifications(start=1, limit=1)
        if not first:
            return
        try:
            self.mapper.to_domain_event(first[0])
        except Exception as error:
            raise StoreUnreadable() from error

    @property
    def directory(self) -> Directory:
        """Units, staff and procedures: the seed catalogue with the register's changes.

        One small indexed read per use tells whether an administrator changed anything.
        """
        latest = self.recorder.select_events(REGISTER_ID, desc=True, limit=1)
        version = latest[0].originator_version if latest else 0
        with self._directory_lock:
            if version != self._directory[0]:
                register = self._register()
                merged = register.directory(self._seed_directory) if register \
                    else self._seed_directory
                self._directory = (version, merged)
            return self._directory[1]

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ---- commands ----------------------------------------------------------------------

    def receive(
        self,
        *,
        actor_id: str,
        procedure_code: str,
        applicant_name: str,
        applicant_phone: str,
        applicant_address: str,
        applicant_id_number: str = "",
        applicant_email: str = "",
        channel: str = Channel.COUNTER.value,
        documents: Sequence[str],
        occurred_at: datetime | None = None,
        idempotency_key: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Outcome:
        """Receive a dossier, with the scans handed in (``attachments``, checked files).
        Submitting the same ``idempotency_key`` again (a double click,
        a retry after a lost answer) returns the dossier already received, never a second;
        the same key sent with another receipt is refused (``RequestKeyReused``)."""
        key = check_key(idempotency_key or uuid4().hex)
        actor = self._actor(actor_id)
        procedure = self.directory.procedure(procedure_code)
        applicant = Applicant.cleaned(
            applicant_name, applicant_phone, applicant_address, applicant_id_number,
            applicant_email,
        )
        receiving_unit = self.directory.unit(actor.unit_code)
        channel_value = _parse_enum(Channel, channel, "kênh tiếp nhận", "channel")
        _check_count(attachments)

        def this_receipt(dossier: Dossier) -> bool:
            return dossier.is_receipt_of(
                actor_id=actor_id, procedure_code=procedure.code, applicant=applicant,
                channel=channel_value, documents=list(documents), occurred_at=occurred_at)

        if (existing := self._existing_receipt(key, this_receipt)) is not None:
            return existing
        return self._record_new_dossier(
            key, this_receipt, receiving_unit.agency_code, occurred_at, procedure,
            attachments, AttachmentPurpose.RECEIVED, actor,
            lambda number, when, recorded_at: Dossier.receive(
                procedure=procedure,
                applicant=applicant,
                channel=channel_value,
                documents=list(documents),
                actor=actor,
                receiving_unit=receiving_unit,
                occurred_at=when,
                recorded_at=recorded_at,
                sequence_number=number,
                calendar=self.calendar,
                idempotency_key=key,
            ))

    def _record_new_dossier(
        self, key: str, is_this: Callable[[Dossier], bool], agency_code: str,
        occurred_at: datetime | None, procedure: Procedure, attachments: Sequence[Attachment],
        purpose: AttachmentPurpose, actor: Actor,
        make: Callable[[int, datetime, datetime], Dossier],
    ) -> Outcome:
        """Take the next code of the agency's day, make the dossier with it (``make(number,
        occurred_at, recorded_at)``), attach the checked files and save them all at once."""
        for _ in range(_RECEIPT_ATTEMPTS):
            recorded_at = self.clock()
            when = occurred_at or recorded_at
            sequence = self._code_sequence(agency_code, when, recorded_at)
            dossier = make(sequence.issue(recorded_at), when, recorded_at)
            for attachment in attachments:
                dossier.attach(procedure=procedure, document_type=attachment.document_type,
                               facts=attachment.file.facts, purpose=purpose,
                               actor=actor, occurred_at=when, recorded_at=recorded_at)
            try:
                recordings = self._save_with_files(attachments, sequence, dossier)
            except IntegrityError:
                # Either this very dossier was already saved (its answer was lost, or it was
                # submitted twice), or another clerk took this number: then take the next.
                if (existing := self._existing_receipt(key, is_this)) is not None:
                    return existing
                continue
            return Outcome(dossier.id, _last_dossier_notification(recordings))
        raise DomainError(
            "Hệ thống đang bận, chưa cấp được mã hồ sơ. Vui lòng thử lại.",
            "The system is busy and could not assign a dossier code. Please try again.",
        )

    def submit_online(
        self, *, procedure_code: str, applicant_name: str, applicant_phone: str,
        applicant_address: str, applicant_id_number: str = "", applicant_email: str = "",
        result_delivery: str, postal_address: str = "", attachments: Sequence[Attachment],
        confirm_contact: Callable[[list[str]], None], idempotency_key: str,
    ) -> Outcome:
        """A citizen's online submission (portal status 1), with a file for each required
        document. ``confirm_contact`` spends the one-time code sent to the email or phone
        given (raising when it is wrong), only once everything else was checked: a double
        submit returns the first submission, a refused one spends nothing and keeps nothing.
        """
        key = check_key(idempotency_key)
        procedure = self.directory.procedure(procedure_code)
        applicant = Applicant.cleaned(applicant_name, applicant_phone, applicant_address,
                                      applicant_id_number, applicant_email)
        delivery = _parse_enum(ResultDelivery, result_delivery, "cách nhận kết quả",
                               "way to receive the result")
        address = clean_text(postal_address, label_vi="địa chỉ nhận kết quả qua bưu điện",
                             label_en="postal address for the result", max_length=500,
                             required=delivery is ResultDelivery.POST)
        if delivery is ResultDelivery.ONLINE and not applicant.email:
            raise DomainError("Để nhận kết quả trực tuyến, hãy cho biết email.",
                              "To receive the result online, give an email address.")
        _check_count(attachments)
        named = {a.document_type for a in attachments}
        missing = [d for d in procedure.document_list if d.required and d.name_vi not in named]
        if missing:
            raise DomainError(
                "Hãy tải lên: " + "; ".join(d.name_vi for d in missing) + ".",
                "Please upload: " + "; ".join(d.name_en for d in missing) + ".")
        recorded = {"result_delivery": delivery.value} | (
            {"postal_address": address} if address else {})

        def this_submission(dossier: Dossier) -> bool:
            return dossier.submitted_by_citizen and dossier.applicant == {
                **applicant.as_dict(), **recorded}

        if (existing := self._existing_receipt(key, this_submission)) is not None:
            return existing
        receiving_unit = self.directory.unit(procedure.reception_unit)
        citizen = Actor(CITIZEN, receiving_unit.code)
        confirm_contact([a for a in (applicant.email, applicant.phone) if a])
        return self._record_new_dossier(
            key, this_submission, receiving_unit.agency_code, None, procedure, attachments,
            AttachmentPurpose.ONLINE, citizen,
            lambda number, now, _recorded_at: Dossier.submit_online(
                procedure=procedure, applicant=replace(applicant, extra=recorded),
                documents=_listed_first(procedure, named),
                receiving_unit=receiving_unit, occurred_at=now,
                sequence_number=number, calendar=self.calendar,
                idempotency_key=key))

    def request_pickup(
        self, *, actor_id: str, procedure_code: str, applicant_name: str,
        applicant_phone: str, applicant_address: str, applicant_email: str = "",
        pickup_address: str = "", documents: Sequence[str] = (),
        occurred_at: datetime | None = None, idempotency_key: str | None = None,
    ) -> Outcome:
        """Ask the post office to collect a dossier at ``pickup_address`` (the applicant's
        address when not given) and bring it to the procedure's counter. A repeat with the
        same key answers the first request."""
        key = check_key(idempotency_key or uuid4().hex)
        procedure = self.directory.procedure(procedure_code)
        receiving_unit = self.directory.unit(procedure.reception_unit)
        actor = (Actor(CITIZEN, receiving_unit.code) if actor_id == CITIZEN
                 else self._actor(actor_id))
        applicant = Applicant.cleaned(applicant_name, applicant_phone, applicant_address,
                                      email=applicant_email)
        address = pickup_address or applicant.address

        def this_request(dossier: Dossier) -> bool:
            return dossier.is_pickup_request_of(actor_id=actor_id,
                                                procedure_code=procedure.code,
                                                applicant=applicant, address=address)

        if (existing := self._existing_receipt(key, this_request)) is not None:
            return existing
        post_office = self.directory.post_office()
        return self._record_new_dossier(
            key, this_request, receiving_unit.agency_code, occurred_at, procedure, (),
            AttachmentPurpose.RECEIVED, actor,
            lambda number, when, recorded_at: Dossier.request_pickup(
                procedure=procedure, applicant=applicant, address=address,
                documents=list(documents), actor=actor, post_office=post_office,
                receiving_unit=receiving_unit, occurred_at=when, recorded_at=recorded_at,
                sequence_number=number, calendar=self.calendar, idempotency_key=key))

    def collect(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                postal_tracking_number: str, items: Sequence[str],
                occurred_at: datetime | None = None,
                request_key: str | None = None) -> Outcome:
        request = self._request(request_key, actor_id, "collect", dossier_id, occurred_at,
                                postal_tracking_number=postal_tracking_number,
                                items=list(items))
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.collect(
                postal_tracking_number=postal_tracking_number, items=list(items),
                actor=actor, occurred_at=when, recorded_at=now))

    def hand_over(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                  occurred_at: datetime | None = None,
                  request_key: str | None = None) -> Outcome:
        request = self._request(request_key, actor_id, "hand_over", dossier_id, occurred_at)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.hand_over(actor=actor, occurred_at=when,
                                                    recorded_at=now))

    def receive_from_post(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, occurred_at: datetime | None = None,
                          request_key: str | None = None) -> Outcome:
        request = self._request(request_key, actor_id, "receive_from_post", dossier_id,
                                occurred_at)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.receive_from_post(
                actor=actor, occurred_at=when, recorded_at=now,
                procedure=self.directory.procedure(d.procedure_code), calendar=self.calendar))

    def accept_online(self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
                      occurred_at: datetime | None = None,
                      request_key: str | None = None) -> Outcome:
        request = self._request(request_key, actor_id, "accept_online", dossier_id, occurred_at)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.accept_online(
                actor=actor, occurred_at=when, recorded_at=now,
                procedure=self.directory.procedure(d.procedure_code), calendar=self.calendar))

    def refuse_to_receive(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, reasons: str, occurred_at: datetime | None = None,
                          request_key: str | None = None) -> Outcome:
        request = self._request(request_key, actor_id, "refuse_to_receive", dossier_id,
                                occurred_at, reasons=reasons)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.refuse_to_receive(
                reasons=reasons, actor=actor, occurred_at=when, recorded_at=now))

    def attach_documents(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        attachments: Sequence[Attachment], purpose: str = AttachmentPurpose.RECEIVED.value,
        request_key: str | None = None,
    ) -> Outcome:
        """Scans added to a dossier after its receipt (at the counter, or by the unit
        holding it): one event per file, all or none."""
        _check_count(attachments)
        if not attachments:
            raise DomainError("Hãy chọn ít nhất một tệp.", "Choose at least one file.")
        why = _parse_enum(AttachmentPurpose, purpose, "mục đích đính kèm", "purpose")
        request = self._request(request_key, actor_id, "attach", dossier_id, None,
                                files=[a.file.facts.sha256 for a in attachments])

        def attach_all(dossier: Dossier, actor: Actor, when: datetime, now: datetime) -> None:
            procedure = self.directory.procedure(dossier.procedure_code)
            for attachment in attachments:
                dossier.attach(procedure=procedure, document_type=attachment.document_type,
                               facts=attachment.file.facts, purpose=why, actor=actor,
                               occurred_at=when, recorded_at=now)

        return self._act(dossier_id, expected_version, actor_id, None, request, attach_all,
                         files=attachments)

    def open_document(self, dossier_id: UUID, sha256: str, *,
                      viewer_id: str) -> OpenedDocument:
        """An attached file for a member of staff with a part in the dossier, or an
        inspector; the opening is recorded as a reading before a byte is sent."""
        viewer = self._actor(viewer_id)
        dossier = self._dossier(dossier_id)
        if not dossier.may_open_documents(viewer):
            raise AccessDenied(
                "Chỉ cán bộ có tham gia xử lý hồ sơ hoặc thanh tra mới mở được tệp của hồ sơ.",
                "Only staff who took part in handling the dossier, or inspectors, open its "
                "files.")
        attached = dossier.attachment(sha256)
        if attached is None:
            raise document_missing()
        chunks = self.documents.open(sha256)
        self._record_reading(dossier_id, viewer_id, Page.DOCUMENT)
        return OpenedDocument(
            facts=FileFacts(attached["file_name"], MediaType(attached["media_type"]),
                            attached["size"], sha256),
            document_type=attached["document_type"], chunks=chunks)

    def documents_of(self, dossier_id: UUID, *, viewer_id: str) -> list[dict[str, Any]]:
        """What is attached to a dossier, for whoever may open its files; the listing is a
        reading (file names may name the citizen), recorded before it is answered."""
        viewer = self._actor(viewer_id)
        dossier = self._dossier(dossier_id)
        if not dossier.may_open_documents(viewer):
            raise AccessDenied(
                "Chỉ cán bộ có tham gia xử lý hồ sơ hoặc thanh tra mới xem được tệp của hồ sơ.",
                "Only staff who took part in handling the dossier, or inspectors, see its "
                "files.")
        self._record_reading(dossier_id, viewer_id, Page.DOCUMENT)
        return [dict(a) for a in dossier.attachments]

    def _save_with_files(self, attachments: Sequence[Attachment],
                         *aggregates: Any) -> list[Recording]:
        """Keep the files, then record the events; if the events are not recorded, the
        files written by this call are removed again: no file without its event."""
        written: list[str] = []
        try:
            for attachment in attachments:
                facts = attachment.file.facts
                if self.documents.put(attachment.file.source, facts.sha256):
                    written.append(facts.sha256)
            return self.save(*aggregates)
        except BaseException:
            for sha256 in written:
                self.documents.discard(sha256)
            raise

    def transfer(
        self,
        dossier_id: UUID,
        *,
        expected_version: int | None,
        actor_id: str,
        to_unit: str,
        to_officer: str | None = None,
        note: str = "",
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        unit = self.directory.unit(to_unit)
        officer = self.directory.member(to_officer) if to_officer else None
        request = self._request(request_key, actor_id, "transfer", dossier_id, occurred_at,
                                to_unit=to_unit, to_officer=to_officer, note=note)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.transfer(
                to_unit=unit, to_officer=officer, note=note, actor=actor,
                occurred_at=when, recorded_at=now,
            ),
        )

    def accept_transfer(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        request = self._request(request_key, actor_id, "accept_transfer", dossier_id, occurred_at)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.accept_transfer(
                actor=actor, occurred_at=when, recorded_at=now, calendar=self.calendar),
        )

    def request_supplement(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        missing_items: Sequence[str], reason: str, justification: str = "",
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        request = self._request(
            request_key, actor_id, "request_supplement", dossier_id, occurred_at,
            missing_items=list(missing_items), reason=reason, justification=justification)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.request_supplement(
                missing_items=list(missing_items), reason=reason, justification=justification,
                actor=actor, occurred_at=when, recorded_at=now,
                procedure=self.directory.procedure(d.procedure_code)),
        )

    def provide_supplement(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        documents: Sequence[str], occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        request = self._request(request_key, actor_id, "provide_supplement", dossier_id,
                                occurred_at, documents=list(documents))
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.provide_supplement(
                documents=list(documents), actor=actor, occurred_at=when, recorded_at=now,
                calendar=self.calendar),
        )

    def extend(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        new_due_date: date, reason: str, apology: str, occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        request = self._request(request_key, actor_id, "extend", dossier_id, occurred_at,
                                new_due_date=new_due_date, reason=reason, apology=apology)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.extend(
                new_due_date=new_due_date, reason=reason, apology=apology, actor=actor,
                occurred_at=when, recorded_at=now, calendar=self.calendar),
        )

    def reject(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str, reasons: str,
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        request = self._request(request_key, actor_id, "reject", dossier_id, occurred_at,
                                reasons=reasons)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.reject(
                reasons=reasons, actor=actor, occurred_at=when, recorded_at=now),
        )

    def withdraw(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str, reason: str,
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        request = self._request(request_key, actor_id, "withdraw", dossier_id, occurred_at,
                                reason=reason)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.withdraw(
                reason=reason, actor=actor, occurred_at=when, recorded_at=now),
        )

    def sign(
        self,
        dossier_id: UUID,
        *,
        expected_version: int | None,
        actor_id: str,
        decision_number: str,
        decision_title: str,
        passphrase: str,
        document: bytes | None = None,
        result: Attachment | None = None,
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        """Sign with the officer's own key, unlocked by the passphrase they type now.
        ``result``: the electronic result (a checked PDF), kept with the dossier for the
        citizen to download; the signature covers its digest."""
        request = self._request(request_key, actor_id, "sign", dossier_id, occurred_at,
                                decision_number=decision_number, decision_title=decision_title,
                                document=None if document is None
                                else hashlib.sha256(document).hexdigest(),
                                result=None if result is None else result.file.facts.sha256)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.sign(
                decision_number=decision_number, decision_title=decision_title,
                unlock_key=lambda: self._unlocked_key(actor_id, passphrase),
                document=document, actor=actor, occurred_at=when, recorded_at=now,
                result=None if result is None else result.file.facts,
                check_result=None if result is None
                else lambda: self.result_trust.verify(result.file.source),
                procedure=self.directory.procedure(d.procedure_code),
            ),
            files=() if result is None else (result,),
        )

    def download_result(self, dossier_id: UUID) -> OpenedDocument:
        """The electronic result for the citizen who has just typed a one-time code sent to
        the contact they gave (the caller checked it): the download is recorded before a
        byte is sent, and the first one is the delivery."""
        dossier = self._dossier(dossier_id)
        now = self.clock()
        result = dossier.download_result(occurred_at=now, recorded_at=now)
        self.save(dossier)
        return OpenedDocument(
            facts=FileFacts(result["file_name"], MediaType(result["media_type"]),
                            result["size"], result["sha256"]),
            document_type=result["document_type"], chunks=self.documents.open(result["sha256"]))

    def has_online_result(self, dossier_id: UUID) -> bool:
        dossier = self._dossier(dossier_id)
        return (dossier.dispatch_method is DispatchMethod.ONLINE
                and dossier.electronic_result is not None)

    def dispatch(
        self,
        dossier_id: UUID,
        *,
        expected_version: int | None,
        actor_id: str,
        method: str,
        postal_tracking_number: str | None = None,
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        method_value = _parse_enum(DispatchMethod, method, "cách trả kết quả", "dispatch method")
        post_office = self.directory.post_office()
        request = self._request(request_key, actor_id, "dispatch", dossier_id, occurred_at,
                                method=method, postal_tracking_number=postal_tracking_number)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.dispatch(
                method=method_value, postal_tracking_number=postal_tracking_number,
                post_office=post_office, actor=actor, occurred_at=when, recorded_at=now,
            ),
        )

    def deliver(
        self,
        dossier_id: UUID,
        *,
        expected_version: int | None,
        actor_id: str,
        recipient_name: str,
        occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        request = self._request(request_key, actor_id, "deliver", dossier_id, occurred_at,
                                recipient_name=recipient_name)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.deliver(
                recipient_name=recipient_name, actor=actor, occurred_at=when, recorded_at=now,
            ),
        )

    def record_failed_delivery(self, dossier_id: UUID, *, expected_version: int | None,
                               actor_id: str, reason: str, occurred_at: datetime | None = None,
                               request_key: str | None = None) -> Outcome:
        request = self._request(request_key, actor_id, "record_failed_delivery", dossier_id,
                                occurred_at, reason=reason)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.record_failed_delivery(
                reason=_delivery_failure(reason), actor=actor, occurred_at=when,
                recorded_at=now))

    def redirect_delivery(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, address: str | None,
                          occurred_at: datetime | None = None,
                          request_key: str | None = None) -> Outcome:
        """A new delivery address, or (``address`` None) pick-up at the counter."""
        request = self._request(request_key, actor_id, "redirect_delivery", dossier_id,
                                occurred_at, address=address)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.redirect_delivery(
                address=address, actor=actor, occurred_at=when, recorded_at=now))

    def return_to_counter(self, dossier_id: UUID, *, expected_version: int | None,
                          actor_id: str, occurred_at: datetime | None = None,
                          request_key: str | None = None) -> Outcome:
        request = self._request(request_key, actor_id, "return_to_counter", dossier_id,
                                occurred_at)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.return_to_counter(
                actor=actor, occurred_at=when, recorded_at=now))

    def request_payment(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        amount_vnd: int, reason: str, occurred_at: datetime | None = None,
        request_key: str | None = None,
    ) -> Outcome:
        """A financial obligation fixed during processing (portal status 6)."""
        request = self._request(request_key, actor_id, "request_payment", dossier_id,
                                occurred_at, amount_vnd=amount_vnd, reason=reason)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.request_payment(
                amount_vnd=amount_vnd, reason=reason, actor=actor, occurred_at=when,
                recorded_at=now))

    def record_payment(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        amount_vnd: int, method: str, receipt_number: str,
        occurred_at: datetime | None = None, request_key: str | None = None,
    ) -> Outcome:
        """A payment taken at the counter (cash with its receipt number, or online)."""
        paid_by = _parse_enum(PaymentMethod, method, "hình thức nộp", "payment method")
        request = self._request(request_key, actor_id, "record_payment", dossier_id,
                                occurred_at, amount_vnd=amount_vnd, method=method,
                                receipt_number=receipt_number)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.record_payment(
                amount_vnd=amount_vnd, method=paid_by, receipt_number=receipt_number,
                actor=actor, occurred_at=when, recorded_at=now, calendar=self.calendar))

    def refund(
        self, dossier_id: UUID, *, expected_version: int | None, actor_id: str,
        amount_vnd: int, reason: str, receipt_number: str,
        occurred_at: datetime | None = None, request_key: str | None = None,
    ) -> Outcome:
        """Money returned at the counter (a refused or withdrawn dossier, an overpayment)."""
        request = self._request(request_key, actor_id, "refund", dossier_id, occurred_at,
                                amount_vnd=amount_vnd, reason=reason,
                                receipt_number=receipt_number)
        return self._act(
            dossier_id, expected_version, actor_id, occurred_at, request,
            lambda d, actor, when, now: d.refund(
                amount_vnd=amount_vnd, reason=reason, receipt_number=receipt_number,
                actor=actor, occurred_at=when, recorded_at=now))

    def online_payment_order(self, dossier_id: UUID) -> PaymentOrder | None:
        """An order for what the dossier owes now, to be paid through the gateway; None
        when nothing is owed. Nothing is recorded until the gateway confirms a payment."""
        dossier = self._dossier(dossier_id)
        if not dossier.amount_owed_vnd or dossier.stage in _CLOSED:
            return None
        return PaymentOrder(
            ref=order_ref(dossier.id, dossier.version, secrets.token_hex(4)),
            amount_vnd=dossier.amount_owed_vnd, code=dossier.code)

    def confirm_online_payment(self, *, order_ref: str, amount_vnd: int,
                               transaction_no: str, paid: bool = True) -> Outcome | None:
        """The gateway's notice about an order (its signature already checked): a payment
        is recorded once; a failed one (``paid`` false) is checked and changes nothing.
        Refused with ``PaymentOrderUnknown``, ``PaymentAmountWrong`` or
        ``PaymentAlreadyConfirmed`` (a repeated or replayed notice), changing nothing."""
        ordered = parse_order_ref(order_ref)
        if ordered is None:
            raise PaymentOrderUnknown()
        dossier_id, version = ordered
        for _ in range(_RATING_ATTEMPTS):
            try:
                dossier = self._dossier(dossier_id)
            except DossierNotFound:
                raise PaymentOrderUnknown() from None
            if not 1 <= version <= dossier.version:
                raise PaymentOrderUnknown()
            then: object = self.unsnapshotted.get(dossier_id, version=version)
            assert isinstance(then, Dossier)
            if not then.amount_owed_vnd:
                raise PaymentOrderUnknown()
            dossier.pay_online(order_ref=order_ref, ordered_vnd=then.amount_owed_vnd,
                               amount_vnd=amount_vnd, transaction_no=transaction_no,
                               paid=paid, now=self.clock(), calendar=self.calendar)
            if not paid:
                return None
            try:
                recordings = self.save(dossier)
            except IntegrityError:
                continue  # the same notice twice at once: the next try says "confirmed"
            return Outcome(dossier.id, _last_dossier_notification(recordings))
        raise ConcurrentChange()

    def rate(
        self,
        token: str,
        dossier_id: UUID,
        *,
        satisfaction: int,
        came_back: bool,
        unofficial_request: bool,
        comment: str,
        occurred_at: datetime | None = None,
    ) -> Outcome:
        """The citizen's rating; the tracking token is the right to give it, once.

        A double submit saves one ``Rated`` event: the slower save conflicts on the
        dossier's version, and running the command again on the saved dossier refuses it
        with ``AlreadyRated``.
        """
        for _ in range(_RATING_ATTEMPTS):
            dossier = self._dossier(dossier_id)
            dossier.rate(token=token, satisfaction=satisfaction, came_back=came_back,
                         unofficial_request=unofficial_request, comment=comment,
                         now=self.clock(), occurred_at=occurred_at)
            try:
                recordings = self.save(dossier)
            except IntegrityError:
                continue
            return Outcome(dossier.id, _last_dossier_notification(recordings))
        raise ConcurrentChange()

    # ---- citizens' feedback (phản ánh, kiến nghị) ---------------------------------------

    def give_feedback(self, token: str, dossier_id: UUID, *, text: str,
                      about_unofficial_payment: bool, request_key: str) -> FeedbackOutcome:
        """A citizen's feedback on their dossier, received and assigned in one save; the
        same form sent twice (``request_key``) is one case."""
        key = check_key(request_key)
        dossier = self._dossier(dossier_id)
        if not secrets.compare_digest(token.encode(), dossier.tracking_token.encode()):
            raise DossierNotFound()  # a guessed id learns nothing
        feedback_id = Feedback.create_id(str(dossier_id), key)
        if (existing := self._stored_feedback(feedback_id)) is not None:
            return FeedbackOutcome(existing.id, self._newest_position_of(existing.id))
        case = Feedback.submit(
            request_key=key, dossier_id=dossier_id,
            procedure=self.directory.procedure(dossier.procedure_code),
            about_unofficial_payment=about_unofficial_payment, text=text,
            directory=self.directory, calendar=self.calendar, now=self.clock())
        try:
            recordings = self.save(case)
        except IntegrityError:  # the same form, saved a moment ago by its twin
            return FeedbackOutcome(case.id, self._newest_position_of(case.id))
        return FeedbackOutcome(case.id, recordings[-1].notification.id)

    def answer_feedback(self, feedback_id: UUID, *, actor_id: str,
                        answer: str) -> FeedbackOutcome:
        return self._on_feedback(feedback_id, lambda case, now: case.answer_as(
            self.directory.member(actor_id), answer, now))

    def close_feedback(self, token: str, dossier_id: UUID, feedback_id: UUID) -> FeedbackOutcome:
        case = self.feedback(feedback_id)
        if case.dossier_id != dossier_id:
            raise FeedbackNotFound()
        tracking_token = self._dossier(dossier_id).tracking_token
        return self._on_feedback(feedback_id, lambda case, now: case.close_by_citizen(
            token, tracking_token, now))

    def escalate_feedback(self, feedback_id: UUID) -> FeedbackOutcome:
        """Hand an overdue, unanswered case to the inspectorate (``hoso escalate-feedback``
        calls this for each case the read model finds overdue)."""
        return self._on_feedback(feedback_id, lambda case, now: case.escalate(
            self.directory, self.calendar, now))

    def feedback(self, feedback_id: UUID) -> Feedback:
        case = self._stored_feedback(feedback_id)
        if case is None:
            raise FeedbackNotFound()
        return case

    def _on_feedback(self, feedback_id: UUID,
                     command: Callable[[Feedback, datetime], None]) -> FeedbackOutcome:
        case = self.feedback(feedback_id)
        command(case, self.clock())
        try:
            recordings = self.save(case)
        except IntegrityError:
            raise FeedbackChanged() from None
        return FeedbackOutcome(case.id, recordings[-1].notification.id)

    def _stored_feedback(self, feedback_id: UUID) -> Feedback | None:
        try:
            case: object = self.unsnapshotted.get(feedback_id)
        except AggregateNotFoundError:
            return None
        return case if isinstance(case, Feedback) else None

    def _newest_position_of(self, aggregate_id: UUID) -> int:
        """The log position of an aggregate's newest event (what a page waits for)."""
        newest = self.recorder.select_events(aggregate_id, desc=True, limit=1)
        position = self.recorder.max_notification_id() or 0
        if not newest:
            return position
        recent = self.recorder.select_notifications(
            start=max(position - 999, 1), limit=1000, topics=_FEEDBACK_TOPICS)
        mine = [n.id for n in recent if n.originator_id == aggregate_id]
        return mine[-1] if mine else position

    # ---- red flags taken up as cases (the inspector's desk) -----------------------------

    def open_flag_case(self, *, actor_id: str, flag_kind: str, subject: Subject,
                       subject_id: str, facts_fingerprint: str) -> FlagCaseOutcome:
        """Take a flag up as a case: a new case, or the flag's closed case reopened on new
        facts (the case refuses the same facts, and refuses to open twice)."""
        staff = self.directory.member(actor_id)
        case_id = FlagCase.create_id(flag_kind, subject, subject_id)
        case = self._stored_flag_case(case_id)
        if case is None:
            case = FlagCase.open(flag_kind=flag_kind, subject=subject, subject_id=subject_id,
                                 facts_fingerprint=facts_fingerprint, staff=staff,
                                 now=self.clock())
        else:
            case.reopen(facts_fingerprint, staff, self.clock())
        return self._save_flag_case(case)

    def write_flag_case_note(self, case_id: UUID, *, actor_id: str,
                             note: str) -> FlagCaseOutcome:
        case = self.flag_case(case_id)
        case.write_note(note, self.directory.member(actor_id), self.clock())
        return self._save_flag_case(case)

    def close_flag_case(self, case_id: UUID, *, actor_id: str, outcome: str) -> FlagCaseOutcome:
        case = self.flag_case(case_id)
        case.close(outcome, self.directory.member(actor_id), self.clock())
        return self._save_flag_case(case)

    def flag_case(self, case_id: UUID) -> FlagCase:
        case = self._stored_flag_case(case_id)
        if case is None:
            raise FlagCaseNotFound()
        return case

    def _save_flag_case(self, case: FlagCase) -> FlagCaseOutcome:
        try:
            recordings = self.save(case)
        except IntegrityError:  # another inspector saved this case a moment ago
            raise FlagCaseChanged() from None
        return FlagCaseOutcome(case.id, recordings[-1].notification.id)

    def _stored_flag_case(self, case_id: UUID) -> FlagCase | None:
        try:
            case: object = self.unsnapshotted.get(case_id)
        except AggregateNotFoundError:
            return None
        return case if isinstance(case, FlagCase) else None

    # ---- signing keys ------------------------------------------------------------------

    def register_signing_key(self, *, officer_id: str, passphrase: str) -> RegisteredKey:
        """A new key pair: the public half registered by an event, the private half sealed
        with the passphrase in the key vault."""
        officer = self.directory.member(officer_id)
        keyring = self._keyring(officer_id) or OfficerKeyring.open(
            officer=officer, recorded_at=self.clock())
        new = generate_key(officer_id, passphrase)
        keyring.register(officer=officer, key_id=new.key_id, public_key=new.public_key,
                         recorded_at=self.clock())
        # Vault first: a registered key whose private half was lost could never sign.
        self.key_vault.put(new.key_id, new.sealed)
        try:
            self.save(keyring)
        except IntegrityError:
            self.key_vault.discard(new.key_id)
            raise DomainError("Khóa ký vừa được thay đổi ở nơi khác; hãy tải lại trang.",
                              "The signing keys just changed elsewhere; reload the page.") \
                from None
        return keyring.keys[new.key_id]

    def revoke_signing_key(self, *, actor_id: str, key_id: str, reason: str) -> None:
        """Revoked from now on; the sealed private key is destroyed. Decisions signed
        before stay valid, those claiming a later time do not."""
        keyring = self._keyring(owner_of(key_id))
        if keyring is None:
            raise DomainError("Không có khóa ký này.", "There is no such signing key.")
        keyring.revoke(by=self.directory.member(actor_id), key_id=key_id, reason=reason,
                       recorded_at=self.clock())
        try:
            self.save(keyring)
        except IntegrityError:
            raise DomainError("Khóa ký vừa được thay đổi ở nơi khác; hãy tải lại trang.",
                              "The signing keys just changed elsewhere; reload the page.") \
                from None
        self.key_vault.discard(key_id)

    def signing_keys(self, user_id: str) -> list[RegisteredKey]:
        keyring = self._keyring(user_id)
        return list(keyring.keys.values()) if keyring else []

    def registered_key(self, key_id: str) -> RegisteredKey | None:
        keyring = self._keyring(owner_of(key_id))
        return keyring.keys.get(key_id) if keyring else None

    def signed_result(self, dossier_id: UUID) -> SignedResult | None:
        """The electronic result of the dossier as the verification page shows it to anyone
        holding a copy: its digest, the decision it was signed with, by which unit and when,
        and the PAdES verdict recorded then. No personal data; None when there is none."""
        try:
            events = self._dossier_events(dossier_id)
        except NotFound:
            return None
        result = next((e for e in reversed(events) if isinstance(e, Dossier.DocumentAttached)
                       and e.purpose == AttachmentPurpose.RESULT.value), None)
        signed = next((e for e in reversed(events) if isinstance(e, Dossier.Signed)), None)
        if result is None or signed is None or not isinstance(events[0], Dossier.Received):
            return None
        return SignedResult(
            dossier_id=dossier_id, code=events[0].code,
            procedure_code=events[0].procedure_code, sha256=result.sha256,
            size=result.size, unit_code=signed.actor_unit,
            decision_number=signed.decision_number, signed_at=signed.occurred_at,
            recorded_at=signed.timestamp, signature=signed.result_signature)

    def decision_signatures(self, dossier_id: UUID) -> list[DecisionSignature]:
        """Each recorded decision of the dossier with its signature checked now, against
        the key as registered and revoked in the log."""
        checked = []
        for e in self._dossier_events(dossier_id):
            if not isinstance(e, Dossier.Signed):
                continue
            signed = signed_statement(e)
            statement, signature = signed if signed else (None, None)
            checked.append(DecisionSignature.checked(
                statement, signature, unit_code=e.actor_unit,
                decision_number=e.decision_number, signed_at=e.timestamp,
                key=self.registered_key(statement.key_id) if statement else None))
        return checked

    def _unlocked_key(self, officer_id: str, passphrase: str) -> UnlockedKey:
        keyring = self._keyring(officer_id)
        key = keyring.active_key if keyring else None
        if key is None:
            raise DomainError(
                "Bạn chưa có khóa ký số. Hãy đăng ký tại trang “Khóa ký của tôi” rồi ký lại.",
                "You have no signing key. Register one on the “My signing key” page, "
                "then sign again.")
        sealed = self.key_vault.get(key.key_id)
        if sealed is None:
            raise DomainError(
                "Khóa ký của bạn không còn trên máy chủ; hãy thu hồi và đăng ký khóa mới.",
                "Your signing key is no longer on the server; revoke it and register "
                "a new one.")
        return UnlockedKey(key.key_id, unseal(sealed, key.key_id, passphrase))

    def _keyring(self, user_id: str) -> OfficerKeyring | None:
        try:
            keyring: object = self.unsnapshotted.get(OfficerKeyring.create_id(user_id))
        except AggregateNotFoundError:
            return None
        assert isinstance(keyring, OfficerKeyring)
        return keyring

    # ---- administration ----------------------------------------------------------------

    def appoint_staff(self, *, admin_id: str, user_id: str, full_name: str, unit_code: str,
                      roles: Sequence[str]) -> None:
        self._administer(admin_id, lambda register, admin, current, now: register.appoint(
            admin=admin, user_id=user_id, full_name=full_name, unit_code=unit_code,
            roles=list(roles), current=current, now=now))

    def deactivate_staff(self, *, admin_id: str, user_id: str, reason: str) -> None:
        """Deactivated, and their signing key revoked in the same transaction: nobody signs
        in the name of someone who has left."""
        keyring = self._keyring(user_id)
        active = keyring.active_key if keyring else None

        def deactivate(register: OrganisationRegister, admin: Staff, current: Directory,
                       now: datetime) -> None:
            register.deactivate(admin=admin, user_id=user_id, reason=reason, current=current,
                                now=now)
            if keyring is not None and active is not None:
                keyring.revoke(by=admin, key_id=active.key_id,
                               reason=f"Vô hiệu hóa tài khoản: {reason}"[:500], recorded_at=now)

        self._administer(admin_id, deactivate, also=keyring)
        if active is not None:
            self.key_vault.discard(active.key_id)

    def add_unit(self, *, admin_id: str, code: str, agency_code: str, name_vi: str,
                 name_en: str, kind: str) -> None:
        self._administer(admin_id, lambda register, admin, current, now: register.add_unit(
            admin=admin, code=code, agency_code=agency_code, name_vi=name_vi,
            name_en=name_en, kind=kind, current=current, now=now))

    def set_processing_time(self, *, admin_id: str, procedure_code: str, processing_days: int,
                            legal_basis: str) -> None:
        self._administer(
            admin_id, lambda register, admin, current, now: register.set_processing_time(
                admin=admin, procedure_code=procedure_code, processing_days=processing_days,
                legal_basis=legal_basis, current=current, now=now))

    def set_fee_schedule(self, *, admin_id: str, procedure_code: str, amount_vnd: int | None,
                         legal_basis: str, rule_vi: str = "", rule_en: str = "",
                         exemptions_vi: str = "", exemptions_en: str = "") -> None:
        """A procedure's published fee from now on; dossiers already received keep the
        schedule they were received under."""
        schedule = FeeSchedule.cleaned(
            amount_vnd=amount_vnd, legal_basis=legal_basis, rule_vi=rule_vi, rule_en=rule_en,
            exemptions_vi=exemptions_vi, exemptions_en=exemptions_en)
        self._administer(
            admin_id, lambda register, admin, current, now: register.set_fee_schedule(
                admin=admin, procedure_code=procedure_code, schedule=schedule,
                current=current, now=now))

    def register_history(self) -> list[OrganisationRegister.Change]:
        return [e for e in self.repository.event_store.get(REGISTER_ID)
                if isinstance(e, OrganisationRegister.Change)]

    def _register(self) -> OrganisationRegister | None:
        try:
            register: object = self.unsnapshotted.get(REGISTER_ID)
        except AggregateNotFoundError:
            return None
        assert isinstance(register, OrganisationRegister)
        return register

    def _administer(
        self, admin_id: str,
        change: Callable[[OrganisationRegister, Staff, Directory, datetime], None],
        also: OfficerKeyring | None = None,
    ) -> None:
        current = self.directory
        admin = current.member(admin_id)
        now = self.clock()
        register = self._register() or OrganisationRegister(timestamp=now)
        change(register, admin, current, now)
        try:
            self.save(register, *([also] if also is not None else []))
        except IntegrityError:
            raise ConcurrentChange() from None

    # ---- queries -----------------------------------------------------------------------

    def snapshot(self, dossier_id: UUID, *, viewer_id: str) -> DossierSnapshot:
        viewer = self._actor(viewer_id)
        dossier = self._dossier(dossier_id)
        if not dossier.may_view(viewer):
            raise AccessDenied(
                "Bạn không có quyền xem hồ sơ này (chỉ hồ sơ đã giao cho bưu điện).",
                "You may not view this dossier (only those handed to the post).",
            )
        events = self.repository.event_store.get(dossier_id)
        state = DossierState.of(dossier)
        units = list(self.directory.units.values())
        return DossierSnapshot(
            **{f.name: getattr(state, f.name) for f in fields(DossierState)},
            tracking_token=dossier.tracking_token,
            allowed_actions=dossier.allowed_actions(viewer),
            history=[_history_entry(e) for e in events],
            transfer_targets=[u.code for u in dossier.transfer_targets(units)],
            suggested_transfer=dossier.suggested_transfer(units),
            attachments=list(dossier.attachments),
            may_open_documents=dossier.may_open_documents(viewer),
            may_attach=dossier.may_attach(viewer),
            fee_schedule=dossier.fee_schedule,
            amount_owed_vnd=dossier.amount_owed_vnd,
            refundable_vnd=dossier.refundable_vnd,
            payments=list(dossier.payments),
        )

    def may_act_on(self, dossier_id: UUID, *, actor_id: str, action: Action) -> bool:
        """Whether the dossier exists and ``action`` is the actor's to take on it (unit and
        role), whatever its state now."""
        try:
            return self._dossier(dossier_id).may_act(action, self._actor(actor_id))
        except NotFound:
            return False

    def may_attach_to(self, dossier_id: UUID, *, actor_id: str) -> bool:
        """Whether the dossier exists and the actor is one who attaches its files (the
        counter that received it, the unit holding it), whatever its state now."""
        try:
            return self._dossier(dossier_id).attaches_as(self._actor(actor_id))
        except NotFound:
            return False

    def open_dossier(self, dossier_id: UUID, *, viewer_id: str,
                     page: Page = Page.DOSSIER) -> DossierSnapshot:
        """The snapshot a page shows, once the reading is recorded (who, which, when)."""
        snapshot = self.snapshot(dossier_id, viewer_id=viewer_id)
        self._record_reading(dossier_id, viewer_id, page)
        return snapshot

    def audit_trail(self, dossier_id: UUID, *, inspector_id: str, as_of: Moment | None = None,
                    compare_to: Moment | None = None) -> AuditTrail:
        """Every event with its step times; the state as recorded at ``as_of`` (a recording
        time, or a number of events; default: now) rebuilt from the event store, and what
        changed since or until ``compare_to``. Inspectors and administrators only; the view
        is recorded."""
        require_reviewer(self.directory.member(inspector_id))
        events = self._dossier_events(dossier_id)
        trail_events = audit_events(events, self.directory, self.calendar)

        def rebuild(version: int) -> Dossier:
            dossier: object = self.unsnapshotted.get(dossier_id, version=version)
            assert isinstance(dossier, Dossier)
            return dossier

        first = moment_state(events, as_of, rebuild)
        second = moment_state(events, compare_to, rebuild) if compare_to is not None else None
        self._record_reading(dossier_id, inspector_id, Page.AUDIT_TRAIL)
        received = events[0]
        assert isinstance(received, Dossier.Received)
        return AuditTrail(
            dossier_id=dossier_id, code=received.code, procedure_code=received.procedure_code,
            events=trail_events, as_of=first, compare_to=second,
            diff=compare(first, second) if second is not None else None,
        )

    def control_slip(self, dossier_id: UUID, *, inspector_id: str) -> ControlSlip:
        """The *phiếu kiểm soát quá trình giải quyết hồ sơ*. Reviewers only; recorded."""
        require_reviewer(self.directory.member(inspector_id))
        events = self._dossier_events(dossier_id)
        # The header from the same events as the rows, even if one was added meanwhile.
        current: object = self.unsnapshotted.get(dossier_id, version=len(events))
        assert isinstance(current, Dossier)
        slip = control_slip(events, audit_events(events, self.directory, self.calendar),
                            self.directory, current)
        self._record_reading(dossier_id, inspector_id, Page.CONTROL_SLIP)
        return slip

    def readings(self, viewer_id: str, day: date) -> list[ReadingLog.DossierOpened]:
        """The dossiers one member of staff opened on one local day, in order."""
        return [e for e in self.repository.event_store.get(ReadingLog.create_id(viewer_id, day))
                if isinstance(e, ReadingLog.DossierOpened)]

    def dossier(self, dossier_id: UUID) -> Dossier:
        """The aggregate itself, for the application's own callers (tests, the CLI)."""
        return self._dossier(dossier_id)

    def token_for_contact(self, dossier_id: UUID, contact: str) -> str | None:
        """The tracking token, when ``contact`` is the email or phone the applicant gave."""
        dossier = self._dossier(dossier_id)
        return dossier.tracking_token if dossier.reached_at(contact) else None

    def tracking_token(self, dossier_id: UUID) -> str:
        """The dossier's public status token, from its first event alone: what a message to
        the citizen links to (the read models never hold the token)."""
        for event in self.events.get(dossier_id, lte=1):
            if isinstance(event, Dossier.Received):
                return event.tracking_token
        raise DossierNotFound()

    # ---- helpers -----------------------------------------------------------------------

    def _request(self, key: str | None, actor_id: str, action: str, dossier_id: UUID,
                 occurred_at: datetime | None, **fields: Any) -> Request | None:
        if key is None:
            return None  # the application's own callers (demo, tests) need no key
        return Request.of(key, actor_id=actor_id, action=action, dossier_id=dossier_id,
                          fields=fields | {"occurred_at": occurred_at})

    def _act(
        self,
        dossier_id: UUID,
        expected_version: int | None,
        actor_id: str,
        occurred_at: datetime | None,
        request: Request | None,
        command: Callable[[Dossier, Actor, datetime, datetime], None],
        files: Sequence[Attachment] = (),
    ) -> Outcome:
        # A request already handled gets its first answer, before the version check: its
        # repeat carries the version the dossier had before the first one was recorded.
        if request is not None and (answer := self._handled(request)) is not None:
            return answer
        try:
            actor = self._actor(actor_id)
            dossier = self._dossier(dossier_id)
            if expected_version is not None and dossier.version != expected_version:
                raise ConcurrentChange()
            now = self.clock()
            command(dossier, actor, occurred_at or now, now)
            handled = [] if request is None else [
                HandledRequest.record(request, dossier.version, recorded_at=now)]
            try:
                recordings = self._save_with_files(files, dossier, *handled)
            except IntegrityError:
                raise ConcurrentChange() from None
        except DomainError:
            # A concurrent repeat of this very request may have been recorded in between
            # (the dossier moved on, or its save won): then this is its answer, not an error.
            if request is not None and (answer := self._handled(request)) is not None:
                return answer
            raise
        return Outcome(dossier.id, _last_dossier_notification(recordings))

    def _handled(self, request: Request) -> Outcome | None:
        try:
            handled: object = self.unsnapshotted.get(HandledRequest.create_id(request.key))
        except AggregateNotFoundError:
            return None
        assert isinstance(handled, HandledRequest)
        handled.confirm_repeat(request)
        return Outcome(handled.dossier_id, self._newest_dossier_position())

    def _existing_receipt(self, key: str,
                          same_receipt: Callable[[Dossier], bool]) -> Outcome | None:
        try:
            dossier: object = self.unsnapshotted.get(Dossier.create_id(key))
        except AggregateNotFoundError:
            return None
        assert isinstance(dossier, Dossier)
        if not same_receipt(dossier):
            raise RequestKeyReused()
        # Waiting for the newest position is enough for the page to show this dossier.
        return Outcome(dossier.id, self._newest_dossier_position())

    def _newest_dossier_position(self) -> int:
        """The newest log position of a dossier event: read models track only those, so
        waiting on a later reading or counter would time out."""
        newest = self.recorder.max_notification_id() or 0
        recent = self.recorder.select_notifications(
            start=max(newest - 999, 1), limit=1000, topics=_DOSSIER_TOPICS)
        return recent[-1].id if recent else newest

    def _record_reading(self, dossier_id: UUID, viewer_id: str, page: Page) -> None:
        """Append the reading to the viewer's log for today, retrying if another of their
        pages wrote first; never show a page whose reading could not be recorded."""
        viewer = self.directory.member(viewer_id)
        for attempt in range(_READING_ATTEMPTS):
            now = self.clock()
            day = ReadingLog.day_of(now)
            try:
                log: object = self.repository.get(ReadingLog.create_id(viewer_id, day))
            except AggregateNotFoundError:
                log = ReadingLog(viewer_id, day, timestamp=now)
            assert isinstance(log, ReadingLog)
            log.record_opening(dossier_id=dossier_id, viewer=viewer, page=page, opened_at=now)
            try:
                self.save(log)
                return
            except IntegrityError:
                # Jitter, so tabs that collided do not collide again on the next try.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise ReadingNotRecorded()

    def _dossier_events(self, dossier_id: UUID) -> list[Dossier.Event]:
        events = list(self.repository.event_store.get(dossier_id))
        if not events or not isinstance(events[0], Dossier.Received):
            raise DossierNotFound()
        return [e for e in events if isinstance(e, Dossier.Event)]

    def _actor(self, user_id: str) -> Actor:
        return Actor.of(self.directory.member(user_id))

    def _dossier(self, dossier_id: UUID) -> Dossier:
        try:
            dossier: object = self.unsnapshotted.get(dossier_id)
        except AggregateNotFoundError:
            raise DossierNotFound() from None
        if not isinstance(dossier, Dossier):
            raise DossierNotFound()
        return dossier

    def _code_sequence(self, agency_code: str, when: datetime,
                       recorded_at: datetime) -> DossierCodeSequence:
        day = when.astimezone(HCMC).date()
        try:
            sequence: object = self.repository.get(
                DossierCodeSequence.create_id(agency_code, day)
            )
        except AggregateNotFoundError:
            return DossierCodeSequence(agency_code, day, timestamp=recorded_at)
        assert isinstance(sequence, DossierCodeSequence)
        return sequence


def _last_dossier_notification(recordings: list[Recording]) -> int:
    ids = [
        r.notification.id for r in recordings if isinstance(r.domain_event, Dossier.Event)
    ]
    return max(ids)


def _history_entry(e: DomainEventProtocol[UUID]) -> HistoryEntry:
    assert isinstance(e, Dossier.Event)
    # With transit time: the paper "travelling between departments" (or by post), apart.
    details = event_details(e)
    return HistoryEntry(
        kind=type(e).__name__,
        occurred_at=e.occurred_at,
        recorded_at=e.timestamp,
        actor_id=e.actor_id,
        actor_unit=e.actor_unit,
        details=details,
    )


def _listed_first(procedure: Procedure, names: set[str]) -> list[str]:
    """The documents in the order of the procedure's list, then any others by name."""
    listed = [d.name_vi for d in procedure.document_list if d.name_vi in names]
    return listed + sorted(names - set(listed))


def _check_count(attachments: Sequence[Attachment]) -> None:
    if len(attachments) > MAX_FILES:
        raise DomainError(f"Mỗi lần nộp tối đa {MAX_FILES} tệp.",
                          f"At most {MAX_FILES} files at a time.")


_E = TypeVar("_E", Channel, DispatchMethod, AttachmentPurpose, ResultDelivery, PaymentMethod)


def _parse_enum(enum: type[_E], value: str, label_vi: str, label_en: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise DomainError(
            f"Giá trị “{value}” không hợp lệ cho {label_vi}.",
            f"“{value}” is not a valid {label_en}.",
        ) from None


def _delivery_failure(reason: str) -> DeliveryFailure:
    try:
        return DeliveryFailure(reason)
    except ValueError:
        raise DomainError("Hãy chọn lý do phát không thành công.",
                          "Choose why the delivery failed.") from None
