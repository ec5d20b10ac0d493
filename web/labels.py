"""Words shown to people for the domain's codes, Vietnamese first, then English."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    vi: str
    en: str


STAGES: dict[str, Label] = {
    "received": Label("Đã tiếp nhận", "Received"),
    "in_progress": Label("Đang giải quyết", "Being processed"),
    "signed": Label("Đã có kết quả (đã ký)", "Decision signed"),
    "awaiting_pickup": Label("Kết quả chờ nhận tại quầy", "Ready for pick-up at the counter"),
    "in_postal_transit": Label("Kết quả đang chuyển qua bưu điện", "Result on its way by post"),
    "delivered": Label("Đã trả kết quả", "Result delivered"),
}

EVENTS: dict[str, Label] = {
    "Received": Label("Tiếp nhận hồ sơ", "Dossier received"),
    "Transferred": Label("Chuyển hồ sơ", "Dossier transferred"),
    "Signed": Label("Ký duyệt kết quả", "Decision signed"),
    "Dispatched": Label("Trả kết quả / gửi đi", "Result dispatched"),
    "Delivered": Label("Công dân đã nhận kết quả", "Result delivered to the citizen"),
}

CHANNELS: dict[str, Label] = {
    "counter": Label("Tại quầy một cửa", "At the one-stop counter"),
    "post_office": Label("Qua bưu điện", "Through the post office"),
    "online": Label("Trực tuyến", "Online"),
}

DISPATCH_METHODS: dict[str, Label] = {
    "counter_pickup": Label("Nhận tại quầy", "Pick-up at the counter"),
    "post": Label("Gửi qua bưu điện", "By post"),
}

ACTIONS: dict[str, Label] = {
    "transfer": Label("Chuyển hồ sơ", "Transfer"),
    "sign": Label("Ký duyệt", "Sign"),
    "dispatch": Label("Trả kết quả", "Dispatch the result"),
    "deliver": Label("Xác nhận đã trao kết quả", "Record delivery"),
}


def label(table: dict[str, Label], code: str | None) -> Label:
    if code is None:
        return Label("—", "—")
    return table.get(code, Label(code, code))
