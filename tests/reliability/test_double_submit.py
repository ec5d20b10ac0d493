"""Double submits: a state-changing request repeated with its key records one event and gets
the first answer; the same key for something else is refused (domain/requests.py)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.errors import ConcurrentChange
from domain.requests import InvalidRequestKey, RequestKeyReused
from tests.conftest import PUBLIC_URL
from tests.helpers import receive, transfers
from tests.test_web import receive_via_web, sign_in, version_of


def test_a_repeat_records_one_event_and_gets_the_first_answer(app: HosoApplication) -> None:
    dossier_id = receive(app).dossier_id
    key = uuid4().hex
    first = app.transfer(dossier_id, expected_version=1, actor_id="tiepnhan",
                         to_unit="STP-HCTP", note="Chuyển xử lý", request_key=key)
    # The answer was lost: the clerk's browser sends the same form again, with the version
    # the dossier had before the first one was recorded.
    again = app.transfer(dossier_id, expected_version=1, actor_id="tiepnhan",
                         to_unit="STP-HCTP", note="Chuyển xử lý", request_key=key)
    assert again.dossier_id == first.dossier_id == dossier_id
    assert again.notification_id >= first.notification_id
    assert transfers(app, dossier_id) == 1
    assert app.dossier(dossier_id).version == 2
    # A new form (a new key) with the stale version is a real conflict.
    with pytest.raises(ConcurrentChange):
        app.transfer(dossier_id, expected_version=1, actor_id="tiepnhan",
                     to_unit="STP-HCTP", request_key=uuid4().hex)


@pytest.mark.parametrize("change", [
    {"note": "Nội dung khác"},
    {"to_unit": "STP-BGD"},
    {"actor_id": "hctp"},
])
def test_the_same_key_for_another_request_is_refused(app: HosoApplication,
                                                     change: dict[str, str]) -> None:
    dossier_id = receive(app).dossier_id
    key = uuid4().hex
    request: dict[str, Any] = {"actor_id": "tiepnhan", "to_unit": "STP-HCTP",
                               "note": "Chuyển xử lý"}
    app.transfer(dossier_id, expected_version=None, request_key=key, **request)
    with pytest.raises(RequestKeyReused) as refused:
        app.transfer(dossier_id, expected_version=None, request_key=key, **(request | change))
    assert "đã được dùng cho một thao tác khác" in refused.value.vi
    assert transfers(app, dossier_id) == 1


def test_the_same_key_on_another_dossier_is_refused(app: HosoApplication) -> None:
    first, second = receive(app).dossier_id, receive(app).dossier_id
    key = uuid4().hex
    app.transfer(first, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP",
                 request_key=key)
    with pytest.raises(RequestKeyReused):
        app.transfer(second, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP",
                     request_key=key)
    assert transfers(app, second) == 0


@pytest.mark.parametrize("key", ["", "short", "x" * 101, "khóa-có-dấu-tiếng-việt", "a\nb\tcdefgh"])
def test_malformed_keys_are_refused_before_anything_is_recorded(app: HosoApplication,
                                                                 key: str) -> None:
    dossier_id = receive(app).dossier_id
    with pytest.raises(InvalidRequestKey):
        app.transfer(dossier_id, expected_version=None, actor_id="tiepnhan",
                     to_unit="STP-HCTP", request_key=key or "\x00")
    assert transfers(app, dossier_id) == 0


def test_concurrent_repeats_record_one_event_and_all_succeed(app: HosoApplication) -> None:
    dossier_id = receive(app).dossier_id
    key = uuid4().hex
    answers: list[UUID] = []
    errors: list[Exception] = []
    start = threading.Barrier(6)

    def submit() -> None:
        start.wait()
        try:
            answers.append(app.transfer(dossier_id, expected_version=1, actor_id="tiepnhan",
                                        to_unit="STP-HCTP", request_key=key).dossier_id)
        except Exception as error:  # collected and asserted on below
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert answers == [dossier_id] * 6
    assert transfers(app, dossier_id) == 1


def test_every_dossier_command_honours_its_key(app: HosoApplication) -> None:
    # Each command, sent twice with one key, leaves one event: none bypasses the check.
    from tests.helpers import SIGNING_PASSPHRASE, ensure_signing_key

    dossier_id = receive(app).dossier_id
    ensure_signing_key(app, "gd.stp")
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("request_supplement", "tiepnhan", {"missing_items": ["Bản sao CCCD"],
                                            "reason": "Thiếu giấy tờ"}),
        ("provide_supplement", "tiepnhan", {"documents": ["Bản sao CCCD"]}),
        ("transfer", "tiepnhan", {"to_unit": "STP-BGD"}),
        ("accept_transfer", "gd.stp", {}),
        ("sign", "gd.stp", {"decision_number": "12/QĐ", "decision_title": "Cấp phiếu",
                            "passphrase": SIGNING_PASSPHRASE}),
        ("transfer", "gd.stp", {"to_unit": "TTHCC"}),
        ("accept_transfer", "tiepnhan", {}),
        ("dispatch", "tiepnhan", {"method": "counter_pickup"}),
        ("deliver", "tiepnhan", {"recipient_name": "Trần Thị Bích Ngọc"}),
    ]
    for action, actor, fields in steps:
        key = uuid4().hex
        before = app.dossier(dossier_id).version
        for _ in range(2):
            getattr(app, action)(dossier_id, expected_version=before, actor_id=actor,
                                 request_key=key, **fields)
        assert app.dossier(dossier_id).version == before + 1, action


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp", **PUBLIC_URL)


def test_a_form_submitted_twice_records_one_transfer(web: TestClient,
                                                     app: HosoApplication) -> None:
    sign_in(web, "tiepnhan")
    dossier_id, _ = receive_via_web(web)
    page = web.get(f"/dossiers/{dossier_id}").text
    keys = re.findall(r'name="request_key" value="([0-9a-f]{32})"', page)
    assert len(keys) >= 2 and len(set(keys)) == len(keys), "one fresh key per form"
    form = {"version": version_of(web, dossier_id), "to_unit": "STP-HCTP",
            "request_key": keys[0]}
    first = web.post(f"/dossiers/{dossier_id}/transfer", data=form)
    second = web.post(f"/dossiers/{dossier_id}/transfer", data=form)
    assert first.status_code == second.status_code == 200
    # Both answers are the dossier page, its history showing the one transfer.
    for answer in (first, second):
        assert answer.text.count("<strong>Chuyển hồ sơ</strong>") == 1
    assert "vừa được người khác cập nhật" not in second.text  # no conflict for the repeat
    assert transfers(app, UUID(dossier_id)) == 1
    reused = web.post(f"/dossiers/{dossier_id}/transfer",
                      data=form | {"to_unit": "STP-BGD", "version": "2"})
    assert reused.status_code == 422
    assert "đã được dùng cho một thao tác khác" in reused.text
    assert transfers(app, UUID(dossier_id)) == 1
