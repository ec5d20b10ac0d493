"""The Dossier aggregate: one citizen's file and everything that happened to it.

Public command methods check the rules and compute every value (times, codes, tokens, due
dates); the private ``@event`` methods only assign, so a dossier rebuilt from its events is
identical to the one that was saved.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.organisation import Procedure, Staff, Unit, UnitKind
from domain.text import clean_phone, clean_text
from domain.working_days import HCMC, WorkingCalendar

# A clerk's clock and the server's may differ a little; beyond this, a time is "in the future".
CLOCK_SKEW = timedelta(minutes=5)
# Reports recorded late (e.g. by the post office) are accepted up to this far back.
MAX_BACKDATING = timedelta(days=90)


class Channel(StrEnum):
    COUNTER = "counter"
    POST_OFFICE = "post_office"
    ONLINE = "online"


class DispatchMethod(StrEnum):
    COUNTER_PICKUP = "counter_pickup"
    POST = "post"


class Stage(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    SIGNED = "signed"
    AWAITING_PICKUP = "awaiting_pickup"
    IN_POSTAL_TRANSIT = "in_postal_transit"
    DELIVERED = "delivered"


def is_late(due_date: date, result_ready_on: date | None, today: date) -> bool:
    """Late when the result was (or still is not) ready after the end of the due date."""
    return (result_ready_on or today) > due_date


def stage_after_dispatch(method: DispatchMethod) -> Stage:
    return Stage.IN_POSTAL_TRANSIT if method is DispatchMethod.POST else Stage.AWAITING_PICKUP


class Action(StrEnum):
    TRANSFER = "transfer"
    SIGN = "sign"
    DISPATCH = "dispatch"
    DELIVER = "deliver"


@dataclass(frozen=True)
class Actor:
    user_id: str
    unit_code: str
    may_sign: bool = False

    @classmethod
    def of(cls, staff: Staff) -> Actor:
        return cls(staff.user_id, staff.unit_code, staff.may_sign)


@dataclass(frozen=True)
class Applicant:
    name: str
    phone: str
    address: str
    id_number: str = ""

    @classmethod
    def cleaned(cls, name: str, phone: str, address: str, id_number: str = "") -> Applicant:
        return cls(
            name=clean_text(name, label_vi="họ tên người nộp", label_en="applicant's name",
                            max_length=200),
            phone=clean_phone(phone),
            address=clean_text(address, label_vi="địa chỉ", label_en="address", max_length=500),
            id_number=clean_text(id_number, label_vi="số giấy tờ tùy thân",
                                 label_en="identity document number", max_length=20,
                                 required=False),
        )

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "phone": self.phone, "address": self.address,
                "id_number": self.id_number}


def new_tracking_token() -> str:
    """128 random bits, URL-safe: the only key to the public status page."""
    return secrets.token_urlsafe(16)


def dossier_code(agency_code: str, local_day: date, number: int) -> str:
    return f"{agency_code}-{local_day:%y%m%d}-{number:04d}"


class Dossier(Aggregate):
    class Event(Aggregate.Event):
        actor_id: str
        actor_unit: str
        occurred_at: datetime

    class Received(Event, Aggregate.Created):
        procedure_code: str
        applicant: dict[str, str]
        channel: str
        receiving_unit: str
        documents: list[str]
        processing_days: int
        due_date: date
        code: str
        tracking_token: str

    class Transferred(Event):
        from_unit: str
        to_unit: str
        to_officer: str | None
        note: str

    class Signed(Event):
        decision_number: str
        decision_title: str

    class Dispatched(Event):
        method: str
        postal_tracking_number: str | None
        holder_unit: str

    class Delivered(Event):
        recipient_name: str

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
    ) -> Dossier:
        if receiving_unit.code != actor.unit_code or receiving_unit.kind is not UnitKind.RECEPTION:
            raise DomainError(
                "Chỉ bộ phận một cửa mới tiếp nhận hồ sơ.",
                "Only a one-stop reception unit can receive dossiers.",
            )
        if procedure.reception_unit != receiving_unit.code:
            raise DomainError(
                f"Thủ tục “{procedure.name_vi}” không tiếp nhận tại đơn vị của bạn.",
                f"The procedure “{procedure.name_en}” is not received at your unit.",
            )
        _check_occurred_at(occurred_at, recorded_at, previous=None)
        handed_in = [
            clean_text(d, label_vi="tên giấy tờ", label_en="document name", max_length=300)
            for d in documents
            if d and d.strip()
        ]
        if not handed_in:
            raise DomainError(
                "Hãy ghi ít nhất một giấy tờ đã nộp.", "List at least one document handed in."
            )
        local_day = occurred_at.astimezone(HCMC).date()
        return cls(
            actor_id=actor.user_id,
            actor_unit=actor.unit_code,
            occurred_at=occurred_at,
            procedure_code=procedure.code,
            applicant=applicant.as_dict(),
            channel=channel.value,
            receiving_unit=receiving_unit.code,
            documents=handed_in,
            processing_days=procedure.processing_days,
            due_date=calendar.due_date(occurred_at, procedure.processing_days),
            code=dossier_code(receiving_unit.agency_code, local_day, sequence_number),
            tracking_token=new_tracking_token(),
        )

    @event(Received)
    def __init__(
        self,
        *,
        actor_id: str,
        actor_unit: str,
        occurred_at: datetime,
        procedure_code: str,
        applicant: dict[str, str],
        channel: str,
        receiving_unit: str,
        documents: list[str],
        processing_days: int,
        due_date: date,
        code: str,
        tracking_token: str,
    ) -> None:
        self.procedure_code = procedure_code
        self.applicant = applicant
        self.channel = Channel(channel)
        self.receiving_unit = receiving_unit
        self.documents = documents
        self.processing_days = processing_days
        self.due_date = due_date
        self.code = code
        self.tracking_token = tracking_token
        self.received_at = occurred_at
        self.last_occurred_at = occurred_at
        self.holder_unit = receiving_unit
        self.holder_officer: str | None = actor_id
        self.stage = Stage.RECEIVED
        self.decision_number: str | None = None
        self.decision_title: str | None = None
        self.signed_at: datetime | None = None
        self.dispatch_method: DispatchMethod | None = None
        self.postal_tracking_number: str | None = None
        self.delivered_at: datetime | None = None
        self.recipient_name: str | None = None

    # ---- what may happen now ---------------------------------------------------------

    def refusal(self, action: Action, actor: Actor) -> DomainError | None:
        """Why ``actor`` may not take ``action`` now, or None if they may."""
        if self.stage is Stage.DELIVERED:
            return DomainError(
                "Hồ sơ đã trả kết quả cho công dân; không thể thao tác thêm.",
                "The result has been delivered; no further action is possible.",
            )
        if action is Action.TRANSFER and self.dispatch_method is not None:
            return DomainError(
                "Kết quả đã được gửi đi; không thể chuyển hồ sơ nữa.",
                "The result has been dispatched; the dossier can no longer be transferred.",
            )
        if action is Action.SIGN and self.decision_number is not None:
            return DomainError(
                f"Hồ sơ đã được ký (quyết định số {self.decision_number}); không thể ký lại.",
                f"The dossier is already signed (decision {self.decision_number}); "
                "it cannot be signed twice.",
            )
        if action is Action.DISPATCH:
            if self.decision_number is None:
                return DomainError(
                    "Hồ sơ chưa được ký nên chưa thể trả kết quả.",
                    "The dossier is not signed yet, so no result can be dispatched.",
                )
            if self.dispatch_method is not None:
                return DomainError(
                    "Kết quả đã được gửi đi rồi.", "The result has already been dispatched."
                )
        if action is Action.DELIVER and self.dispatch_method is None:
            return DomainError(
                "Kết quả chưa được gửi đi nên chưa thể ghi nhận đã trao.",
                "The result has not been dispatched, so it cannot be delivered yet.",
            )
        if actor.unit_code != self.holder_unit:
            return DomainError(
                f"Hồ sơ đang ở đơn vị {self.holder_unit}; chỉ đơn vị đang giữ hồ sơ mới được "
                "thao tác.",
                f"The dossier is held by unit {self.holder_unit}; only the holding unit may act "
                "on it.",
            )
        if action is Action.SIGN and not actor.may_sign:
            return DomainError(
                "Bạn không có thẩm quyền ký hồ sơ này.",
                "You are not entitled to sign this dossier.",
            )
        return None

    def allowed_actions(self, actor: Actor) -> list[Action]:
        return [a for a in Action if self.refusal(a, actor) is None]

    def _ensure(self, action: Action, actor: Actor, occurred_at: datetime,
                recorded_at: datetime) -> None:
        refusal = self.refusal(action, actor)
        if refusal is not None:
            raise refusal
        _check_occurred_at(occurred_at, recorded_at, previous=self.last_occurred_at)

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
        if to_unit.code == self.holder_unit:
            raise DomainError(
                "Hồ sơ đang ở chính đơn vị này; hãy chọn đơn vị khác.",
                "The dossier is already at this unit; choose another unit.",
            )
        if to_unit.kind is UnitKind.POST_OFFICE:
            raise DomainError(
                "Không chuyển hồ sơ cho bưu điện; hãy dùng “Trả kết quả qua bưu điện”.",
                "Do not transfer to the post office; use “Dispatch by post” instead.",
            )
        if to_officer is not None and to_officer.unit_code != to_unit.code:
            raise DomainError(
                f"Cán bộ {to_officer.full_name} không thuộc đơn vị nhận.",
                f"{to_officer.full_name} does not belong to the receiving unit.",
            )
        self._transferred(
            actor_id=actor.user_id,
            actor_unit=actor.unit_code,
            occurred_at=occurred_at,
            from_unit=self.holder_unit,
            to_unit=to_unit.code,
            to_officer=to_officer.user_id if to_officer else None,
            note=clean_text(note, label_vi="ghi chú", label_en="note", max_length=1000,
                            required=False),
        )

    @event(Transferred)
    def _transferred(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                     from_unit: str, to_unit: str, to_officer: str | None, note: str) -> None:
        self.holder_unit = to_unit
        self.holder_officer = to_officer
        self.last_occurred_at = occurred_at
        # Returning a signed result to the counter does not make it "in progress" again.
        if self.decision_number is None:
            self.stage = Stage.IN_PROGRESS

    # ---- sign --------------------------------------------------------------------------

    def sign(
        self,
        *,
        decision_number: str,
        decision_title: str,
        actor: Actor,
        occurred_at: datetime,
        recorded_at: datetime,
    ) -> None:
        self._ensure(Action.SIGN, actor, occurred_at, recorded_at)
        self._signed(
            actor_id=actor.user_id,
            actor_unit=actor.unit_code,
            occurred_at=occurred_at,
            decision_number=clean_text(decision_number, label_vi="số quyết định",
                                       label_en="decision number", max_length=50),
            decision_title=clean_text(decision_title, label_vi="trích yếu quyết định",
                                      label_en="decision title", max_length=300),
        )

    @event(Signed)
    def _signed(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                decision_number: str, decision_title: str) -> None:
        self.decision_number = decision_number
        self.decision_title = decision_title
        self.signed_at = occurred_at
        self.last_occurred_at = occurred_at
        self.stage = Stage.SIGNED

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
            tracking_number = clean_text(
                postal_tracking_number, label_vi="mã bưu gửi", label_en="postal tracking number",
                max_length=30,
            ).upper()
            if not tracking_number.isalnum():
                raise DomainError(
                    "Mã bưu gửi chỉ gồm chữ và số (ví dụ: EB123456789VN).",
                    "The postal tracking number has letters and digits only "
                    "(e.g. EB123456789VN).",
                )
            holder = post_office.code
        self._dispatched(
            actor_id=actor.user_id,
            actor_unit=actor.unit_code,
            occurred_at=occurred_at,
            method=method.value,
            postal_tracking_number=tracking_number,
            holder_unit=holder,
        )

    @event(Dispatched)
    def _dispatched(self, *, actor_id: str, actor_unit: str, occurred_at: datetime, method: str,
                    postal_tracking_number: str | None, holder_unit: str) -> None:
        self.dispatch_method = DispatchMethod(method)
        self.postal_tracking_number = postal_tracking_number
        self.holder_unit = holder_unit
        self.holder_officer = None
        self.last_occurred_at = occurred_at
        self.stage = stage_after_dispatch(self.dispatch_method)

    # ---- deliver -----------------------------------------------------------------------

    def deliver(
        self, *, recipient_name: str, actor: Actor, occurred_at: datetime, recorded_at: datetime
    ) -> None:
        self._ensure(Action.DELIVER, actor, occurred_at, recorded_at)
        self._delivered(
            actor_id=actor.user_id,
            actor_unit=actor.unit_code,
            occurred_at=occurred_at,
            recipient_name=clean_text(recipient_name, label_vi="tên người nhận",
                                      label_en="recipient's name", max_length=200),
        )

    @event(Delivered)
    def _delivered(self, *, actor_id: str, actor_unit: str, occurred_at: datetime,
                   recipient_name: str) -> None:
        self.recipient_name = recipient_name
        self.delivered_at = occurred_at
        self.last_occurred_at = occurred_at
        self.stage = Stage.DELIVERED


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

    @event("Started")
    def __init__(self, agency_code: str, day: date) -> None:
        self.agency_code = agency_code
        self.day = day
        self.last_number = 0

    def issue(self) -> int:
        number = self.last_number + 1
        self._issued(number=number)
        return number

    @event("Issued")
    def _issued(self, number: int) -> None:
        self.last_number = number
