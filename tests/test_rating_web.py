"""The citizen rates the service from the public status page, on both stores."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication, Outcome
from domain.dossier import Dossier
from tests.helpers import hand_over, receive, walk_to_delivered_by_post, walk_to_signed
from tests.test_web import sign_in


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("tiepnhan", "hctp")


def shown(web: TestClient, outcome: Outcome) -> None:
    """Wait until the page shows what the application just recorded."""
    assert web.app.state.services.read_models.wait(outcome.notification_id, timeout=10)  # type: ignore[attr-defined]


def delivered(web: TestClient, app: HosoApplication) -> tuple[UUID, str]:
    """A delivered dossier, and the path of its public page."""
    dossier_id = receive(app).dossier_id
    shown(web, walk_to_delivered_by_post(app, dossier_id))
    return dossier_id, f"/t/{app.dossier(dossier_id).tracking_token}"


def has_form(html: str) -> bool:
    return 'name="satisfaction"' in html


def ratings(app: HosoApplication, dossier_id: UUID) -> list[Dossier.Rated]:
    return [e for e in app.repository.event_store.get(dossier_id)
            if isinstance(e, Dossier.Rated)]


GOOD = {"satisfaction": "2", "came_back": "yes", "comment": "Phải lên bổ sung hai lần."}


def test_the_form_appears_only_once_the_service_is_over(web: TestClient,
                                                       app: HosoApplication) -> None:
    dossier_id = receive(app).dossier_id
    path = f"/t/{app.dossier(dossier_id).tracking_token}"
    shown(web, hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp"))
    assert not has_form(web.get(path).text)
    refused = app.reject(dossier_id, expected_version=None, actor_id="hctp",
                         reasons="Không đủ điều kiện")
    shown(web, refused)
    assert has_form(web.get(path).text)  # a refusal is an answer too

    signed_id = receive(app).dossier_id
    walk_to_signed(app, signed_id)
    shown(web, app.dispatch(signed_id, expected_version=None, actor_id="tiepnhan",
                            method="post", postal_tracking_number="EB1VN"))
    signed_path = f"/t/{app.dossier(signed_id).tracking_token}"
    assert not has_form(web.get(signed_path).text)
    shown(web, app.deliver(signed_id, expected_version=None, actor_id="buudien",
                           recipient_name="Trần Thị Bích Ngọc"))
    html = web.get(signed_path).text
    assert has_form(html)
    assert f'action="{signed_path}/rating"' in html
    assert html.count('type="radio" name="satisfaction"') == 5
    assert "Rất không hài lòng" in html and "Rất hài lòng" in html
    assert 'maxlength="1000"' in html


def test_a_rating_is_thanked_and_the_form_goes(web: TestClient, app: HosoApplication) -> None:
    dossier_id, path = delivered(web, app)
    steps_before = web.get(path).text.count("<li>")
    response = web.post(f"{path}/rating", data=GOOD)
    assert response.status_code == 200, response.text
    assert "Cảm ơn bạn đã đánh giá" in response.text and not has_form(response.text)
    [rated] = ratings(app, dossier_id)
    assert (rated.satisfaction, rated.came_back, rated.unofficial_request) == (2, True, False)
    page = web.get(path).text
    assert "Cảm ơn bạn đã đánh giá" in page and not has_form(page)
    # What the citizen said stays off the public page, and the timeline has no new step.
    assert GOOD["comment"] not in page and page.count("<li>") == steps_before
    # Staff see it in the dossier's history.
    sign_in(web, "tiepnhan")
    history = web.get(f"/dossiers/{dossier_id}").text
    assert "Công dân đánh giá" in history and "· Công dân ·" in history
    assert ('Không hài lòng (2/5); phải đi lại nhiều lần — “<span lang="vi">Phải lên bổ sung '
            'hai lần.</span>”') in history


def test_a_second_rating_is_refused_with_thanks(web: TestClient, app: HosoApplication) -> None:
    dossier_id, path = delivered(web, app)
    assert web.post(f"{path}/rating", data=GOOD).status_code == 200
    again = web.post(f"{path}/rating", data={"satisfaction": "5"})
    assert again.status_code == 409
    assert "Bạn đã đánh giá hồ sơ này rồi" in again.text and not has_form(again.text)
    assert len(ratings(app, dossier_id)) == 1


def test_htmx_gets_the_rating_partial(web: TestClient, app: HosoApplication) -> None:
    _, path = delivered(web, app)
    headers = {"HX-Request": "true"}
    refused = web.post(f"{path}/rating", data={"satisfaction": "9", "comment": "Giữ lại"},
                       headers=headers)
    assert refused.status_code == 400
    assert refused.text.lstrip().startswith('<div id="rating"')
    assert "Vui lòng chọn mức độ hài lòng" in refused.text
    assert "Giữ lại" in refused.text  # what was typed is not lost
    thanked = web.post(f"{path}/rating", data=GOOD, headers=headers)
    assert thanked.status_code == 200 and "<html" not in thanked.text
    assert "Cảm ơn bạn đã đánh giá" in thanked.text


@pytest.mark.parametrize(("form", "message"), [
    ({}, "Vui lòng chọn mức độ hài lòng"),
    ({"satisfaction": "abc"}, "Vui lòng chọn mức độ hài lòng"),
    ({"satisfaction": "9"}, "Vui lòng chọn mức độ hài lòng"),
    ({"satisfaction": "0"}, "Vui lòng chọn mức độ hài lòng"),
    ({"satisfaction": "9" * 5000}, "Vui lòng chọn mức độ hài lòng"),
    ({"satisfaction": "3", "comment": "x" * 1001}, "Góp ý quá dài"),
    ({"satisfaction": "3", "comment": "a\x00b"}, "Góp ý chứa ký tự không hợp lệ"),
])
def test_hostile_input_gets_words_not_a_500(web: TestClient, app: HosoApplication,
                                            form: dict[str, Any], message: str) -> None:
    dossier_id, path = delivered(web, app)
    response = web.post(f"{path}/rating", data=form)
    assert response.status_code == 400, response.text
    assert message in response.text and has_form(response.text)
    assert ratings(app, dossier_id) == []


def test_a_huge_body_is_refused_before_it_is_read(web: TestClient,
                                                  app: HosoApplication) -> None:
    dossier_id, path = delivered(web, app)
    response = web.post(f"{path}/rating", data={"satisfaction": "3", "comment": "x" * 200_000})
    assert response.status_code == 413
    assert "góp ý tối đa 1000 ký tự" in response.text
    assert ratings(app, dossier_id) == []


def test_no_rating_before_the_result(web: TestClient, app: HosoApplication) -> None:
    dossier_id = receive(app).dossier_id
    shown(web, hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp"))
    response = web.post(f"/t/{app.dossier(dossier_id).tracking_token}/rating", data=GOOD)
    assert response.status_code == 400
    assert "Bạn có thể đánh giá sau khi nhận kết quả" in response.text
    assert ratings(app, dossier_id) == []


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAAAAAAAAAA", "short", "x" * 300])
def test_unknown_tokens_cannot_rate(web: TestClient, token: str) -> None:
    response = web.post(f"/t/{token}/rating", data=GOOD)
    assert response.status_code == 404
    assert "Không tìm thấy hồ sơ" in response.text


def test_the_public_page_names_no_dossier_id(web: TestClient, app: HosoApplication) -> None:
    dossier_id, path = delivered(web, app)
    html = web.get(path).text
    assert str(dossier_id) not in html
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}", html)
