"""The email a citizen receives: plain text, Vietnamese first, then English.

It names the dossier by its code and procedure and links to the public status page; it
never carries the applicant's name, phone, address or identity number (an email can be read
by whoever shares the mailbox, and is kept by servers hoso does not control).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from domain.organisation import Directory
from domain.working_days import HCMC
from projections.outbox import Notice, OutboxMessage


@dataclass(frozen=True)
class Email:
    key: UUID  # the outbox row: the same message sent again keeps its Message-ID
    to: str
    subject: str
    text: str


_SUBJECTS: dict[Notice, tuple[str, str]] = {
    Notice.RECEIVED_ONLINE: ("giấy tiếp nhận hồ sơ và hẹn trả kết quả",
                             "receipt and the date of your result"),
    Notice.NOT_RECEIVED: ("hồ sơ trực tuyến không được tiếp nhận",
                          "your online submission was not received"),
    Notice.SUPPLEMENT_REQUESTED: ("cần bổ sung giấy tờ", "more documents needed"),
    Notice.EXTENDED: ("thư xin lỗi và hẹn lại ngày trả kết quả",
                      "apology and new date for your result"),
    Notice.READY_FOR_PICKUP: ("kết quả đã sẵn sàng, mời đến nhận",
                              "your result is ready for pick-up"),
    Notice.DISPATCHED: ("kết quả đã gửi qua bưu điện", "your result was sent by post"),
    Notice.READY_ONLINE: ("kết quả điện tử đã sẵn sàng để tải về",
                          "your electronic result is ready to download"),
    Notice.DELIVERED: ("kết quả đã được trao", "your result was handed over"),
    Notice.DELIVERY_FAILED: ("bưu điện chưa phát được kết quả",
                             "the post could not deliver your result"),
    Notice.DELIVERY_REDIRECTED: ("đã ghi nhận nơi nhận kết quả mới",
                                 "your new choice of delivery is recorded"),
    Notice.RETURNED_TO_COUNTER: ("kết quả đã chuyển về bộ phận một cửa",
                                 "your result is back at the counter"),
}

_FAILURES = {"nobody_home": ("không có người nhận", "nobody was home"),
             "wrong_address": ("sai địa chỉ", "the address was wrong"),
             "refused": ("người nhận từ chối", "the delivery was refused")}


def _day(value: str) -> str:
    return f"{date.fromisoformat(value):%d/%m/%Y}"


def _moment(value: str) -> str:
    return f"{datetime.fromisoformat(value).astimezone(HCMC):%H:%M %d/%m/%Y}"


def _bodies(notice: Notice, facts: dict[str, object], directory: Directory) -> tuple[
        list[str], list[str]]:
    if notice is Notice.RECEIVED_ONLINE:
        unit = directory.units.get(str(facts["unit_code"]))
        received, due = _moment(str(facts["occurred_at"])), _day(str(facts["due_date"]))
        days = int(str(facts["processing_days"]))
        return ([
            f"Hồ sơ ông/bà nộp trực tuyến lúc {_moment(str(facts['submitted_at']))} đã được "
            f"{unit.name_vi if unit else facts['unit_code']} tiếp nhận lúc {received}.",
            f"Thời hạn giải quyết: {days} ngày làm việc, tính từ lúc tiếp nhận.",
            f"Ngày hẹn trả kết quả: {due}.",
            "Thư này thay giấy tiếp nhận hồ sơ và hẹn trả kết quả (mẫu 01); hãy giữ lại mã hồ sơ.",
        ], [
            f"Your online submission was received by "
            f"{unit.name_en if unit else facts['unit_code']} at {received}.",
            f"Processing takes {days} working days from that moment; your result is due on "
            f"{due}.",
            "This message is your receipt (form 01); keep the dossier code.",
        ])
    if notice is Notice.NOT_RECEIVED:
        unit = directory.units.get(str(facts["unit_code"]))
        return ([
            f"{unit.name_vi if unit else facts['unit_code']} không tiếp nhận hồ sơ ông/bà nộp "
            "trực tuyến, vì:", str(facts["reasons"]),
            "Ông/bà có thể nộp lại hồ sơ sau khi khắc phục.",
        ], [
            f"{unit.name_en if unit else facts['unit_code']} did not receive your online "
            "submission; the reasons are above, in Vietnamese.",
            "You may submit again once they are put right.",
        ])
    if notice is Notice.SUPPLEMENT_REQUESTED:
        items = [f"  - {item}" for item in facts["missing_items"]]  # type: ignore[attr-defined]
        return ([
            "Hồ sơ của ông/bà cần bổ sung các giấy tờ sau:", *items,
            f"Lý do: {facts['reason']}",
            "Thời hạn giải quyết tạm dừng cho đến khi ông/bà nộp bổ sung tại bộ phận một cửa.",
        ], [
            "Your dossier needs the following documents (listed in Vietnamese above).",
            "The processing time is paused until you hand them in at the one-stop counter.",
        ])
    if notice is Notice.EXTENDED:
        before, after = _day(str(facts["previous_due_date"])), _day(str(facts["due_date"]))
        return ([
            f"Cơ quan giải quyết xin lỗi ông/bà vì chưa trả được kết quả vào ngày hẹn {before}.",
            f"Ngày hẹn trả kết quả mới: {after}.", "", "Thư xin lỗi:", str(facts["apology"]),
        ], [
            f"We apologise: your result could not be ready on {before} as promised.",
            f"The new date for your result is {after}. The apology letter is above, in "
            "Vietnamese.",
        ])
    if notice is Notice.DELIVERY_FAILED:
        vi, en = _FAILURES.get(str(facts["reason"]), (str(facts["reason"]),) * 2)
        left = int(str(facts["attempts_left"]))
        return ([
            f"Bưu điện chưa phát được kết quả lần {facts['attempt']}: {vi}.",
            f"Bưu điện sẽ phát lại (còn {left} lần)." if left else
            "Kết quả sẽ được chuyển trả về bộ phận một cửa.",
            "Ông/bà có thể báo bộ phận một cửa địa chỉ nhận mới hoặc chọn đến nhận tại quầy.",
        ], [
            f"The post could not deliver your result (attempt {facts['attempt']}): {en}.",
            f"It will try again ({left} more)." if left else
            "The result will be taken back to the one-stop counter.",
            "You may give the counter a new address or choose to collect it there.",
        ])
    if notice is Notice.DELIVERY_REDIRECTED:
        counter = bool(facts["to_counter"])
        return ([
            "Đã ghi nhận: ông/bà nhận kết quả tại bộ phận một cửa; bưu điện sẽ chuyển trả "
            "kết quả về đó." if counter else
            "Đã ghi nhận địa chỉ nhận kết quả mới; bưu điện sẽ phát đến địa chỉ này.",
        ], [
            "Recorded: you will collect the result at the one-stop counter; the post takes it "
            "back there." if counter else
            "Your new delivery address is recorded; the post will deliver there.",
        ])
    if notice in (Notice.READY_FOR_PICKUP, Notice.RETURNED_TO_COUNTER):
        unit = directory.units.get(str(facts["unit_code"]))
        return ([
            "Kết quả giải quyết hồ sơ của ông/bà đã sẵn sàng. Mời ông/bà đến nhận tại "
            f"{unit.name_vi if unit else facts['unit_code']}, mang theo phiếu hẹn và giấy tờ "
            "tùy thân.",
        ], [
            "The result of your application is ready. Please collect it at "
            f"{unit.name_en if unit else facts['unit_code']}, with your receipt and an "
            "identity document.",
        ])
    if notice is Notice.READY_ONLINE:
        return ([
            "Kết quả giải quyết hồ sơ của ông/bà đã sẵn sàng để tải về. Vào trang “Tra cứu hồ "
            "sơ”, nhập mã hồ sơ và email hoặc số điện thoại đã khai để nhận mã xác nhận, rồi "
            "tải kết quả.",
        ], [
            "The result of your application is ready to download. On the “Look up a dossier” "
            "page, give the dossier code and the email or phone number you gave, to receive a "
            "confirmation code, then download the result.",
        ])
    if notice is Notice.DISPATCHED:
        number = facts["postal_tracking_number"]
        return ([f"Kết quả giải quyết hồ sơ đã được gửi qua bưu điện, mã bưu gửi {number}."],
                [f"The result of your application was sent by post, tracking number {number}."])
    handed = _moment(str(facts["occurred_at"]))
    return ([
        f"Kết quả giải quyết hồ sơ đã được trao lúc {handed}. Nếu không phải ông/bà hoặc người "
        "được ông/bà ủy quyền đã nhận, xin báo ngay cho bộ phận một cửa.",
    ], [
        f"The result of your application was handed over at {handed}. If neither you nor "
        "someone you sent received it, please tell the one-stop counter at once.",
    ])


def compose_email(message: OutboxMessage, *, link: str, directory: Directory) -> Email:
    notice = Notice(message.kind)
    facts = message.facts
    procedure = directory.procedures.get(str(facts["procedure_code"]))
    name_vi = procedure.name_vi if procedure else str(facts["procedure_code"])
    name_en = procedure.name_en if procedure else str(facts["procedure_code"])
    subject_vi, subject_en = _SUBJECTS[notice]
    vi, en = _bodies(notice, facts, directory)
    text = "\n".join([
        "Kính gửi ông/bà,", "",
        f"Hồ sơ {message.code} — {name_vi}", "", *vi, "",
        f"Tra cứu tình trạng hồ sơ: {link}", "",
        # Not "-- ": mail clients take what follows that line for a signature and fold it.
        "─" * 40, "", "Dear applicant,", "",
        f"Dossier {message.code} — {name_en}", "", *en, "",
        f"Check the status of your dossier: {link}", "",
        "Thư được gửi tự động, xin đừng trả lời. / This message was sent automatically; "
        "please do not reply.", "",
    ])
    return Email(key=message.id, to=message.recipient,
                 subject=f"Hồ sơ {message.code}: {subject_vi} / {subject_en}", text=text)
