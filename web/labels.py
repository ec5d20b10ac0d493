"""Words shown to people for the domain's codes, Vietnamese first, then English."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    vi: str
    en: str


STAGES: dict[str, Label] = {
    "awaiting_collection": Label("Chờ bưu điện đến lấy hồ sơ",
                                 "Waiting for the post to collect it"),
    "collected": Label("Bưu điện đang chuyển hồ sơ đến bộ phận một cửa",
                       "On its way to the counter by post"),
    "handed_to_counter": Label("Bưu điện đã giao, chờ bộ phận một cửa nhận",
                               "Left at the counter, awaiting its receipt"),
    "submitted_online": Label("Đã nộp trực tuyến, chờ tiếp nhận",
                              "Submitted online, awaiting reception"),
    "not_received": Label("Từ chối tiếp nhận", "Not received (refused at reception)"),
    "received": Label("Đã tiếp nhận", "Received"),
    "in_progress": Label("Đang giải quyết", "Being processed"),
    "awaiting_supplement": Label("Chờ bổ sung giấy tờ", "Waiting for missing documents"),
    "awaiting_payment": Label("Chờ thực hiện nghĩa vụ tài chính",
                              "Waiting for a financial obligation to be paid"),
    "signed": Label("Đã có kết quả (đã ký)", "Decision signed"),
    "rejected": Label("Hồ sơ bị từ chối", "Application refused"),
    "awaiting_pickup": Label("Kết quả chờ nhận tại quầy", "Ready for pick-up at the counter"),
    "in_postal_transit": Label("Kết quả đang chuyển qua bưu điện", "Result on its way by post"),
    "delivered": Label("Đã trả kết quả", "Result delivered"),
    "withdrawn": Label("Đã rút hồ sơ", "Withdrawn"),
}

EVENTS: dict[str, Label] = {
    "Received": Label("Tiếp nhận hồ sơ", "Dossier received"),
    "Transferred": Label("Chuyển hồ sơ", "Dossier transferred"),
    "TransferAccepted": Label("Nhận hồ sơ chuyển đến", "Transfer accepted"),
    "SupplementRequested": Label("Yêu cầu bổ sung giấy tờ", "Missing documents requested"),
    "SupplementProvided": Label("Công dân đã bổ sung giấy tờ", "Missing documents provided"),
    "Extended": Label("Gia hạn, gửi thư xin lỗi", "Due date moved, with an apology"),
    "Rejected": Label("Từ chối giải quyết", "Application refused"),
    "Withdrawn": Label("Công dân rút hồ sơ", "Withdrawn by the citizen"),
    "Signed": Label("Ký duyệt kết quả", "Decision signed"),
    "Dispatched": Label("Trả kết quả / gửi đi", "Result dispatched"),
    "Delivered": Label("Công dân đã nhận kết quả", "Result delivered to the citizen"),
    "ResultDownloaded": Label("Công dân tải kết quả điện tử",
                              "The citizen downloaded the electronic result"),
    "Rated": Label("Công dân đánh giá", "Rated by the citizen"),
    "DocumentAttached": Label("Đính kèm tệp", "File attached"),
    "AcceptedOnline": Label("Tiếp nhận hồ sơ trực tuyến", "Online submission received"),
    "RefusedToReceive": Label("Từ chối tiếp nhận hồ sơ trực tuyến",
                              "Online submission refused at reception"),
    "PaymentRequested": Label("Yêu cầu thực hiện nghĩa vụ tài chính",
                              "Financial obligation requested"),
    "FeePaid": Label("Đã nộp phí, lệ phí", "Fee paid"),
    "PickupRequested": Label("Yêu cầu bưu điện đến lấy hồ sơ",
                             "Pick-up at an address requested"),
    "CollectedByPost": Label("Bưu điện đã lấy hồ sơ", "Collected by the post"),
    "HandedToCounter": Label("Bưu điện giao hồ sơ cho bộ phận một cửa",
                             "Handed to the counter by the post"),
    "ReceivedFromPost": Label("Nhận hồ sơ từ bưu điện", "Received from the post"),
    "FeeRefunded": Label("Hoàn trả phí, lệ phí", "Fee refunded"),
    "DeliveryAttemptFailed": Label("Bưu điện phát không thành công",
                                   "Delivery attempt failed"),
    "DeliveryRedirected": Label("Đổi địa chỉ hoặc chuyển sang nhận tại quầy",
                                "New address or pick-up at the counter"),
    "ReturnedToCounter": Label("Bưu điện chuyển trả kết quả về bộ phận một cửa",
                               "Returned to the counter by the post"),
}

# How satisfied the citizen was with the service, 1 (worst) to 5 (best).
SATISFACTION: dict[int, Label] = {
    1: Label("Rất không hài lòng", "Very dissatisfied"),
    2: Label("Không hài lòng", "Dissatisfied"),
    3: Label("Bình thường", "Neither satisfied nor dissatisfied"),
    4: Label("Hài lòng", "Satisfied"),
    5: Label("Rất hài lòng", "Very satisfied"),
}

CHANNELS: dict[str, Label] = {
    "counter": Label("Tại quầy một cửa", "At the one-stop counter"),
    "post_office": Label("Qua bưu điện", "Through the post office"),
    "online": Label("Trực tuyến", "Online"),
}

DISPATCH_METHODS: dict[str, Label] = {
    "counter_pickup": Label("Nhận tại quầy", "Pick-up at the counter"),
    "post": Label("Gửi qua bưu điện", "By post"),
    "online": Label("Trực tuyến (công dân tải về sau khi nhập mã xác nhận)",
                    "Online (the citizen downloads it after a confirmation code)"),
}

ACTIONS: dict[str, Label] = {
    "accept_online": Label("Tiếp nhận hồ sơ trực tuyến", "Receive the online submission"),
    "refuse_to_receive": Label("Từ chối tiếp nhận", "Refuse to receive"),
    "accept_transfer": Label("Nhận hồ sơ chuyển đến", "Accept the transfer"),
    "transfer": Label("Chuyển hồ sơ", "Transfer"),
    "request_supplement": Label("Yêu cầu bổ sung", "Request missing documents"),
    "provide_supplement": Label("Ghi nhận đã bổ sung", "Record documents provided"),
    "extend": Label("Gia hạn và xin lỗi", "Move the due date, with an apology"),
    "sign": Label("Ký duyệt", "Sign"),
    "reject": Label("Từ chối giải quyết", "Refuse"),
    "withdraw": Label("Rút hồ sơ theo yêu cầu", "Withdraw at the citizen's request"),
    "dispatch": Label("Trả kết quả", "Dispatch the result"),
    "deliver": Label("Xác nhận đã trao kết quả", "Record delivery"),
    "collect": Label("Đã lấy hồ sơ tại địa chỉ", "Record the collection"),
    "hand_over": Label("Giao hồ sơ cho bộ phận một cửa", "Hand over at the counter"),
    "receive_from_post": Label("Nhận hồ sơ từ bưu điện", "Receive from the post"),
    "record_failed_delivery": Label("Phát không thành công", "Record a failed delivery"),
    "redirect_delivery": Label("Đổi địa chỉ nhận hoặc nhận tại quầy",
                               "Change the address or collect at the counter"),
    "return_to_counter": Label("Chuyển trả kết quả về bộ phận một cửa",
                               "Return the result to the counter"),
    "request_payment": Label("Yêu cầu nộp nghĩa vụ tài chính",
                             "Request a financial obligation"),
    "record_payment": Label("Ghi nhận đã nộp phí, lệ phí", "Record a payment"),
    "refund": Label("Hoàn trả phí, lệ phí", "Refund a fee"),
}

DELIVERY_FAILURES: dict[str, Label] = {
    "nobody_home": Label("Không có người nhận", "Nobody home"),
    "wrong_address": Label("Sai địa chỉ", "Wrong address"),
    "refused": Label("Người nhận từ chối", "Refused"),
}

PAYMENT_METHODS: dict[str, Label] = {
    "cash": Label("Tiền mặt tại quầy (biên lai)", "Cash at the counter (receipt)"),
    "online": Label("Trực tuyến", "Online"),
}


# Staff roles and kinds of unit, as the administration page names them.
ROLES: dict[str, Label] = {
    "reception": Label("Tiếp nhận", "Reception"),
    "specialist": Label("Chuyên viên", "Specialist"),
    "signing_officer": Label("Lãnh đạo ký duyệt", "Signing officer"),
    "post_agent": Label("Nhân viên bưu điện", "Post office agent"),
    "inspector": Label("Thanh tra", "Inspector"),
    "administrator": Label("Quản trị", "Administrator"),
}
UNIT_KINDS: dict[str, Label] = {
    "reception": Label("Bộ phận một cửa", "One-stop counter"),
    "specialist": Label("Phòng chuyên môn", "Specialist office"),
    "leadership": Label("Lãnh đạo", "Leadership"),
    "post_office": Label("Bưu điện", "Post office"),
    "oversight": Label("Thanh tra", "Inspection"),
}

# Which page showed a dossier, in the audit's list of readings.
PAGES: dict[str, Label] = {
    "dossier": Label("Trang hồ sơ", "Dossier page"),
    "receipt": Label("Phiếu hẹn", "Receipt"),
    "apology": Label("Phiếu xin lỗi", "Apology letter"),
    "supplement_slip": Label("Phiếu yêu cầu bổ sung", "Supplement request slip"),
    "refusal_slip": Label("Phiếu từ chối tiếp nhận", "Refusal to receive"),
    "stop_notice": Label("Thông báo dừng giải quyết", "Notice to stop processing"),
    "document": Label("Tệp đính kèm", "Attached file"),
    "audit_trail": Label("Nhật ký kiểm tra", "Audit trail"),
    "control_slip": Label("Phiếu kiểm soát", "Control slip"),
    "proof_bundle": Label("Gói bằng chứng", "Proof bundle"),
}

# What the citizen reads on the public timeline, one line per event.
PUBLIC_EVENTS: dict[str, Label] = {
    "SubmittedOnline": Label("Đã nộp hồ sơ trực tuyến", "Submitted online"),
    "AcceptedOnline": Label("Bộ phận một cửa đã tiếp nhận hồ sơ", "Received at the counter"),
    "RefusedToReceive": Label("Hồ sơ không được tiếp nhận", "Not received"),
    "Received": Label("Hồ sơ đã được tiếp nhận", "Dossier received"),
    "Transferred": Label("Hồ sơ được chuyển đến", "Sent on to"),
    "TransferAccepted": Label("Đơn vị đã nhận hồ sơ", "Received by"),
    "SupplementRequested": Label("Cần bổ sung giấy tờ", "Missing documents requested"),
    "SupplementProvided": Label("Đã nhận giấy tờ bổ sung", "Missing documents received"),
    "Extended": Label("Hẹn lại ngày trả, kèm thư xin lỗi", "New due date, with an apology"),
    "Signed": Label("Kết quả đã được ký", "Decision signed"),
    "Rejected": Label("Hồ sơ bị từ chối", "Application refused"),
    "Withdrawn": Label("Hồ sơ đã được rút", "Withdrawn"),
    "Dispatched": Label("Kết quả đã được gửi trả", "Result sent"),
    "Delivered": Label("Công dân đã nhận kết quả", "Result delivered"),
    "PaymentRequested": Label("Cần thực hiện nghĩa vụ tài chính",
                              "Financial obligation to pay"),
    "FeePaid": Label("Đã ghi nhận khoản đã nộp", "Payment recorded"),
    "PaidOnline": Label("Cổng thanh toán đã xác nhận khoản nộp trực tuyến",
                        "Online payment confirmed by the payment gateway"),
    "PickupRequested": Label("Đã đăng ký, chờ bưu điện đến lấy hồ sơ",
                             "Registered; the post will collect it"),
    "CollectedByPost": Label("Bưu điện đã lấy hồ sơ tại địa chỉ của bạn",
                             "Collected at your address by the post"),
    "HandedToCounter": Label("Bưu điện đã giao hồ sơ cho bộ phận một cửa",
                             "Handed to the counter by the post"),
    "ReceivedFromPost": Label("Bộ phận một cửa đã tiếp nhận hồ sơ", "Received at the counter"),
    "DeliveryAttemptFailed": Label("Bưu điện chưa phát được kết quả, sẽ phát lại",
                                   "The post could not deliver the result yet"),
    "DeliveryRedirected": Label("Đã ghi nhận nơi nhận kết quả mới",
                                "New place to receive the result recorded"),
    "ReturnedToCounter": Label("Kết quả đã chuyển về bộ phận một cửa, mời đến nhận",
                               "The result is back at the counter, ready to collect"),
    "ResultDownloaded": Label("Đã tải kết quả điện tử", "Electronic result downloaded"),
    "FeeRefunded": Label("Đã hoàn trả phí, lệ phí", "Fee refunded"),
}


def label(table: dict[str, Label], code: str | None) -> Label:
    if code is None:
        return Label("—", "—")
    return table.get(code, Label(code, code))

# A citizen's feedback case (domain/feedback.py), as the citizen and the answering unit read it.
FEEDBACK_STAGES: dict[str, Label] = {
    "assigned": Label("Đang chờ trả lời", "Awaiting an answer"),
    "answered": Label("Đã trả lời", "Answered"),
    "closed": Label("Đã đóng", "Closed"),
}

FEEDBACK_HANDLERS: dict[str, Label] = {
    "head": Label("Lãnh đạo cơ quan giải quyết", "The head of the handling agency"),
    "inspectorate": Label("Thanh tra", "The inspectorate"),
}

# The post office's piles on its work list (domain/postal.py).
POSTAL_TASKS: dict[str, Label] = {
    "to_collect": Label("Cần đến lấy hồ sơ", "To collect"),
    "in_transit": Label("Đang chuyển đến bộ phận một cửa", "In transit to the counter"),
    "to_deliver": Label("Cần phát kết quả", "To deliver"),
    "failed": Label("Phát không thành công, phát lại", "Failed, to try again"),
    "to_return": Label("Cần chuyển trả bộ phận một cửa", "To return to the counter"),
}
