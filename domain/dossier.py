"""The Dossier aggregate: one citizen's file and everything that happened to it.

Public command methods check the rules and compute every value (times, codes, tokens, due
dates); the private ``@event`` methods only assign, so a dossier rebuilt from its events is
identical to the one that was saved.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.documents import AttachmentPurpose, FileFacts
from domain.errors import AccessDenied, DomainError, NotFound
from domain.fees import (
    FeeSchedule,
    PaymentAlreadyConfirmed,
    PaymentAmountWrong,
    amount_owed,
    check_amount,
    same_order,
)
from domain.organisation import (
    Allotment,
    MediaType,
    Procedure,
    Role,
    RouteStep,
    Staff,
    Unit,
    UnitKind,
    receive_refusal,
    sees_only_the_post,
)
from domain.result_signature import SignatureVerdict
from domain.signing import DecisionStatement, UnlockedKey, document_digest, owner_of
from domain.text import clean_email, clean_phone, clean_text
from domain.working_days import HCMC, WorkingCalendar

# A clerk's clock and the server's may differ a little; beyond this, a time is "in the future".
CLOCK_SKEW = timedelta(minutes=5)
# Reports recorded late (e.g. by the post office) are accepted up to this far back.
MAX_BACKDATING = timedelta(days=90)
# A new appointment further away than this is surely a typing mistake.
MAX_EXTENSION = timedelta(days=365)


class ResultDelivery(StrEnum):
    """How a citizen who submitted online asked to receive the result."""

    ONLINE = "online"
    COUNTER = "counter"
    POST = "post"


class DeliveryFailure(StrEnum):
    """Why the post could not hand a result over at the address."""

    NOBODY_HOME = "nobody_home"
    WRONG_ADDRESS = "wrong_address"
    REFUSED = "refused"


# The post tries this many times; after the last failed attempt it takes the result back.
MAX_DELIVERY_ATTEMPTS = 3


class Channel(StrEnum):
    COUNTER = "counter"
    POST_OFFICE = "post_office"
    ONLINE = "online"


class DispatchMethod(StrEnum):
    COUNTER_PICKUP = "counter_pickup"
    POST = "post"
    ONLINE = "online"  # the electronic result, downloaded by the citizen after a one-time code


# The document type the electronic result is attached under.
RESULT_DOCUMENT = "Kết quả giải quyết thủ tục hành chính (bản điện tử)"


class Stage(StrEnum):
    # Collected at the citizen's address: before the counter's receipt, no clock runs.
    AWAITING_COLLECTION = "awaiting_collection"  # the post office is asked to collect it
    COLLECTED = "collected"  # the post has it, on its way to the counter
    HANDED_TO_COUNTER = "handed_to_counter"  # left at the counter, its receipt not recorded
    SUBMITTED_ONLINE = "submitted_online"  # by the citizen; the counter has not checked it
    NOT_RECEIVED = "not_received"  # the counter refused to receive the online submission
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    # A financial obligation fixed during processing is awaited (portal status 6): the
    # clock waits as it does for missing documents.
    AWAITING_PAYMENT = "awaiting_payment"
    SIGNED = "signed"
    REJECTED = "rejected"
    AWAITING_PICKUP = "awaiting_pickup"
    IN_POSTAL_TRANSIT = "in_postal_transit"
    DELIVERED = "delivered"
    WITHDRAWN = "withdrawn"


def is_late(*, stage: Stage, due_date: date, result_ready_at: datetime | None,
            paused_at: datetime | None, today: date) -> bool:
    """Late when the result was (or still is not) ready after the end of the due date.

    While a supplement is awaited the clock stands still at the day it paused; a withdrawn
    dossier is never late.
    """
    if stage in (Stage.WITHDRAWN, Stage.NOT_RECEIVED, Stage.SUBMITTED_ONLINE, *BEFORE_RECEIPT):
        return False  # the clock runs from the counter's acceptance
    ready = result_ready_at.astimezone(HCMC).date() if result_ready_at else None
    now = min(today, paused_at.astimezone(HCMC).date()) if paused_at else today
    return (ready or now) > due_date


BEFORE_RECEIPT = frozenset({Stage.AWAITING_COLLECTION, Stage.COLLECTED,
                            Stage.HANDED_TO_COUNTER})


def is_rateable(*, stage: Stage, rejected: bool, rated: bool) -> bool:
    """The citizen may rate once the service is over for them: the result reached them, or
    the application was refused (a refusal is an answer too, even before its letter is
    handed over)."""
    return not rated and (stage is Stage.DELIVERED or rejected)


def stage_after_dispatch(method: DispatchMethod) -> Stage:
    # An online result awaits its first download as a paper one awaits pick-up.
    return Stage.IN_POSTAL_TRANSIT if method is DispatchMethod.POST else Stage.AWAITING_PICKUP


class PaymentMethod(StrEnum):
    CASH = "cash"  # at the counter, against a numbered receipt (biên lai)
    ONLINE = "online"  # through the payment gateway (or the national portal's)


class Action(StrEnum):
    ACCEPT_ONLINE = "accept_online"
    REFUSE_TO_RECEIVE = "refuse_to_receive"
    ACCEPT_TRANSFER = "accept_transfer"
    TRANSFER = "transfer"
    REQUEST_SUPPLEMENT = "request_supplement"
    PROVIDE_SUPPLEMENT = "provide_supplement"
    EXTEND = "extend"
    SIGN = "sign"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    DISPATCH = "dispatch"
    DELIVER = "deliver"
    REQUEST_PAYMENT = "request_payment"
    RECORD_PAYMENT = "record_payment"
    # The post collecting a dossier at the citizen's address, and the counter receiving it.
    COLLECT = "collect"
    HAND_OVER = "hand_over"
    RECEIVE_FROM_POST = "receive_from_post"
    REFUND = "refund"
    # A result sent by post that could not be handed over, and what follows.
    RECORD_FAILED_DELIVERY = "record_failed_delivery"
    REDIRECT_DELIVERY = "redirect_delivery"
    RETURN_TO_COUNTER = "return_to_counter"


_DESK = frozenset({Role.RECEPTION, Role.SPECIALIST, Role.SIGNING_OFFICER})
# Who may attach files at all (Dossier.attach decides which dossiers and when).
ATTACHING_ROLES = _DESK
# Who may open a dossier's files at all (Dossier.may_open_documents decides which dossiers).
DOCUMENT_READERS = _DESK | {Role.INSPECTOR, Role.ADMINISTRATOR}

# The actions a step exists for, offered before the others when allowed: a transfer waiting
# to be accepted, documents the citizen brought, the signature, handing out, delivering.
NEXT_ACTIONS: tuple[Action, ...] = (
    Action.COLLECT, Action.HAND_OVER, Action.RECEIVE_FROM_POST, Action.ACCEPT_TRANSFER,
    Action.PROVIDE_SUPPLEMENT, Action.SIGN, Action.DISPATCH, Action.DELIVER)

# Who may take each action, by role; the unit rules come on top (see Dossier.refusal).
ACTION_ROLES: dict[Action, frozenset[Role]] = {
    Action.ACCEPT_ONLINE: frozenset({Role.RECEPTION}),
    Action.REFUSE_TO_RECEIVE: frozenset({Role.RECEPTION}),
    Action.ACCEPT_TRANSFER: _DESK,
    Action.TRANSFER: _DESK,
    Action.REQUEST_SUPPLEMENT: frozenset({Role.RECEPTION, Role.SPECIALIST}),
    Action.PROVIDE_SUPPLEMENT: frozenset({Role.RECEPTION, Role.SPECIALIST}),
    Action.EXTEND: _DESK,
    Action.SIGN: frozenset({Role.SIGNING_OFFICER}),
    Action.REJECT: frozenset({Role.SPECIALIST, Role.SIGNING_OFFICER}),
    Action.WITHDRAW: frozenset({Role.RECEPTION}),
    Action.DISPATCH: frozenset({Role.RECEPTION}),
    Action.DELIVER: frozenset({Role.RECEPTION, Role.POST_AGENT}),
    Action.REQUEST_PAYMENT: frozenset({Role.RECEPTION, Role.SPECIALIST}),
    Action.RECORD_PAYMENT: frozenset({Role.RECEPTION}),
    Action.COLLECT: frozenset({Role.POST_AGENT}),
    Action.HAND_OVER: frozenset({Role.POST_AGENT}),
    Action.RECEIVE_FROM_POST: frozenset({Role.RECEPTION}),
    Action.REFUND: frozenset({Role.RECEPTION}),
    Action.RECORD_FAILED_DELIVERY: frozenset({Role.POST_AGENT}),
    # The citizen tells the counter (or the look-up page) where the result should go now.
    Action.REDIRECT_DELIVERY: frozenset({Role.RECEPTION}),
    Action.RETURN_TO_COUNTER: frozenset({Role.POST_AGENT}),
}

# Who may ask the post to collect a dossier at an address: the citizen online, a counter
# clerk taking the call, the post office's own system.
PICKUP_REQUEST_ROLES = frozenset({Role.RECEPTION, Role.POST_AGENT})

# A dossier the post collects at the citizen's address goes through these stages before the
# counter's receipt, each with the one postal step that moves it on.
POSTAL_PICKUP_STEPS: dict[Stage, Action] = {
    Stage.AWAITING_COLLECTION: Action.COLLECT,
    Stage.COLLECTED: Action.HAND_OVER,
    Stage.HANDED_TO_COUNTER: Action.RECEIVE_FROM_POST,
}

# Actions the counter that received the dossier may record wherever the file is: the
# citizen comes back to the counter to withdraw, to hand in what was missing, or to pay.
_COUNTER_ACTIONS = frozenset({Action.WITHDRAW, Action.PROVIDE_SUPPLEMENT,
                              Action.RECORD_PAYMENT, Action.REFUND,
                              Action.REDIRECT_DELIVERY})

# A unit outside the procedure's route gets this long for its step.
OFF_ROUTE_STEP = RouteStep("", 1, Allotment.WORKING_DAYS)

# Who rated: the citizen has no staff account, and is the only one holding the token.
CITIZEN = "citizen"
# 1 = very dissatisfied … 5 = very satisfied.
SATISFACTION_LEVELS = range(1, 6)
RATING_COMMENT_MAX_LENGTH = 1000


class AlreadyRated(DomainError):
    """The one rating a dossier allows was already given (often: the same form sent twice)."""

    def __init__(self) -> None:
        super().__init__("Bạn đã đánh giá hồ sơ này rồi. Xin cảm ơn!",
                         "You have already rated this service. Thank you!")


@dataclass(frozen=True)
class Actor:
    user_id: str
    unit_code: str
    roles: frozenset[Role] = frozenset()

    @property
    def may_sign(self) -> bool:
        return Role.SIGNING_OFFICER in self.roles

    @classmethod
    def of(cls, staff: Staff) -> Actor:
        return cls(staff.user_id, staff.unit_code, staff.roles)


@dataclass(frozen=True)
class Applicant:
    name: str
    phone: str
    address: str
    id_number: str = ""
    # Where the citizen is told of a result ready, a delay or missing documents; optional.
    email: str = ""
    # What an online submission adds: how the result should reach the citizen.
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def cleaned(cls, name: str, phone: str, address: str, id_number: str = "",
                email: str = "") -> Applicant:
        return cls(
            name=clean_text(name, label_vi="họ tên người nộp", label_en="applicant's name",
                            max_length=200),
            phone=clean_phone(phone),
            address=clean_text(address, label_vi="địa chỉ", label_en="address", max_length=500),
            id_number=clean_text(id_number, label_vi="số giấy tờ tùy thân",
                                 label_en="identity document number", max_length=20,
                                 required=False),
            email=clean_email(email),
        )

    def as_dict(self) -> dict[str, str]:
        applicant = {"name": self.name, "phone": self.phone, "address": self.address,
                     "id_number": self.id_number}
        # Only when given: a receipt without one records exactly what it recorded before
        # addresses were asked for (older events have no "email" key at all).
        if self.email:
            applicant["email"] = self.email
        return applicant | self.extra


def new_tracking_token() -> str:
    """128 random bits, URL-safe: the only key to the public status page."""
    return secrets.token_urlsafe(16)


def dossier_code(agency_code: str, local_day: date, number: int) -> str:
    return f"{agency_code}-{local_day:%y%m%d}-{number:04d}"


_DOSSIER_NAMESPACE = uuid5(NAMESPACE_URL, "https://hoso.example/dossier")


class Dossier(Aggregate):
    class Event(Aggregate.Event):
        actor_id: str
        actor_unit: str
        occurred_at: datetime

    class Received(Event, Aggregate.Created):
        class_version = 3
        procedure_code: str
        applicant: dict[str, str]
        channel: str
        receiving_unit: str
        documents: list[str]
        processing_days: int
        due_date: date
        due_date_basis: dict[str, Any]
        route: list[dict[str, Any]]
        step_due_at: datetime | None
        code: str
        tracking_token: str
        idempotency_key: str
        # The procedure's fee schedule as published when received (FeeSchedule.as_dict), or
        # None: the dossier keeps it whatever the catalogue says later.
        fee: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["due_date_basis"] = {}
            state["route"] = []
            state["step_due_at"] = None
            state["idempotency_key"] = ""

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["fee"] = None  # received before hoso kept fee schedules

    @staticmethod
    def create_id(idempotency_key: str) -> UUID:
        """The same receipt submitted twice (a double click, a retry) names one dossier."""
        return uuid5(_DOSSIER_NAMESPACE, idempotency_key)

    class Transferred(Event):
        class_version = 3
        from_unit: str
        to_unit: str
        to_officer: str | None
        note: str
        off_route: bool
        route_position: int | None
        awaits_acceptance: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["off_route"] = False
            state["route_position"] = None
            state["awaits_acceptance"] = False  # dossiers from before acceptance existed

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state.setdefault("awaits_acceptance", True)

    class AcceptedOnline(Event):
        """The counter checked an online submission and received it: the clock starts."""

        processing_days: int
        due_date: date
        due_date_basis: dict[str, Any]
        step_due_at: datetime | None
        submitted_at: datetime

    class RefusedToReceive(Event):
        """The counter refused to receive an online submission (form 03), with reasons."""

        reasons: str
        submitted_at: datetime

    class TransferAccepted(Event):
        from_unit: str
        transferred_at: datetime
        step_due_at: datetime

    class SupplementRequested(Event):
        missing_items: list[str]
        reason: str
        justification: str
        request_number: int
        # Since version 2: the items typed outside the procedure's published document list
        # (allowed, but shown as such to the citizen and counted for the red flags). None on
        # version 1 events: recorded before the request was checked against the list.
        outside_list: list[str] | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["outside_list"] = None

    class SupplementProvided(Event):
        documents: list[str]
        paused_working_days: int
        due_date: date
        step_due_at: datetime | None

    class Extended(Event):
        previous_due_date: date
        due_date: date
        reason: str
        apology: str
        extension_number: int

    class Signed(Event):
        decision_number: str
        decision_title: str
        # Since version 2, the officer's signature over the decision statement (see
        # domain/signing.py); version 1 events were recorded before hoso kept signatures.
        document_sha256: str | None
        key_id: str | None
        signature: str | None
        # Since version 3, the verdict on the electronic result's PAdES signature (signer,
        # signing time, certificate fingerprint, trust root: domain/result_signature.py),
        # checked before it was accepted; None without an electronic result.
        result_signature: dict[str, Any] | None
        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(document_sha256=None, key_id=None, signature=None)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["result_signature"] = None

    class Rejected(Event):
        reasons: str

    class Withdrawn(Event):
        reason: str

    class Dispatched(Event):
        method: str
        postal_tracking_number: str | None
        holder_unit: str

    class Delivered(Event):
        recipient_name: str

    class DeliveryAttemptFailed(Event):
        """The post could not hand the result over at the address (attempt ``attempt``)."""

        reason: str  # a DeliveryFailure
        attempt: int

    class DeliveryRedirected(Event):
        """The citizen asked for the result at ``address`` (personal data) instead, or, with
        no address, to collect it at the counter."""

        address: str | None

    class ReturnedToCounter(Event):
        """The post brought an undelivered result back to the counter, which keeps it for
        the citizen to collect."""

        to_unit: str
        failed_attempts: int

    class PickupRequested(Event):
        """The post office is asked to collect the dossier at ``address`` (personal data)."""

        address: str
        post_office: str  # the unit that collects
        receiving_unit: str  # the counter it is taken to

    class CollectedByPost(Event):
        """A post agent collected the dossier at the address: postal transit begins."""

        postal_tracking_number: str
        items: list[str]  # what was collected, as the agent lists it

    class HandedToCounter(Event):
        """The post agent left the dossier at the counter (the post's side of the handover)."""

        to_unit: str

    class ReceivedFromPost(Event):
        """The counter's receipt of a collected dossier (its side of the handover): postal
        transit ends and the processing clock starts."""

        from_unit: str  # the post office
        handed_over_by: str
        collected_at: datetime
        handed_over_at: datetime
        processing_days: int
        due_date: date
        due_date_basis: dict[str, Any]
        step_due_at: datetime | None

    class ResultDownloaded(Event):
        """The citizen downloaded the electronic result, after a one-time code; the first
        download is its delivery."""

        sha256: str

    class DocumentAttached(Event):
        """A file kept with the dossier: what it is and its digest, never its bytes."""

        document_type: str  # the name on the procedure's list, or as typed when outside it
        outside_list: bool  # not on the procedure's published document list
        purpose: str  # AttachmentPurpose
        file_name: str
        media_type: str
        size: int
        sha256: str

    class PaymentRequested(Event):
        """The holder asks the citizen to pay a financial obligation fixed during processing
        (portal status 6); the clock waits until it is paid, as for missing documents."""

        amount_vnd: int
        reason: str

    class FeePaid(Event):
        """A fee or obligation paid: in cash at the counter against a numbered receipt, or
        online (the gateway's transaction number). When it settles an awaited obligation
        the clock resumes, the due date moved by the working days waited."""

        amount_vnd: int
        method: str  # PaymentMethod
        receipt_number: str  # the counter's receipt (biên lai) or the gateway's transaction
        order_ref: str  # the online payment order it settles ("" when paid at the counter)
        owed_vnd: int  # what was owed just before: a payment differing from it is a red flag
        after_result: bool  # recorded once the decision was made (a red flag too)
        resumed: bool
        paused_working_days: int
        due_date: date
        step_due_at: datetime | None

    class FeeRefunded(Event):
        """Money returned to the citizen at the counter: all that was paid for a dossier
        refused or withdrawn, or what was paid beyond what was owed."""

        amount_vnd: int
        reason: str
        receipt_number: str  # the counter's refund voucher (phiếu chi)

    class Rated(Event):
        """The citizen's one rating of the service, given with the tracking token."""

        satisfaction: int  # 1 = very dissatisfied … 5 = very satisfied
        came_back: bool  # had to come back more often than the appointments required
        unofficial_request: bool  # was asked for anything the law does not list
        comment: str

    # ---- receiving -------------------------------------------------------------------

    @classmethod
    def receive(
        cls,
        *,
        procedure: Procedure,
        applicant: Applicant,
        channel: Channel,
        documents: list[str],
        actor: Actor,
        receiving_unit: Unit,
        occurred_at: datetime,
        recorded_at: datetime,
        sequence_number: int,
        calendar: WorkingCalendar,
        idempotency_key: str,
    ) -> Dossier:
        refusal = receive_refusal(procedure, receiving_unit, actor.unit_code,
                                  frozenset(actor.roles))
        if refusal is not None:
            raise refusal
        _check_occurred_at(occurred_at, recorded_at, previous=None)
        handed_in = _clean_list(documents, "tên giấy tờ", "document name")
        if not handed_in:
            raise DomainError(
                "Hãy ghi ít nhất một giấy tờ đã nộp.", "List at least one document handed in."
            )
        due = calendar.due_date(occurred_at, procedure.processing_days, procedure.rules.cutoff)
        local_day = occurred_at.astimezone(HCMC).date()
        return cls(
            actor_id=actor.user_id,
            actor_unit=actor.unit_code,
            occurred_at=occurred_at,
            timestamp=recorded_at,
            procedure_code=procedure.code,
            applicant=applicant.as_dict(),
            channel=channel.value,
            receiving_unit=receiving_unit.code,
            documents=handed_in,
            processing_days=procedure.processing_days,
            due_date=due.due,
            due_date_basis=due.as_dict(),
            route=[{"unit_code": step.unit_code, "allotted": step.allotted,
                    "measure": step.measure.value} for step in procedure.route],
            step_due_at=_step_due(procedure.route[0], occurred_at, calendar),
            code=dossier_code(receiving_unit.agency_code, local_day, sequence_number),
            tracking_token=new_tracking_token(),
            idempotency_key=idempotency_key,
            fee=procedure.fee.as_dict() if procedure.fee else None,
        )

    @classmethod
    def submit_online(
        cls, *, procedure: Procedure, applicant: Applicant, documents: list[str],
        receiving_unit: Unit, occurred_at: datetime, sequence_number: int,
        calendar: WorkingCalendar, idempotency_key: str,
    ) -> Dossier:
        """A citizen's own submission on the public path: registered (portal status 1) with
        its code and tracking token, waiting for the receiving counter to check it. The due
        date shown is provisional; it is counted again from the counter's acceptance."""
        if not procedure.online:
            raise DomainError(
                f"Thủ tục “{procedure.name_vi}” chưa nhận hồ sơ trực tuyến.",
                f"The procedure “{procedure.name_en}” is not offered online.")
        if procedure.reception_unit != receiving_unit.code:
            raise DomainError("Đơn vị tiếp nhận không đúng với thủ tục.",
                              "The receiving unit does not match the procedure.")
        handed_in = _clean_list(documents, "tên giấy tờ", "document name")
        due = calendar.due_date(occurred_at, procedure.processing_days, procedure.rules.cutoff)
        return cls(
            actor_id=CITIZEN, actor_unit=receiving_unit.code, occurred_at=occurred_at,
            timestamp=occurred_at, procedure_code=procedure.code,
            applicant=applicant.as_dict(), channel=Channel.ONLINE.value,
            receiving_unit=receiving_unit.code, documents=handed_in,
            processing_days=procedure.processing_days, due_date=due.due,
            due_date_basis=due.as_dict(),
            route=[{"unit_code": step.unit_code, "allotted": step.allotted,
                    "measure": step.measure.value} for step in procedure.route],
            step_due_at=None,
            code=dossier_code(receiving_unit.agency_code,
                              occurred_at.astimezone(HCMC).date(), sequence_number),
            tracking_token=new_tracking_token(), idempotency_key=idempotency_key,
            fee=procedure.fee.as_dict() if procedure.fee else None,
        )

    def reached_at(self, contact: str) -> bool:
        """Whether ``contact`` (cleaned) is the email or phone the applicant gave."""
        given = [self.applicant.get("email", "").casefold(), self.applicant.get("phone", "")]
        return bool(contact) and contact.casefold() in given

    @property
    def submitted_by_citizen(self) -> bool:
        return self.received_by == CITIZEN

    @event(Received)
    def __init__(
        self,
        *,
        actor_id: str,
        actor_unit: str,
        occurred_at: datetime,
        timestamp: datetime,
        procedure_code: str,
        applicant: dict[str, str],
        channel: str,
        receiving_unit: str,
        documents: list[str],
        processing_days: int,
        due_date: date,
        due_date_basis: dict[str, Any],
        route: list[dict[str, Any]],
        step_due_at: datetime | None,
        code: str,
        tracking_token: str,
        idempotency_key: str,
        fee: dict[str, Any] | None = None,
    ) -> None:
        self.procedure_code = procedure_code
        self.fee_schedule = FeeSchedule.of(fee)
        self.applicant = applicant
        self.channel = Channel(channel)
        self.receiving_unit = receiving_unit
        self.received_by = actor_id
        self.documents_received = documents
        self.documents = documents
        self.processing_days = processing_days
        self.due_date = due_date
        self.due_date_basis = due_date_basis
        self.route = [RouteStep(s["unit_code"], s["allotted"], Allotment(s["measure"]))
                      for s in route]
        self.route_position: int | None = 0 if route else None
        self.step_due_at = step_due_at
        self.step_started_at: datetime | None = occurred_at
        self.code = code
        self.tracking_token = tracking_token
        self.received_at = occurred_at
        self.last_occurred_at = occurred_at
        self.holder_unit = receiving_unit
        self.holder_officer: str | None = actor_id
        self.arrived_at = occurred_at
        self.pending_from_unit: str | None = None
        # A citizen's own online submission waits for the counter's check (portal status 1).
        self.stage = Stage.SUBMITTED_ONLINE if actor_id == CITIZEN else Stage.RECEIVED
        if actor_id == CITIZEN:
            self.holder_officer = None
            self.step_started_at = None
        self.accepted_at: datetime | None = None
        self.not_received_at: datetime | None = None
        self.stage_before_pause: Stage | None = None
        self.paused_at: datetime | None = None
        self.supplement_requests = 0
        self.extensions = 0
        self.decision_number: str | None = None
        self.result_signature: dict[str, Any] | None = None
        self.decision_title: str | None = None
        self.signed_at: datetime | None = None
        self.rejection_reasons: str | None = None
        self.rejected_at: datetime | None = None
        self.pickup_address: str | None = None
        self.collected_at: datetime | None = None
        self.handed_over_at: datetime | None = None
        self.handed_over_by: str | None = None
        self.dispatch_method: DispatchMethod | None = None
        self.postal_tracking_number: str | None = None
        self.delivered_at: datetime | None = None
        self.failed_attempts = 0
        self.delivery_address: str | None = None  # a changed address, if the citizen gave one
        self.counter_pickup_asked = False  # the citizen chose the counter after dispatch
        self.returned_at: datetime | None = None
        self.recipient_name: str | None = None
        self.withdrawn_at: datetime | None = None
        self.rated_at: datetime | None = None
        self.satisfaction: int | None = None
        # Files kept with the dossier (DocumentAttached, as recorded) and every unit that
        # held it: who may open those files.
        self.attachments: list[dict[str, Any]] = []
        self.units_involved: list[str] = [receiving_unit]
        # Whole đồng: obligations requested during processing, and everything paid.
        self.amount_requested_vnd = 0
        self.amount_paid_vnd = 0
        self.amount_refunded_vnd = 0
        self.payments: list[dict[str, Any]] = []

    def is_receipt_of(self, *, actor_id: str, procedure_code: str, applicant: Applicant,
                      channel: Channel, documents: list[str],
                      occurred_at: datetime | None) -> bool:
        """Whether a receipt sent again with this dossier's idempotency key is this very
        receipt (a repeat, answered with this dossier) rather than another one reusing the
        key (refused). The time is compared only when the repeat names one."""
        return (
            (self.received_by, self.procedure_code, self.applicant, self.channel,
             self.documents_received)
            == (actor_id, procedure_code, applicant.as_dict(), channel,
                _clean_list(documents, "tên giấy tờ", "document name"))
            and (occurred_at is None or occurred_at == self.received_at)
        )

    # ---- collected at the citizen's address -------------------------------------------

    @classmethod
    def request_pickup(
        cls, *, procedure: Procedure, applicant: Applicant, address: str,
        documents: list[str], actor: Actor, post_office: Unit, receiving_unit: Unit,
        occurred_at: datetime, recorded_at: datetime, sequence_number: int,
        calendar: WorkingCalendar, idempotency_key: str,
    ) -> Dossier:
        """The post office asked to collect a dossier at ``address`` and bring it to the
        procedure's counter. The dossier has its code and tracking token from now; its due
        date is provisional and counted again from the counter's receipt."""
        refusal = pickup_request_refusal(actor, procedure, post_office)
        if refusal is not None:
            raise refusal
        if procedure.reception_unit != receiving_unit.code:
            raise DomainError("Đơn vị tiếp nhận không đúng với thủ tục.",
                              "The receiving unit does not match the procedure.")
        _check_occurred_at(occurred_at, recorded_at, previous=None)
        where = clean_text(address, label_vi="địa chỉ bưu điện đến lấy hồ sơ",
                           label_en="address to collect the dossier at", max_length=500)
        due = calendar.due_date(occurred_at, procedure.processing_days, procedure.rules.cutoff)
        dossier = cls(
            actor_id=actor.user_id, actor_unit=actor.unit_code, occurred_at=occurred_at,
            timestamp=recorded_at, procedure_code=procedure.code,
            applicant=applicant.as_dict(), channel=Channel.POST_OFFICE.value,
            receiving_unit=receiving_unit.code,
            documents=_clean_list(documents, "tên giấy tờ", "document name"),
            processing_days=procedure.processing_days, due_date=due.due,
            due_date_basis=due.as_dict(),
            route=[{"unit_code": step.unit_code, "allotted": step.allotted,
                    "measure": step.measure.value} for step in procedure.route],
            step_due_at=None,
            code=dossier_code(receiving_unit.agency_code,
                              occurred_at.astimezone(HCMC).date(), sequence_number),
            tracking_token=new_tracking_token(), idempotency_key=idempotency_key,
            fee=procedure.fee.as_dict() if procedure.fee else None,
        )
        dossier._pickup_requested(
            actor_id=actor.user_id, actor_unit=actor.unit_code, occurred_at=occurred_at,
            timestamp=recorded_at, address=where, post_office=post_office.code,
            receiving_unit=receiving_unit.code)
        return dossier

    @event(PickupRequested)
    def _pickup_requested(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                          timestamp: datetime, address: str, post_office: str,
                          receiving_unit: str) -> None:
        self.pickup_address = address
        self.holder_unit = post_office
        self.holder_officer = None
        self.step_started_at = None
        self.step_due_at = None
        self.last_occurred_at = occurred_at
        self.stage = Stage.AWAITING_COLLECTION

    def is_pickup_request_of(self, *, actor_id: str, procedure_code: str,
                             applicant: Applicant, address: str) -> bool:
        """Whether a pick-up request sent again with this dossier's key is this very one."""
        return ((self.received_by, self.procedure_code, self.applicant, self.pickup_address)
                == (actor_id, procedure_code, applicant.as_dict(),
                    clean_text(address, label_vi="địa chỉ", label_en="address",
                               max_length=500)))

    def collect(self, *, postal_tracking_number: str, items: list[str], actor: Actor,
                occurred_at: datetime, recorded_at: datetime) -> None:
        self._ensure(Action.COLLECT, actor, occurred_at, recorded_at)
        collected = _clean_list(items, "giấy tờ đã nhận", "item collected")
        if not collected:
            raise DomainError("Hãy ghi các giấy tờ đã nhận từ công dân.",
                              "List what was collected from the citizen.")
        self._collected_by_post(
            **self._common(actor, occurred_at, recorded_at),
            postal_tracking_number=_postal_tracking_number(postal_tracking_number),
            items=collected)

    @event(CollectedByPost)
    def _collected_by_post(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                           timestamp: datetime, postal_tracking_number: str,
                           items: list[str]) -> None:
        self.postal_tracking_number = postal_tracking_number
        self.documents = items
        self.collected_at = occurred_at
        self.holder_officer = actor_id
        self.last_occurred_at = occurred_at
        self.stage = Stage.COLLECTED

    def hand_over(self, *, actor: Actor, occurred_at: datetime, recorded_at: datetime) -> None:
        self._ensure(Action.HAND_OVER, actor, occurred_at, recorded_at)
        self._handed_to_counter(**self._common(actor, occurred_at, recorded_at),
                                to_unit=self.receiving_unit)

    @event(HandedToCounter)
    def _handed_to_counter(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                           timestamp: datetime, to_unit: str) -> None:
        # Like a transfer: the counter holds it, waiting to record its receipt.
        self.pending_from_unit = actor_unit
        self.holder_unit = to_unit
        self.holder_officer = None
        self.arrived_at = occurred_at
        self.handed_over_at = occurred_at
        self.handed_over_by = actor_id
        self.last_occurred_at = occurred_at
        self.stage = Stage.HANDED_TO_COUNTER

    def receive_from_post(self, *, actor: Actor, occurred_at: datetime, recorded_at: datetime,
                          procedure: Procedure, calendar: WorkingCalendar) -> None:
        """The counter's receipt: the processing clock and the first step start now."""
        self._ensure(Action.RECEIVE_FROM_POST, actor, occurred_at, recorded_at)
        assert self.collected_at is not None and self.handed_over_at is not None
        assert self.handed_over_by is not None and self.pending_from_unit is not None
        due = calendar.due_date(occurred_at, self.processing_days, procedure.rules.cutoff)
        self._received_from_post(
            **self._common(actor, occurred_at, recorded_at),
            from_unit=self.pending_from_unit, handed_over_by=self.handed_over_by,
            collected_at=self.collected_at,
            handed_over_at=self.handed_over_at, processing_days=self.processing_days,
            due_date=due.due, due_date_basis=due.as_dict(),
            step_due_at=_step_due(self.route[0], occurred_at, calendar) if self.route else None)

    @event(ReceivedFromPost)
    def _received_from_post(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                            timestamp: datetime, from_unit: str, handed_over_by: str,
                            collected_at: datetime,
                            handed_over_at: datetime, processing_days: int, due_date: date,
                            due_date_basis: dict[str, Any],
                            step_due_at: datetime | None) -> None:
        self.pending_from_unit = None
        self.due_date = due_date
        self.due_date_basis = due_date_basis
        self.step_due_at = step_due_at
        self.step_started_at = occurred_at
        self.holder_officer = actor_id
        self.accepted_at = occurred_at
        self.last_occurred_at = occurred_at
        self.stage = Stage.RECEIVED

    @property
    def postal_transit(self) -> timedelta | None:
        """From the post's collection to the counter's receipt: neither desk's time."""
        if self.collected_at is None or self.accepted_at is None:
            return None
        return self.accepted_at - self.collected_at

    # ---- what may happen now ---------------------------------------------------------

    @property
    def result_ready_at(self) -> datetime | None:
        """When the decision (a signed result or a refusal) was made."""
        return self.signed_at or self.rejected_at

    @property
    def paused(self) -> bool:
        """The clock waits for the citizen: missing documents, or an obligation to pay."""
        return self.paused_at is not None

    @property
    def awaiting_supplement(self) -> bool:
        return self.paused and self.stage is Stage.AWAITING_SUPPLEMENT

    @property
    def awaiting_payment(self) -> bool:
        return self.paused and self.stage is Stage.AWAITING_PAYMENT

    @property
    def amount_due_vnd(self) -> int:
        """Everything asked of the citizen: the fee due at reception under the schedule the
        dossier was received with, and the obligations requested since."""
        return (self.fee_schedule.due_at_reception if self.fee_schedule else 0) \
            + self.amount_requested_vnd

    @property
    def ended_without_result(self) -> bool:
        """Refused, withdrawn or not received: nothing is owed any more, what was paid is
        to be returned."""
        return self.rejected_at is not None or self.stage in (Stage.WITHDRAWN,
                                                                Stage.NOT_RECEIVED)

    @property
    def amount_owed_vnd(self) -> int:
        return amount_owed(self.amount_due_vnd, self.amount_paid_vnd - self.amount_refunded_vnd,
                           ended_without_result=self.ended_without_result)

    @property
    def refundable_vnd(self) -> int:
        """What the counter owes the citizen back: everything paid when the dossier ended
        without a result, otherwise what was paid beyond what was asked."""
        kept = 0 if self.ended_without_result else self.amount_due_vnd
        return max(0, self.amount_paid_vnd - self.amount_refunded_vnd - kept)

    def refusal(self, action: Action, actor: Actor) -> DomainError | None:
        """Why ``actor`` may not take ``action`` now, or None if they may."""
        return (
            self._refusal_by_state(action, actor)
            or self._refusal_by_unit(action, actor)
            or _refusal_by_role(action, actor)
        )

    def may_act(self, action: Action, actor: Actor) -> bool:
        """Whether ``action`` is ``actor``'s to take on this dossier at all (unit and role),
        whatever its state now: a refusal to someone who may not is told in no detail."""
        return (self._refusal_by_unit(action, actor) is None
                and _refusal_by_role(action, actor) is None)

    def _refusal_by_state(self, action: Action, actor: Actor) -> DomainError | None:
        if action is Action.REFUND:  # after the end too: the money must go back
            return None if self.refundable_vnd else DomainError(
                "Không có khoản nào cần hoàn trả cho công dân.",
                "Nothing is to be refunded to the citizen.")
        if self.stage in BEFORE_RECEIPT or action in POSTAL_PICKUP_STEPS.values():
            return self._postal_pickup_refusal(action)
        if self.stage is Stage.NOT_RECEIVED:
            return DomainError(
                "Hồ sơ trực tuyến này đã bị từ chối tiếp nhận; không thể thao tác thêm.",
                "This online submission was refused at reception; no further action.")
        checking = self.stage is Stage.SUBMITTED_ONLINE or (
            self.stage is Stage.AWAITING_SUPPLEMENT
            and self.stage_before_pause is Stage.SUBMITTED_ONLINE)
        if action in (Action.ACCEPT_ONLINE, Action.REFUSE_TO_RECEIVE):
            if self.stage is not Stage.SUBMITTED_ONLINE:
                return DomainError(
                    "Hồ sơ không phải hồ sơ trực tuyến đang chờ kiểm tra." if not checking
                    else "Hồ sơ đang chờ công dân bổ sung giấy tờ.",
                    "The dossier is not an online submission awaiting its check." if not
                    checking else "The citizen has yet to provide the missing documents.")
            return None
        if checking and action not in (Action.REQUEST_SUPPLEMENT, Action.PROVIDE_SUPPLEMENT):
            return DomainError(
                "Hồ sơ trực tuyến cần được bộ phận một cửa kiểm tra và tiếp nhận trước.",
                "The online submission must first be checked and received at the counter.")
        if self.stage is Stage.DELIVERED:
            return DomainError(
                "Hồ sơ đã trả kết quả cho công dân; không thể thao tác thêm.",
                "The result has been delivered; no further action is possible.",
            )
        if self.stage is Stage.WITHDRAWN:
            return DomainError(
                "Hồ sơ đã được rút theo yêu cầu của công dân; không thể thao tác thêm.",
                "The dossier was withdrawn at the citizen's request; no further action.",
            )
        at_counter = action in _COUNTER_ACTIONS and actor.unit_code == self.receiving_unit
        if (self.pending_from_unit is not None and action is not Action.ACCEPT_TRANSFER
                and not at_counter):
            return DomainError(
                f"Hồ sơ đang chờ đơn vị {self.holder_unit} tiếp nhận; hãy tiếp nhận hồ sơ "
                "chuyển đến trước.",
                f"The dossier awaits acceptance by unit {self.holder_unit}; accept the "
                "transfer first.",
            )
        ready = self.result_ready_at is not None
        refusals: dict[Action, tuple[bool, str, str]] = {
            Action.ACCEPT_TRANSFER: (
                self.pending_from_unit is None,
                "Không có lần chuyển hồ sơ nào đang chờ tiếp nhận.",
                "No transfer is waiting to be accepted."),
            Action.TRANSFER: (
                self.dispatch_method is not None,
                "Kết quả đã được gửi đi; không thể chuyển hồ sơ nữa.",
                "The result has been dispatched; the dossier can no longer be transferred."),
            Action.REQUEST_SUPPLEMENT: (
                ready or self.paused,
                "Hồ sơ đã có kết quả; không thể yêu cầu bổ sung." if ready
                else self._waiting_vi(),
                "The dossier already has a result; no supplement can be requested." if ready
                else self._waiting_en()),
            Action.REQUEST_PAYMENT: (
                ready or self.paused,
                "Hồ sơ đã có kết quả; không thể yêu cầu nộp thêm." if ready
                else self._waiting_vi(),
                "The dossier already has a result; nothing more can be requested." if ready
                else self._waiting_en()),
            Action.RECORD_PAYMENT: (
                self.amount_owed_vnd == 0,
                "Không có khoản phí, lệ phí hay nghĩa vụ tài chính nào đang chờ nộp.",
                "No fee, charge or financial obligation is owed."),
            Action.PROVIDE_SUPPLEMENT: (
                not self.awaiting_supplement,
                "Hồ sơ không có yêu cầu bổ sung nào đang chờ.",
                "No supplement is awaited for this dossier."),
            Action.EXTEND: (
                ready,
                "Hồ sơ đã có kết quả; không cần gia hạn.",
                "The dossier already has a result; no extension is needed."),
            Action.SIGN: (
                self.decision_number is not None or self.rejected_at is not None
                or self.paused,
                f"Hồ sơ đã được ký (quyết định số {self.decision_number}); không thể ký lại."
                if self.decision_number else "Hồ sơ đã bị từ chối; không thể ký."
                if self.rejected_at else "Hồ sơ đang chờ bổ sung; chưa thể ký."
                if self.awaiting_supplement else "Hồ sơ đang chờ nộp nghĩa vụ tài chính; chưa "
                "thể ký.",
                f"The dossier is already signed (decision {self.decision_number}); it cannot "
                "be signed twice." if self.decision_number else "The dossier was refused; it "
                "cannot be signed." if self.rejected_at else "A supplement is awaited; the "
                "dossier cannot be signed yet." if self.awaiting_supplement else "A financial "
                "obligation is awaited; the dossier cannot be signed yet."),
            Action.REJECT: (
                ready,
                "Hồ sơ đã có kết quả; không thể từ chối nữa.",
                "The dossier already has a result; it can no longer be refused."),
            Action.WITHDRAW: (
                ready,
                "Hồ sơ đã có kết quả; không thể rút hồ sơ.",
                "The dossier already has a result; it cannot be withdrawn."),
            Action.DISPATCH: (
                not ready or self.dispatch_method is not None,
                "Kết quả đã được gửi đi rồi." if self.dispatch_method is not None
                else "Hồ sơ chưa có kết quả (chưa ký hoặc chưa từ chối) nên chưa thể trả.",
                "The result has already been dispatched." if self.dispatch_method is not None
                else "The dossier has no result yet, so nothing can be dispatched."),
            Action.DELIVER: (
                self.dispatch_method in (None, DispatchMethod.ONLINE),
                "Kết quả trực tuyến được coi là đã trao khi công dân tải về lần đầu."
                if self.dispatch_method is DispatchMethod.ONLINE
                else "Kết quả chưa được gửi đi nên chưa thể ghi nhận đã trao.",
                "An online result is delivered when the citizen first downloads it."
                if self.dispatch_method is DispatchMethod.ONLINE
                else "The result has not been dispatched, so it cannot be delivered yet."),
            **self._postal_delivery_refusals(),
        }
        refused, vi, en = refusals[action]
        if refused:
            return DomainError(vi, en)
        return self._delivery_by_post_refusal() if action is Action.DELIVER else None

    def _postal_delivery_refusals(self) -> dict[Action, tuple[bool, str, str]]:
        """The postal delivery's turns: attempts while the post holds the result, at most
        MAX_DELIVERY_ATTEMPTS; the return after the last one or once the citizen chose the
        counter; a new address or the counter asked for while the post still holds it."""
        with_post = self.stage is Stage.IN_POSTAL_TRANSIT
        last_done = self.failed_attempts >= MAX_DELIVERY_ATTEMPTS
        not_with_post = ("Kết quả không ở bưu điện (chưa gửi hoặc đã trao/trả về).",
                         "The post does not hold the result (not sent, delivered or back).")
        return {
            Action.RECORD_FAILED_DELIVERY: (
                not with_post or last_done or self.counter_pickup_asked,
                not_with_post[0] if not with_post else
                "Công dân đã chọn nhận tại quầy; hãy chuyển trả kết quả về bộ phận một cửa."
                if self.counter_pickup_asked else
                f"Đã phát không thành công {MAX_DELIVERY_ATTEMPTS} lần; hãy chuyển trả kết quả "
                "về bộ phận một cửa.",
                not_with_post[1] if not with_post else
                "The citizen chose the counter; return the result there."
                if self.counter_pickup_asked else
                f"Delivery failed {MAX_DELIVERY_ATTEMPTS} times; return the result to the "
                "counter."),
            Action.RETURN_TO_COUNTER: (
                not with_post or not (last_done or self.counter_pickup_asked),
                not_with_post[0] if not with_post else
                f"Chỉ chuyển trả sau lần phát thứ {MAX_DELIVERY_ATTEMPTS} không thành công "
                "hoặc khi công dân chọn nhận tại quầy.",
                not_with_post[1] if not with_post else
                f"The result goes back only after the {MAX_DELIVERY_ATTEMPTS}th failed attempt "
                "or once the citizen chose the counter."),
            Action.REDIRECT_DELIVERY: (
                not with_post or self.counter_pickup_asked,
                not_with_post[0] if not with_post else
                "Công dân đã chọn nhận tại quầy.",
                not_with_post[1] if not with_post else "The citizen already chose the counter."),
        }

    def _delivery_by_post_refusal(self) -> DomainError | None:
        """The post hands the result over only while it may still try."""
        if self.stage is not Stage.IN_POSTAL_TRANSIT:
            return None
        if self.counter_pickup_asked:
            return DomainError("Công dân đã chọn nhận tại quầy; hãy chuyển trả kết quả về bộ "
                               "phận một cửa.",
                               "The citizen chose the counter; return the result there.")
        if self.failed_attempts >= MAX_DELIVERY_ATTEMPTS:
            return DomainError(
                f"Đã phát không thành công {MAX_DELIVERY_ATTEMPTS} lần; hãy chuyển trả kết quả "
                "về bộ phận một cửa.",
                f"Delivery failed {MAX_DELIVERY_ATTEMPTS} times; return the result to the "
                "counter.")
        return None

    def _waiting_vi(self) -> str:
        return ("Hồ sơ đang chờ công dân nộp nghĩa vụ tài chính." if self.awaiting_payment
                else "Hồ sơ đang chờ công dân bổ sung.")

    def _waiting_en(self) -> str:
        return ("A financial obligation is already awaited." if self.awaiting_payment
                else "A supplement is already awaited.")

    def _postal_pickup_refusal(self, action: Action) -> DomainError | None:
        """Before the counter's receipt only the next postal step may happen, and the
        postal steps happen only then."""
        if POSTAL_PICKUP_STEPS.get(self.stage) is action:
            return None
        if self.stage not in BEFORE_RECEIPT:
            return DomainError("Hồ sơ không phải hồ sơ bưu điện đang đến lấy hoặc chuyển đến.",
                               "The dossier is not one the post is collecting or bringing in.")
        waiting: dict[Stage, tuple[str, str]] = {
            Stage.AWAITING_COLLECTION: ("Bưu điện chưa đến lấy hồ sơ tại địa chỉ của công dân.",
                                        "The post has not yet collected the dossier at the "
                                        "citizen's address."),
            Stage.COLLECTED: ("Hồ sơ đang trên đường bưu điện chuyển đến bộ phận một cửa.",
                              "The post is bringing the dossier to the counter."),
            Stage.HANDED_TO_COUNTER: ("Bưu điện đã giao hồ sơ; bộ phận một cửa cần ghi nhận "
                                      "đã nhận trước.",
                                      "The post handed the dossier over; the counter must "
                                      "record its receipt first."),
        }
        vi, en = waiting[self.stage]
        return DomainError(vi, en)

    def _refusal_by_unit(self, action: Action, actor: Actor) -> DomainError | None:
        if actor.unit_code == self.holder_unit:
            return None
        if action in _COUNTER_ACTIONS and actor.unit_code == self.receiving_unit:
            return None
        return AccessDenied(
            f"Hồ sơ đang ở đơn vị {self.holder_unit}; chỉ đơn vị đang giữ hồ sơ mới được "
            "thao tác.",
            f"The dossier is held by unit {self.holder_unit}; only the holding unit may act "
            "on it.",
        )

    def may_view(self, actor: Actor) -> bool:
        """Post office agents see only what was handed to the post (collected or sent)."""
        if sees_only_the_post(actor.roles):
            return (self.dispatch_method is DispatchMethod.POST
                    or self.pickup_address is not None)
        return True

    def allowed_actions(self, actor: Actor) -> list[Action]:
        """What ``actor`` may do now, the step's own next action first (what the file at this
        desk waits for: a signing officer's signature, the counter's hand-out), so that the
        first thing offered never sends the file on undone."""
        allowed = [a for a in Action if self.refusal(a, actor) is None]
        return sorted(allowed, key=lambda a: NEXT_ACTIONS.index(a) if a in NEXT_ACTIONS
                      else len(NEXT_ACTIONS))

    def _ensure(self, action: Action, actor: Actor, occurred_at: datetime,
                recorded_at: datetime) -> None:
        refusal = self.refusal(action, actor)
        if refusal is not None:
            raise refusal
        _check_occurred_at(occurred_at, recorded_at, previous=self.last_occurred_at)

    def _common(self, actor: Actor, occurred_at: datetime,
                recorded_at: datetime) -> dict[str, Any]:
        # ``timestamp`` is the library's recording time; the application's clock sets it, so
        # "recorded when" and "said to have happened when" come from one clock each.
        return {"actor_id": actor.user_id, "actor_unit": actor.unit_code,
                "occurred_at": occurred_at, "timestamp": recorded_at}

    # ---- transfer ----------------------------------------------------------------------

    def transfer(
        self,
        *,
        to_unit: Unit,
        to_officer: Staff | None,
        note: str,
        actor: Actor,
        occurred_at: datetime,
        recorded_at: datetime,
    ) -> None:
        self._ensure(Action.TRANSFER, actor, occurred_at, recorded_at)
        refusal = self.transfer_refusal(to_unit)
        if refusal is not None:
            raise refusal
        if to_officer is not None and to_officer.unit_code != to_unit.code:
            raise DomainError(
                f"Cán bộ {to_officer.full_name} không thuộc đơn vị nhận.",
                f"{to_officer.full_name} does not belong to the receiving unit.",
            )
        position = self._next_route_position(to_unit.code)
        note_text = clean_text(note, label_vi="ghi chú", label_en="note", max_length=1000,
                               required=False)
        if position is None and self.route and not note_text:
            raise DomainError(
                "Đơn vị nhận không nằm trong quy trình của thủ tục; hãy ghi rõ lý do chuyển.",
                "The receiving unit is off the procedure's route; write down why.",
            )
        self._transferred(
            **self._common(actor, occurred_at, recorded_at),
            from_unit=self.holder_unit,
            to_unit=to_unit.code,
            to_officer=to_officer.user_id if to_officer else None,
            note=note_text,
            off_route=position is None and bool(self.route),
            route_position=position,
            awaits_acceptance=bool(self.route),
        )

    def transfer_refusal(self, to_unit: Unit) -> DomainError | None:
        """Why the dossier may not go to ``to_unit``, or None if it may: the one rule behind
        both ``transfer`` and the list of units a page offers."""
        if to_unit.code == self.holder_unit:
            return DomainError(
                "Hồ sơ đang ở chính đơn vị này; hãy chọn đơn vị khác.",
                "The dossier is already at this unit; choose another unit.",
            )
        if to_unit.kind is UnitKind.POST_OFFICE:
            return DomainError(
                "Không chuyển hồ sơ cho bưu điện; hãy dùng “Trả kết quả qua bưu điện”.",
                "Do not transfer to the post office; use “Dispatch by post” instead.",
            )
        if to_unit.kind is UnitKind.OVERSIGHT:
            return DomainError(
                "Không chuyển hồ sơ cho cơ quan thanh tra.",
                "Dossiers are not transferred to the inspectorate.",
            )
        return None

    def transfer_targets(self, units: Iterable[Unit]) -> list[Unit]:
        """The units the dossier may be transferred to, in the order given."""
        return [u for u in units if self.transfer_refusal(u) is None]

    def suggested_transfer(self, units: Iterable[Unit]) -> str | None:
        """The next unit on the procedure's route that the dossier may go to, if any."""
        allowed = {u.code for u in self.transfer_targets(units)}
        start = -1 if self.route_position is None else self.route_position
        for step in self.route[start + 1:]:
            if step.unit_code in allowed:
                return step.unit_code
        return None

    def _next_route_position(self, unit_code: str) -> int | None:
        start = -1 if self.route_position is None else self.route_position
        for position, step in enumerate(self.route):
            if position > start and step.unit_code == unit_code:
                return position
        return None

    @event(Transferred)
    def _transferred(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                     timestamp: datetime,
                     from_unit: str, to_unit: str, to_officer: str | None, note: str,
                     off_route: bool, route_position: int | None,
                     awaits_acceptance: bool) -> None:
        self.holder_unit = to_unit
        self.holder_officer = to_officer
        self.last_occurred_at = occurred_at
        self.arrived_at = occurred_at
        if to_unit not in self.units_involved:
            self.units_involved = [*self.units_involved, to_unit]
        self.step_due_at = None  # the next step's clock starts when it is accepted
        if route_position is not None:
            self.route_position = route_position
        self.pending_from_unit = from_unit if awaits_acceptance else None
        self.step_started_at = None
        # Returning a signed result to the counter does not make it "in progress" again;
        # a paused dossier stays paused, and resumes as "in progress" at its new desk.
        if self.result_ready_at is None:
            if self.paused:
                self.stage_before_pause = Stage.IN_PROGRESS
            else:
                self.stage = Stage.IN_PROGRESS

    def accept_online(self, *, actor: Actor, occurred_at: datetime, recorded_at: datetime,
                      procedure: Procedure, calendar: WorkingCalendar) -> None:
        """Receive an online submission after checking its files: the due date and the
        first step's clock count from now."""
        self._ensure(Action.ACCEPT_ONLINE, actor, occurred_at, recorded_at)
        due = calendar.due_date(occurred_at, self.processing_days, procedure.rules.cutoff)
        self._accepted_online(
            **self._common(actor, occurred_at, recorded_at),
            processing_days=self.processing_days, due_date=due.due,
            due_date_basis=due.as_dict(),
            step_due_at=_step_due(self.route[0], occurred_at, calendar) if self.route else None,
            submitted_at=self.received_at)

    @event(AcceptedOnline)
    def _accepted_online(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                         timestamp: datetime, processing_days: int, due_date: date,
                         due_date_basis: dict[str, Any], step_due_at: datetime | None,
                         submitted_at: datetime) -> None:
        self.due_date = due_date
        self.due_date_basis = due_date_basis
        self.step_due_at = step_due_at
        self.step_started_at = occurred_at
        self.holder_officer = actor_id
        self.accepted_at = occurred_at
        self.last_occurred_at = occurred_at
        self.stage = Stage.RECEIVED

    def refuse_to_receive(self, *, reasons: str, actor: Actor, occurred_at: datetime,
                          recorded_at: datetime) -> None:
        self._ensure(Action.REFUSE_TO_RECEIVE, actor, occurred_at, recorded_at)
        self._refused_to_receive(
            **self._common(actor, occurred_at, recorded_at),
            reasons=clean_text(reasons, label_vi="lý do từ chối tiếp nhận",
                               label_en="reasons for refusing to receive", max_length=2000),
            submitted_at=self.received_at)

    @event(RefusedToReceive)
    def _refused_to_receive(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                            timestamp: datetime, reasons: str,
                            submitted_at: datetime) -> None:
        self.rejection_reasons = reasons
        self.not_received_at = occurred_at
        self.holder_officer = actor_id
        self.step_started_at = None
        self.last_occurred_at = occurred_at
        self.stage = Stage.NOT_RECEIVED

    def accept_transfer(
        self, *, actor: Actor, occurred_at: datetime, recorded_at: datetime,
        calendar: WorkingCalendar,
    ) -> None:
        self._ensure(Action.ACCEPT_TRANSFER, actor, occurred_at, recorded_at)
        assert self.pending_from_unit is not None
        step = (self.route[self.route_position]
                if self.route_position is not None
                and self.route[self.route_position].unit_code == self.holder_unit
                else OFF_ROUTE_STEP)
        self._transfer_accepted(
            **self._common(actor, occurred_at, recorded_at),
            from_unit=self.pending_from_unit,
            transferred_at=self.arrived_at,
            step_due_at=_step_due(step, occurred_at, calendar),
        )

    @event(TransferAccepted)
    def _transfer_accepted(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                           timestamp: datetime,
                           from_unit: str, transferred_at: datetime,
                           step_due_at: datetime) -> None:
        self.pending_from_unit = None
        self.holder_officer = actor_id
        self.step_due_at = step_due_at
        self.step_started_at = occurred_at
        self.last_occurred_at = occurred_at

    # ---- supplements -------------------------------------------------------------------

    def request_supplement(
        self, *, missing_items: list[str], reason: str, justification: str, actor: Actor,
        occurred_at: datetime, recorded_at: datetime, procedure: Procedure,
    ) -> None:
        """Ask for what is missing, all at once. Items are picked from the procedure's
        published list (written as the list writes them); anything else may be typed, and is
        recorded as outside the list."""
        self._ensure(Action.REQUEST_SUPPLEMENT, actor, occurred_at, recorded_at)
        items = list(dict.fromkeys(
            _listed_name(procedure, item)
            for item in _clean_list(missing_items, "giấy tờ cần bổ sung", "missing item")))
        if not items:
            raise DomainError(
                "Hãy ghi đủ một lần tất cả giấy tờ cần bổ sung.",
                "List everything that is missing, all at once.",
            )
        number = self.supplement_requests + 1
        why = clean_text(justification, label_vi="lý do yêu cầu bổ sung lần nữa",
                         label_en="justification for another request", max_length=1000,
                         required=number > 1)
        if number > 1 and not why:  # pragma: no cover - clean_text already refused
            raise AssertionError
        self._supplement_requested(
            **self._common(actor, occurred_at, recorded_at),
            missing_items=items,
            reason=clean_text(reason, label_vi="lý do cần bổ sung", label_en="reason",
                              max_length=1000),
            justification=why,
            request_number=number,
            outside_list=procedure.outside_list(items),
        )

    @event(SupplementRequested)
    def _supplement_requested(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                              timestamp: datetime,
                              missing_items: list[str], reason: str, justification: str,
                              request_number: int, outside_list: list[str] | None) -> None:
        self.supplement_requests = request_number
        self.paused_at = occurred_at
        self.stage_before_pause = self.stage
        self.stage = Stage.AWAITING_SUPPLEMENT
        self.last_occurred_at = occurred_at

    def provide_supplement(
        self, *, documents: list[str], actor: Actor, occurred_at: datetime,
        recorded_at: datetime, calendar: WorkingCalendar,
    ) -> None:
        self._ensure(Action.PROVIDE_SUPPLEMENT, actor, occurred_at, recorded_at)
        provided = _clean_list(documents, "giấy tờ bổ sung", "document provided")
        if not provided:
            raise DomainError("Hãy ghi các giấy tờ công dân đã bổ sung.",
                              "List the documents the citizen provided.")
        self._supplement_provided(
            **self._common(actor, occurred_at, recorded_at),
            documents=provided, **self._resumption(occurred_at, calendar))

    def _resumption(self, occurred_at: datetime, calendar: WorkingCalendar) -> dict[str, Any]:
        """The clock resuming after a wait for the citizen (documents or a payment): the
        working days waited, and the due date and the step's due time moved by them."""
        assert self.paused_at is not None
        resumed_on = occurred_at.astimezone(HCMC).date()
        paused = calendar.working_days_between(self.paused_at.astimezone(HCMC).date(),
                                               resumed_on)
        # The current step only loses the part of the pause it was running for.
        step_due = self.step_due_at
        if step_due is not None and self.step_started_at is not None:
            step_paused_from = max(self.paused_at, self.step_started_at)
            step_paused = calendar.working_days_between(
                step_paused_from.astimezone(HCMC).date(), resumed_on)
            if step_paused:
                local = step_due.astimezone(HCMC)
                step_due = datetime.combine(
                    calendar.add_working_days(local.date(), step_paused), local.timetz())
        return {"paused_working_days": paused,
                "due_date": calendar.add_working_days(self.due_date, paused) if paused
                else self.due_date,
                "step_due_at": step_due}

    @event(SupplementProvided)
    def _supplement_provided(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                             timestamp: datetime,
                             documents: list[str], paused_working_days: int, due_date: date,
                             step_due_at: datetime | None) -> None:
        self.documents = [*self.documents, *documents]
        self.due_date = due_date
        self.step_due_at = step_due_at
        self.paused_at = None
        self.stage = self.stage_before_pause or Stage.IN_PROGRESS
        self.stage_before_pause = None
        self.last_occurred_at = occurred_at

    # ---- fees and financial obligations -------------------------------------------------

    def request_payment(self, *, amount_vnd: int, reason: str, actor: Actor,
                        occurred_at: datetime, recorded_at: datetime) -> None:
        """Ask the citizen to pay an obligation fixed during processing; the clock waits."""
        self._ensure(Action.REQUEST_PAYMENT, actor, occurred_at, recorded_at)
        self._payment_requested(
            **self._common(actor, occurred_at, recorded_at),
            amount_vnd=check_amount(amount_vnd),
            reason=clean_text(reason, label_vi="khoản phải nộp và căn cứ",
                              label_en="what is owed and why", max_length=1000))

    @event(PaymentRequested)
    def _payment_requested(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                           timestamp: datetime, amount_vnd: int, reason: str) -> None:
        self.amount_requested_vnd += amount_vnd
        self.paused_at = occurred_at
        self.stage_before_pause = self.stage
        self.stage = Stage.AWAITING_PAYMENT
        self.last_occurred_at = occurred_at

    def record_payment(self, *, amount_vnd: int, method: PaymentMethod, receipt_number: str,
                       actor: Actor, occurred_at: datetime, recorded_at: datetime,
                       calendar: WorkingCalendar) -> None:
        """A payment taken at the counter: cash against its receipt number, or online as
        the citizen shows it (the transaction number)."""
        self._ensure(Action.RECORD_PAYMENT, actor, occurred_at, recorded_at)
        number = clean_text(receipt_number, label_vi="số biên lai hoặc mã giao dịch",
                            label_en="receipt or transaction number", max_length=40)
        self._fee_paid(**self._common(actor, occurred_at, recorded_at),
                       **self._payment(check_amount(amount_vnd), method, number, "",
                                       occurred_at, calendar))

    def _payment(self, amount_vnd: int, method: PaymentMethod, receipt_number: str,
                 order_ref: str, occurred_at: datetime,
                 calendar: WorkingCalendar) -> dict[str, Any]:
        """A payment's fields: it resumes the clock when it settles the awaited obligation."""
        settles = self.awaiting_payment and amount_vnd >= self.amount_owed_vnd
        if settles:
            resumption = self._resumption(occurred_at, calendar)
        else:
            resumption = {"paused_working_days": 0, "due_date": self.due_date,
                          "step_due_at": self.step_due_at}
        return {"amount_vnd": amount_vnd, "method": method.value,
                "receipt_number": receipt_number, "order_ref": order_ref,
                "owed_vnd": self.amount_owed_vnd,
                "after_result": self.result_ready_at is not None, "resumed": settles,
                **resumption}

    def pay_online(self, *, order_ref: str, ordered_vnd: int, amount_vnd: int,
                   transaction_no: str, paid: bool, now: datetime,
                   calendar: WorkingCalendar) -> None:
        """The gateway's confirmed notice that the order was paid. ``ordered_vnd`` is what
        the order asked (the amount owed at the version it names). The money has left the
        citizen's account, so it is recorded whatever the dossier's stage; a refund follows
        if nothing was owed any more."""
        if any(same_order(p["order_ref"], order_ref) for p in self.payments):
            raise PaymentAlreadyConfirmed()
        if amount_vnd != ordered_vnd:
            raise PaymentAmountWrong()
        if not paid:
            return  # the citizen may try again; nothing happened to the dossier
        number = clean_text(transaction_no, label_vi="mã giao dịch",
                            label_en="transaction number", max_length=40)
        occurred_at = max(now, self.last_occurred_at)
        self._fee_paid(actor_id=CITIZEN, actor_unit=self.receiving_unit,
                       occurred_at=occurred_at, timestamp=now,
                       **self._payment(amount_vnd, PaymentMethod.ONLINE, number, order_ref,
                                       occurred_at, calendar))

    def refund(self, *, amount_vnd: int, reason: str, receipt_number: str, actor: Actor,
               occurred_at: datetime, recorded_at: datetime) -> None:
        self._ensure(Action.REFUND, actor, occurred_at, recorded_at)
        if check_amount(amount_vnd) > self.refundable_vnd:
            raise DomainError(
                f"Chỉ hoàn trả tối đa {self.refundable_vnd} đồng.",
                f"At most {self.refundable_vnd} đồng can be refunded.")
        self._fee_refunded(
            **self._common(actor, occurred_at, recorded_at), amount_vnd=amount_vnd,
            reason=clean_text(reason, label_vi="lý do hoàn trả", label_en="reason",
                              max_length=500),
            receipt_number=clean_text(receipt_number, label_vi="số phiếu chi",
                                      label_en="refund voucher number", max_length=40))

    @event(FeeRefunded)
    def _fee_refunded(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                      timestamp: datetime, amount_vnd: int, reason: str,
                      receipt_number: str) -> None:
        self.amount_refunded_vnd += amount_vnd
        self.last_occurred_at = occurred_at

    @event(FeePaid)
    def _fee_paid(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                  timestamp: datetime, amount_vnd: int, method: str, receipt_number: str,
                  order_ref: str, owed_vnd: int, after_result: bool, resumed: bool,
                  paused_working_days: int, due_date: date,
                  step_due_at: datetime | None) -> None:
        self.amount_paid_vnd += amount_vnd
        self.payments = [*self.payments, {
            "amount_vnd": amount_vnd, "method": method, "receipt_number": receipt_number,
            "order_ref": order_ref, "paid_at": occurred_at, "recorded_by": actor_id}]
        if resumed:
            self.due_date = due_date
            self.step_due_at = step_due_at
            self.paused_at = None
            self.stage = self.stage_before_pause or Stage.IN_PROGRESS
            self.stage_before_pause = None
        self.last_occurred_at = occurred_at

    # ---- extension with apology --------------------------------------------------------

    def extend(
        self, *, new_due_date: date, reason: str, apology: str, actor: Actor,
        occurred_at: datetime, recorded_at: datetime, calendar: WorkingCalendar,
    ) -> None:
        self._ensure(Action.EXTEND, actor, occurred_at, recorded_at)
        if new_due_date > occurred_at.astimezone(HCMC).date() + MAX_EXTENSION:
            raise DomainError(
                "Ngày hẹn mới quá xa (tối đa một năm kể từ hôm nay).",
                "The new due date is too far away (at most one year from today).",
            )
        if not calendar.is_working_day(new_due_date):
            raise DomainError(
                f"Ngày {new_due_date:%d/%m/%Y} là ngày nghỉ; hãy hẹn vào một ngày làm việc.",
                f"{new_due_date:%d/%m/%Y} is a day off; choose a working day.",
            )
        if occurred_at.astimezone(HCMC).date() > self.due_date:
            raise DomainError(
                "Đã quá ngày hẹn trả; phiếu xin lỗi và hẹn lại phải lập chậm nhất trong ngày "
                "hẹn trả.",
                "The due date has passed; the apology and new appointment must be issued no "
                "later than the due date.",
            )
        if new_due_date <= self.due_date:
            raise DomainError(
                "Ngày hẹn mới phải sau ngày hẹn hiện tại.",
                "The new due date must be after the current one.",
            )
        self._extended(
            **self._common(actor, occurred_at, recorded_at),
            previous_due_date=self.due_date,
            due_date=new_due_date,
            reason=clean_text(reason, label_vi="lý do gia hạn", label_en="reason",
                              max_length=1000),
            apology=clean_text(apology, label_vi="nội dung thư xin lỗi",
                               label_en="apology letter", max_length=3000),
            extension_number=self.extensions + 1,
        )

    @event(Extended)
    def _extended(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                  timestamp: datetime,
                  previous_due_date: date, due_date: date, reason: str, apology: str,
                  extension_number: int) -> None:
        self.due_date = due_date
        self.extensions = extension_number
        self.last_occurred_at = occurred_at

    # ---- sign or reject ----------------------------------------------------------------

    def sign(
        self,
        *,
        decision_number: str,
        decision_title: str,
        unlock_key: Callable[[], UnlockedKey],
        document: bytes | None = None,
        result: FileFacts | None = None,
        check_result: Callable[[], SignatureVerdict] | None = None,
        procedure: Procedure | None = None,
        actor: Actor,
        occurred_at: datetime,
        recorded_at: datetime,
    ) -> None:
        """``unlock_key`` opens the officer's key (asking for the passphrase) once the
        rules say they may sign this dossier now. ``result``: the electronic result (a PDF)
        kept with the dossier for the citizen to download; its digest is what is signed.
        ``check_result`` checks its PAdES signature against the trust roots (refusing it
        when it fails); the verdict is recorded."""
        self._ensure(Action.SIGN, actor, occurred_at, recorded_at)
        verdict: SignatureVerdict | None = None
        if result is not None:
            if result.media_type is not MediaType.PDF:
                raise DomainError("Kết quả điện tử phải là tệp PDF.",
                                  "The electronic result must be a PDF file.")
            assert check_result is not None, "an electronic result is checked before it is kept"
            verdict = check_result()
        key = unlock_key()
        if owner_of(key.key_id) != actor.user_id:
            raise AccessDenied("Chỉ được ký bằng khóa ký của chính mình.",
                               "A decision is signed with one's own signing key only.")
        statement = DecisionStatement(
            dossier_id=self.id,
            version=self.version + 1,
            decision_number=clean_text(decision_number, label_vi="số quyết định",
                                       label_en="decision number", max_length=50),
            decision_title=clean_text(decision_title, label_vi="trích yếu quyết định",
                                      label_en="decision title", max_length=300),
            document_sha256=result.sha256 if result is not None else document_digest(document),
            unit=actor.unit_code,
            key_id=key.key_id,
            signed_at=recorded_at,
        )
        self._signed(
            **self._common(actor, occurred_at, recorded_at),
            decision_number=statement.decision_number,
            decision_title=statement.decision_title,
            document_sha256=statement.document_sha256,
            key_id=key.key_id,
            signature=base64.b64encode(key.sign(statement)).decode("ascii"),
            result_signature=None if verdict is None else verdict.as_dict(),
        )
        if result is not None:
            assert procedure is not None, "the result is attached by the procedure's list"
            self.attach(procedure=procedure, document_type=RESULT_DOCUMENT, facts=result,
                        purpose=AttachmentPurpose.RESULT, actor=actor,
                        occurred_at=occurred_at, recorded_at=recorded_at)

    @event(Signed)
    def _signed(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                timestamp: datetime, decision_number: str, decision_title: str,
                document_sha256: str | None, key_id: str | None,
                signature: str | None, result_signature: dict[str, Any] | None) -> None:
        self.decision_number = decision_number
        self.result_signature = result_signature
        self.decision_title = decision_title
        self.signed_at = occurred_at
        self.last_occurred_at = occurred_at
        self.stage = Stage.SIGNED

    def reject(self, *, reasons: str, actor: Actor, occurred_at: datetime,
               recorded_at: datetime) -> None:
        self._ensure(Action.REJECT, actor, occurred_at, recorded_at)
        self._rejected(
            **self._common(actor, occurred_at, recorded_at),
            reasons=clean_text(reasons, label_vi="lý do từ chối", label_en="reasons",
                               max_length=2000),
        )

    @event(Rejected)
    def _rejected(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                  timestamp: datetime,
                  reasons: str) -> None:
        self.rejection_reasons = reasons
        self.rejected_at = occurred_at
        self.paused_at = None  # a refusal ends any wait for documents
        self.stage_before_pause = None
        self.last_occurred_at = occurred_at
        self.stage = Stage.REJECTED

    # ---- withdrawal --------------------------------------------------------------------

    def withdraw(self, *, reason: str, actor: Actor, occurred_at: datetime,
                 recorded_at: datetime) -> None:
        self._ensure(Action.WITHDRAW, actor, occurred_at, recorded_at)
        self._withdrawn(
            **self._common(actor, occurred_at, recorded_at),
            reason=clean_text(reason, label_vi="nội dung đề nghị rút hồ sơ",
                              label_en="withdrawal request", max_length=1000),
        )

    @event(Withdrawn)
    def _withdrawn(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                   timestamp: datetime,
                   reason: str) -> None:
        self.withdrawn_at = occurred_at
        self.paused_at = None
        self.last_occurred_at = occurred_at
        self.stage = Stage.WITHDRAWN

    # ---- dispatch ----------------------------------------------------------------------

    def dispatch(
        self,
        *,
        method: DispatchMethod,
        postal_tracking_number: str | None,
        post_office: Unit,
        actor: Actor,
        occurred_at: datetime,
        recorded_at: datetime,
    ) -> None:
        self._ensure(Action.DISPATCH, actor, occurred_at, recorded_at)
        tracking_number: str | None = None
        holder = self.holder_unit
        if method is DispatchMethod.POST:
            tracking_number = _postal_tracking_number(postal_tracking_number)
            holder = post_office.code
        if method is DispatchMethod.ONLINE and self.electronic_result is None:
            raise DomainError(
                "Chưa có kết quả điện tử: hãy đính kèm tệp PDF kết quả khi ký.",
                "There is no electronic result: attach the result PDF when signing.")
        self._dispatched(
            **self._common(actor, occurred_at, recorded_at),
            method=method.value,
            postal_tracking_number=tracking_number,
            holder_unit=holder,
        )

    @event(Dispatched)
    def _dispatched(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                    timestamp: datetime, method: str,
                    postal_tracking_number: str | None, holder_unit: str) -> None:
        self.dispatch_method = DispatchMethod(method)
        self.postal_tracking_number = postal_tracking_number
        self.holder_unit = holder_unit
        self.holder_officer = None
        self.step_due_at = None  # handing out a result has no step allotment
        self.step_started_at = None
        self.last_occurred_at = occurred_at
        self.stage = stage_after_dispatch(self.dispatch_method)

    # ---- deliver -----------------------------------------------------------------------

    def deliver(
        self, *, recipient_name: str, actor: Actor, occurred_at: datetime, recorded_at: datetime
    ) -> None:
        self._ensure(Action.DELIVER, actor, occurred_at, recorded_at)
        self._delivered(
            **self._common(actor, occurred_at, recorded_at),
            recipient_name=clean_text(recipient_name, label_vi="tên người nhận",
                                      label_en="recipient's name", max_length=200),
        )

    @event(Delivered)
    def _delivered(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                   timestamp: datetime,
                   recipient_name: str) -> None:
        self.recipient_name = recipient_name
        self.delivered_at = occurred_at
        self.last_occurred_at = occurred_at
        self.stage = Stage.DELIVERED

    # ---- a postal delivery that fails ------------------------------------------------------

    def record_failed_delivery(self, *, reason: DeliveryFailure, actor: Actor,
                               occurred_at: datetime, recorded_at: datetime) -> None:
        self._ensure(Action.RECORD_FAILED_DELIVERY, actor, occurred_at, recorded_at)
        self._delivery_attempt_failed(**self._common(actor, occurred_at, recorded_at),
                                      reason=DeliveryFailure(reason).value,
                                      attempt=self.failed_attempts + 1)

    @event(DeliveryAttemptFailed)
    def _delivery_attempt_failed(self, *, actor_id: str, actor_unit: str,
                                 occurred_at: datetime, timestamp: datetime, reason: str,
                                 attempt: int) -> None:
        self.failed_attempts = attempt
        self.last_occurred_at = occurred_at

    def redirect_delivery(self, *, address: str | None, actor: Actor, occurred_at: datetime,
                          recorded_at: datetime) -> None:
        """A new address for the next attempt, or (no address) pick-up at the counter."""
        self._ensure(Action.REDIRECT_DELIVERY, actor, occurred_at, recorded_at)
        cleaned = clean_text(address, label_vi="địa chỉ nhận kết quả",
                             label_en="delivery address", max_length=300) \
            if address and address.strip() else None
        self._delivery_redirected(**self._common(actor, occurred_at, recorded_at),
                                  address=cleaned)

    @event(DeliveryRedirected)
    def _delivery_redirected(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                             timestamp: datetime, address: str | None) -> None:
        if address is None:
            self.counter_pickup_asked = True
        else:
            self.delivery_address = address
        self.last_occurred_at = occurred_at

    def return_to_counter(self, *, actor: Actor, occurred_at: datetime,
                          recorded_at: datetime) -> None:
        self._ensure(Action.RETURN_TO_COUNTER, actor, occurred_at, recorded_at)
        self._returned_to_counter(**self._common(actor, occurred_at, recorded_at),
                                  to_unit=self.receiving_unit,
                                  failed_attempts=self.failed_attempts)

    @event(ReturnedToCounter)
    def _returned_to_counter(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                             timestamp: datetime, to_unit: str, failed_attempts: int) -> None:
        # The counter keeps it for the citizen: handed out there like any counter pick-up.
        self.holder_unit = to_unit
        self.holder_officer = None
        self.returned_at = occurred_at
        self.last_occurred_at = occurred_at
        self.stage = Stage.AWAITING_PICKUP

    # ---- attached files ---------------------------------------------------------------

    def attach(self, *, procedure: Procedure, document_type: str, facts: FileFacts,
               purpose: AttachmentPurpose, actor: Actor, occurred_at: datetime,
               recorded_at: datetime) -> None:
        """Keep a checked file with the dossier, named by the procedure's document list (or
        as typed, marked outside the list). The counter that received it or the unit holding
        it attach; nothing is attached once the file is closed."""
        if self.stage in (Stage.DELIVERED, Stage.WITHDRAWN, Stage.NOT_RECEIVED):
            raise DomainError("Hồ sơ đã kết thúc; không thể đính kèm thêm tệp.",
                              "The dossier is closed; no file can be attached.")
        if not self._may_attach_as(actor):
            raise AccessDenied(
                "Chỉ bộ phận tiếp nhận hoặc đơn vị đang giữ hồ sơ mới đính kèm tệp.",
                "Only the receiving counter or the unit holding the dossier attaches files.")
        _check_occurred_at(occurred_at, recorded_at, previous=self.last_occurred_at)
        typed = clean_text(document_type, label_vi="loại giấy tờ của tệp",
                           label_en="document type of the file", max_length=300)
        requirement = procedure.requirement(typed)
        if requirement is not None and facts.media_type not in requirement.accepted:
            raise DomainError(
                f"“{requirement.name_vi}” không nhận tệp {facts.media_type.value}.",
                f"“{requirement.name_en}” is not accepted as {facts.media_type.value}.")
        if any(a["sha256"] == facts.sha256 for a in self.attachments):
            raise DomainError(f"Tệp “{facts.file_name}” đã được đính kèm hồ sơ này.",
                              f"The file “{facts.file_name}” is already attached.")
        self._document_attached(
            **self._common(actor, occurred_at, recorded_at),
            document_type=requirement.name_vi if requirement else typed,
            outside_list=requirement is None, purpose=purpose.value,
            **facts.as_dict(),
        )

    @event(DocumentAttached)
    def _document_attached(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                           timestamp: datetime, document_type: str, outside_list: bool,
                           purpose: str, file_name: str, media_type: str, size: int,
                           sha256: str) -> None:
        self.attachments = [*self.attachments, {
            "document_type": document_type, "outside_list": outside_list, "purpose": purpose,
            "file_name": file_name, "media_type": media_type, "size": size, "sha256": sha256,
            "attached_at": occurred_at, "attached_by": actor_id}]
        self.last_occurred_at = occurred_at

    def _may_attach_as(self, actor: Actor) -> bool:
        if actor.user_id == CITIZEN:  # with the online submission itself, and only then
            return self.stage is Stage.SUBMITTED_ONLINE
        return bool(actor.roles & _DESK) and actor.unit_code in (self.holder_unit,
                                                                 self.receiving_unit)

    def may_attach(self, actor: Actor) -> bool:
        return self.stage not in (Stage.DELIVERED, Stage.WITHDRAWN, Stage.NOT_RECEIVED) \
            and self._may_attach_as(actor)

    def attaches_as(self, actor: Actor) -> bool:
        """Whether the actor is one who attaches files to this dossier, whatever its state."""
        return self._may_attach_as(actor)

    @property
    def electronic_result(self) -> dict[str, Any] | None:
        """The result PDF attached when signing, if any."""
        return next((a for a in reversed(self.attachments)
                     if a["purpose"] == AttachmentPurpose.RESULT.value), None)

    def download_result(self, *, occurred_at: datetime, recorded_at: datetime) -> dict[str, Any]:
        """The citizen, having typed a one-time code sent to the contact they gave, takes the
        electronic result: recorded each time; the first time it is the delivery."""
        result = self.electronic_result
        if self.dispatch_method is not DispatchMethod.ONLINE or result is None:
            raise DomainError("Hồ sơ này không có kết quả để tải về.",
                              "This dossier has no result to download.")
        citizen = Actor(CITIZEN, self.receiving_unit)
        self._result_downloaded(**self._common(citizen, occurred_at, recorded_at),
                                sha256=result["sha256"])
        if self.delivered_at is None:
            self._delivered(**self._common(citizen, occurred_at, recorded_at),
                            recipient_name=self.applicant["name"])
        return result

    @event(ResultDownloaded)
    def _result_downloaded(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                           timestamp: datetime, sha256: str) -> None:
        self.last_occurred_at = occurred_at

    def attachment(self, sha256: str) -> dict[str, Any] | None:
        return next((a for a in self.attachments if a["sha256"] == sha256), None)

    def may_open_documents(self, actor: Actor) -> bool:
        """Staff of a unit that received or held the dossier, and inspectors; never anyone
        else (the public page least of all)."""
        if actor.roles & {Role.INSPECTOR, Role.ADMINISTRATOR}:
            return True
        if actor.roles == {Role.POST_AGENT}:
            return False
        return actor.unit_code in self.units_involved

    # ---- the citizen's rating ------------------------------------------------------------
    # Not an ``Action``: no member of staff may take it, and it is the one thing allowed
    # after delivery, so it stays outside ``refusal`` and its "nothing after delivery" rule.

    @property
    def rateable(self) -> bool:
        return is_rateable(stage=self.stage, rejected=self.rejected_at is not None,
                           rated=self.rated_at is not None)

    def rate(
        self, *, token: str, satisfaction: int, came_back: bool, unofficial_request: bool,
        comment: str, now: datetime, occurred_at: datetime | None = None,
    ) -> None:
        """Record the citizen's rating. ``occurred_at`` is only for ratings recorded later
        (the demo loader); the public page rates "now"."""
        # Bytes, because compare_digest refuses non-ASCII text and a URL may carry any.
        if not secrets.compare_digest(token.encode(), self.tracking_token.encode()):
            # The same answer as for an unknown dossier: a guessed id learns nothing.
            raise NotFound("Không tìm thấy hồ sơ.", "Dossier not found.")
        if self.rated_at is not None:
            raise AlreadyRated()
        if not self.rateable:
            raise DomainError(
                "Bạn có thể đánh giá sau khi nhận kết quả (hoặc khi hồ sơ bị từ chối).",
                "You can rate the service once you have received the result (or once the "
                "application was refused).",
            )
        if satisfaction not in SATISFACTION_LEVELS:
            raise DomainError(
                "Vui lòng chọn mức độ hài lòng, từ 1 (rất không hài lòng) đến 5 (rất hài lòng).",
                "Please choose how satisfied you are, from 1 (very dissatisfied) to 5 "
                "(very satisfied).",
            )
        text = clean_text(comment, label_vi="góp ý", label_en="comment",
                          max_length=RATING_COMMENT_MAX_LENGTH, required=False)
        if occurred_at is None:
            # A rating follows the result by definition; a clerk's clock running a little
            # ahead must not make it look recorded out of order.
            occurred_at = max(now, self.last_occurred_at)
        else:
            _check_occurred_at(occurred_at, now, previous=self.last_occurred_at)
        self._rated(
            actor_id=CITIZEN, actor_unit=self.receiving_unit, occurred_at=occurred_at,
            timestamp=now, satisfaction=satisfaction, came_back=came_back,
            unofficial_request=unofficial_request, comment=text,
        )

    @event(Rated)
    def _rated(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
               timestamp: datetime, satisfaction: int, came_back: bool,
               unofficial_request: bool, comment: str) -> None:
        # The stage and the last action's time stay: rating is not a step of the handling.
        self.rated_at = occurred_at
        self.satisfaction = satisfaction


def _refusal_by_role(action: Action, actor: Actor) -> AccessDenied | None:
    if actor.roles & ACTION_ROLES[action]:
        return None
    if action is Action.SIGN:
        return AccessDenied("Bạn không có thẩm quyền ký hồ sơ này.",
                           "You are not entitled to sign this dossier.")
    return AccessDenied(
        "Vai trò của bạn không được thực hiện thao tác này.",
        "Your role does not allow this action.",
    )


def pickup_request_refusal(actor: Actor, procedure: Procedure,
                           post_office: Unit) -> DomainError | None:
    """Why ``actor`` may not ask the post to collect a dossier of ``procedure``, or None: the
    citizen online, a clerk of the procedure's counter, or the post office itself may."""
    if actor.user_id == CITIZEN:
        return None if procedure.online else DomainError(
            f"Thủ tục “{procedure.name_vi}” chưa nhận yêu cầu trực tuyến.",
            f"The procedure “{procedure.name_en}” is not offered online.")
    if Role.RECEPTION in actor.roles and actor.unit_code == procedure.reception_unit:
        return None
    if Role.POST_AGENT in actor.roles and actor.unit_code == post_office.code:
        return None
    return AccessDenied(
        "Chỉ công dân, bộ phận một cửa của thủ tục hoặc bưu điện mới yêu cầu lấy hồ sơ tại "
        "địa chỉ.",
        "Only the citizen, the procedure's counter or the post office may ask for a "
        "pick-up at an address.")


def _postal_tracking_number(text: str | None) -> str:
    number = clean_text(text, label_vi="mã bưu gửi", label_en="postal tracking number",
                        max_length=30).upper()
    if not number.isalnum():
        raise DomainError(
            "Mã bưu gửi chỉ gồm chữ và số (ví dụ: EB123456789VN).",
            "The postal tracking number has letters and digits only (e.g. EB123456789VN).",
        )
    return number


def _step_due(step: RouteStep, start: datetime, calendar: WorkingCalendar) -> datetime:
    if step.measure is Allotment.WORKING_HOURS:
        return calendar.add_working_hours(start, step.allotted)
    return calendar.add_working_days_from(start, step.allotted)


def _listed_name(procedure: Procedure, item: str) -> str:
    """The item as the published list names it, or as typed when it is not on the list."""
    requirement = procedure.requirement(item)
    return requirement.name_vi if requirement is not None else item


def _clean_list(values: list[str], label_vi: str, label_en: str) -> list[str]:
    return [
        clean_text(v, label_vi=label_vi, label_en=label_en, max_length=300)
        for v in values
        if v and v.strip()
    ]


def _check_occurred_at(occurred_at: datetime, recorded_at: datetime,
                       previous: datetime | None) -> None:
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    if occurred_at > recorded_at + CLOCK_SKEW:
        raise DomainError(
            "Thời điểm thực hiện không thể ở tương lai.",
            "The time of the action cannot be in the future.",
        )
    if occurred_at < recorded_at - MAX_BACKDATING:
        raise DomainError(
            "Thời điểm thực hiện quá xa trong quá khứ (tối đa 90 ngày); hãy kiểm tra lại.",
            "The time of the action is too far in the past (at most 90 days); please check it.",
        )
    if previous is not None and occurred_at < previous:
        when = previous.astimezone(HCMC).strftime("%H:%M %d/%m/%Y")
        raise DomainError(
            f"Thời điểm thực hiện không thể sớm hơn bước trước ({when}).",
            f"The time of the action cannot be earlier than the previous step ({when}).",
        )


_SEQUENCE_NAMESPACE = uuid5(NAMESPACE_URL, "https://hoso.example/dossier-code-sequence")


class DossierCodeSequence(Aggregate):
    """Numbers handed out by one agency on one day.

    Saving it together with the new dossier makes concurrent receipts conflict on its
    version, so two dossiers can never share a code.
    """

    @staticmethod
    def create_id(agency_code: str, day: date) -> UUID:
        return uuid5(_SEQUENCE_NAMESPACE, f"{agency_code}/{day.isoformat()}")

    # Recorded by the application's clock, like the dossier it numbers: the log checks that
    # recording times never go backwards, so no event may take the time from elsewhere.
    @event("Started")
    def __init__(self, agency_code: str, day: date, timestamp: datetime) -> None:
        self.agency_code = agency_code
        self.day = day
        self.last_number = 0

    def issue(self, recorded_at: datetime) -> int:
        number = self.last_number + 1
        self._issued(number=number, timestamp=recorded_at)
        return number

    @event("Issued")
    def _issued(self, number: int, timestamp: datetime) -> None:
        self.last_number = number


def signed_statement(signed: Dossier.Signed) -> tuple[DecisionStatement, bytes] | None:
    """What the officer signed and the signature, rebuilt from the recorded event; None for
    a decision recorded before hoso kept signatures."""
    if signed.key_id is None or signed.signature is None:
        return None
    statement = DecisionStatement(
        dossier_id=signed.originator_id, version=signed.originator_version,
        decision_number=signed.decision_number, decision_title=signed.decision_title,
        document_sha256=signed.document_sha256, unit=signed.actor_unit,
        key_id=signed.key_id, signed_at=signed.timestamp)
    try:
        signature = base64.b64decode(signed.signature, validate=True)
    except ValueError:
        signature = b""  # unreadable: checked as an invalid signature, loudly
    return statement, signature

