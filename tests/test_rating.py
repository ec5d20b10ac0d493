"""The citizen's rating: on the aggregate, through the application, in the read models."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from domain.application import HosoApplication
from domain.dossier import CITIZEN, AlreadyRated, DispatchMethod, Dossier, Stage
from domain.errors import NotFound
from domain.signing import MemoryKeyVault
from domain.working_days import WorkingCalendar
from projections.desk_queue import QueueFilter
from projections.dossier_projection import DossierProjection
from projections.runners import PROJECTIONS, ReadModels, following
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import hand_over, receive, walk_to_delivered_by_post, walk_to_signed
from tests.test_dossier import (
    NOW,
    POSTMAN,
    RECEPTION,
    SPECIALIST,
    at,
    d,
    delivered,
    dispatched_by_post,
    new_events,
    received,
    refused,
    signed,
    transferred,
)


def rating(dossier: Dossier, hours: float = 31, **overrides: Any) -> dict[str, Any]:
    """A valid rating of ``dossier``, given ``hours`` after NOW."""
    return {"token": dossier.tracking_token, "satisfaction": 4, "came_back": False,
            "unofficial_request": False, "comment": "", "now": NOW + timedelta(hours=hours),
            **overrides}


def refused_at_specialist() -> Dossier:
    dossier = transferred(received(), RECEPTION, "STP-HCTP", 1)
    dossier.reject(reasons="Không thuộc thẩm quyền", actor=SPECIALIST, **at(2))
    return dossier


# ---- the aggregate -------------------------------------------------------------------

def test_a_delivered_dossier_takes_one_rating() -> None:
    dossier = delivered()
    dossier.collect_events()
    dossier.rate(**rating(dossier, satisfaction=2, came_back=True, unofficial_request=True,
                          comment="  Phải đi lại ba lần.  "))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Rated)
    assert (event.satisfaction, event.came_back, event.unofficial_request, event.comment) == (
        2, True, True, "Phải đi lại ba lần.")
    assert (event.actor_id, event.actor_unit) == (CITIZEN, "TTHCC")
    assert event.occurred_at == event.timestamp == NOW + timedelta(hours=31)
    assert (dossier.rated_at, dossier.satisfaction) == (NOW + timedelta(hours=31), 2)
    # The rating is the one exception to "nothing after delivery"; it reopens nothing.
    assert dossier.stage is Stage.DELIVERED
    assert dossier.allowed_actions(RECEPTION) == dossier.allowed_actions(POSTMAN) == []
    with refused("đã trả kết quả cho công dân; không thể thao tác thêm"):
        dossier.deliver(recipient_name="X", actor=POSTMAN, **at(32))


def test_the_comment_may_be_empty_and_is_cleaned() -> None:
    dossier = delivered()
    dossier.collect_events()
    dossier.rate(**rating(dossier, satisfaction=5, comment="   "))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Rated) and event.comment == ""


@pytest.mark.parametrize("walk", ["rejected", "refusal_returned", "refusal_dispatched",
                                  "refusal_delivered"])
def test_a_refusal_is_an_answer_the_citizen_may_rate(walk: str) -> None:
    dossier = refused_at_specialist()
    if walk != "rejected":
        dossier.transfer(to_unit=d.unit("TTHCC"), to_officer=None, note="", actor=SPECIALIST,
                         **at(3))
        dossier.accept_transfer(actor=RECEPTION, calendar=WorkingCalendar(), **at(3.5))
    if walk in ("refusal_dispatched", "refusal_delivered"):
        dossier.dispatch(method=DispatchMethod.POST, postal_tracking_number="EB1VN",
                         post_office=d.post_office(), actor=RECEPTION, **at(4))
    if walk == "refusal_delivered":
        dossier.deliver(recipient_name="Lê Văn Tám", actor=POSTMAN, **at(30))
    dossier.collect_events()
    dossier.rate(**rating(dossier, satisfaction=3))
    [event] = new_events(dossier)
    assert isinstance(event, Dossier.Rated)


def test_rating_a_refusal_leaves_its_handing_over_to_the_clerks() -> None:
    dossier = refused_at_specialist()
    dossier.rate(**rating(dossier, hours=2.5))
    assert dossier.stage is Stage.REJECTED
    # The clerk's own record of handing it back is not held to the citizen's time.
    dossier.transfer(to_unit=d.unit("TTHCC"), to_officer=None, note="", actor=SPECIALIST,
                     **at(2.2))
    assert dossier.holder_unit == "TTHCC"


@pytest.mark.parametrize("make", [received, signed, dispatched_by_post])
def test_no_rating_before_the_result_reaches_the_citizen(make: Any) -> None:
    dossier = make()
    with refused("Bạn có thể đánh giá sau khi nhận kết quả"):
        dossier.rate(**rating(dossier))


def test_no_rating_of_a_withdrawn_dossier() -> None:
    dossier = transferred(received(), RECEPTION, "STP-HCTP", 1)
    dossier.withdraw(reason="Công dân xin rút", actor=RECEPTION, **at(2))
    with refused("Bạn có thể đánh giá sau khi nhận kết quả"):
        dossier.rate(**rating(dossier))


@pytest.mark.parametrize("token", ["", "AAAAAAAAAAAAAAAAAAAAAA", "sai-mã-truy-cập-ăn-ơ"])
def test_the_token_is_the_right_to_rate(token: str) -> None:
    dossier = delivered()
    with pytest.raises(NotFound, match="Không tìm thấy hồ sơ"):
        dossier.rate(**rating(dossier, token=token))


def test_only_one_rating() -> None:
    dossier = delivered()
    dossier.rate(**rating(dossier))
    with pytest.raises(AlreadyRated, match=r"Bạn đã đánh giá hồ sơ này rồi\. Xin cảm ơn!"):
        dossier.rate(**rating(dossier, hours=32, satisfaction=1))
    assert dossier.satisfaction == 4


@pytest.mark.parametrize("satisfaction", [0, 6, -1, 100])
def test_satisfaction_is_one_to_five(satisfaction: int) -> None:
    dossier = delivered()
    with refused("Vui lòng chọn mức độ hài lòng, từ 1"):
        dossier.rate(**rating(dossier, satisfaction=satisfaction))


@pytest.mark.parametrize(("comment", "message"), [
    ("x" * 1001, r"Góp ý quá dài \(tối đa 1000 ký tự\)"),
    ("ok\x00", "Góp ý chứa ký tự không hợp lệ"),
])
def test_the_comment_is_checked(comment: str, message: str) -> None:
    dossier = delivered()
    with refused(message):
        dossier.rate(**rating(dossier, comment=comment))
    dossier.rate(**rating(dossier, comment="x" * 1000))  # the limit itself is fine


def test_a_clerk_clock_running_ahead_does_not_put_the_rating_first() -> None:
    dossier = dispatched_by_post()
    delivery = NOW + timedelta(hours=30, minutes=4)
    dossier.deliver(recipient_name="Lê Văn Tám", actor=POSTMAN, occurred_at=delivery,
                    recorded_at=NOW + timedelta(hours=30))
    dossier.collect_events()
    dossier.rate(**rating(dossier, hours=30.01))
    [event] = new_events(dossier)
    assert event.occurred_at == delivery


def test_a_rating_recorded_later_keeps_its_time_within_the_usual_bounds() -> None:
    dossier = delivered()
    dossier.rate(**rating(dossier, hours=40), occurred_at=NOW + timedelta(hours=35))
    assert dossier.rated_at == NOW + timedelta(hours=35)
    early = delivered()
    with refused("không thể sớm hơn bước trước"):
        early.rate(**rating(early, hours=40), occurred_at=NOW + timedelta(hours=29))


# ---- the application -----------------------------------------------------------------

def _delivered(app: HosoApplication) -> tuple[Any, str]:
    outcome = receive(app)
    walk_to_delivered_by_post(app, outcome.dossier_id)
    return outcome.dossier_id, app.dossier(outcome.dossier_id).tracking_token


def test_the_application_saves_the_rating(app: HosoApplication) -> None:
    dossier_id, token = _delivered(app)
    outcome = app.rate(token, dossier_id, satisfaction=5, came_back=False,
                       unofficial_request=False, comment="Nhanh, gọn.")
    [notification] = app.recorder.select_notifications(start=outcome.notification_id, limit=1)
    assert notification.topic.endswith("Dossier.Rated")
    stored = list(app.repository.event_store.get(dossier_id))
    assert isinstance(stored[-1], Dossier.Rated) and stored[-1].comment == "Nhanh, gọn."
    # Rebuilt from the store, the dossier knows it was rated.
    assert app.dossier(dossier_id).satisfaction == 5
    with pytest.raises(AlreadyRated):
        app.rate(token, dossier_id, satisfaction=1, came_back=True, unofficial_request=True,
                 comment="")
    with pytest.raises(NotFound):
        app.rate(token, receive(app).dossier_id, satisfaction=1, came_back=False,
                 unofficial_request=False, comment="")


def test_a_double_submit_saves_one_rating(store: Store, clock: FakeClock) -> None:
    seed = HosoApplication(env=store.eventsourcing_env(), clock=clock,
                           key_vault=MemoryKeyVault())
    dossier_id, token = _delivered(seed)
    apps = [HosoApplication(env=store.eventsourcing_env(), clock=clock) for _ in range(4)]
    results: list[str] = []
    start = threading.Barrier(len(apps))

    def citizen(app: HosoApplication) -> None:
        start.wait()
        try:
            app.rate(token, dossier_id, satisfaction=4, came_back=False,
                     unofficial_request=False, comment="Gửi hai lần")
            results.append("rated")
        except AlreadyRated:
            results.append("already rated")

    threads = [threading.Thread(target=citizen, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["already rated"] * 3 + ["rated"]
    stored = list(seed.repository.event_store.get(dossier_id))
    assert [type(e).__name__ for e in stored].count("Rated") == 1
    for a in [seed, *apps]:
        a.close()


# ---- read models ---------------------------------------------------------------------

@pytest.fixture
def models(store: Store, app: HosoApplication) -> Any:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def test_read_models_take_the_rating_in_their_stride(app: HosoApplication,
                                                     models: ReadModels) -> None:
    dossier_id, token = _delivered(app)
    models.catch_up()
    before = models.public_status.find(token)
    assert before is not None and before.rateable and before.rated_at is None
    assert before.dossier_id == dossier_id
    outcome = app.rate(token, dossier_id, satisfaction=1, came_back=True,
                       unofficial_request=True, comment="Bị đòi “phí bôi trơn”")
    models.catch_up()
    for kind in PROJECTIONS:  # every dossier read model took the event
        if issubclass(kind.projection, DossierProjection):
            view = models.views[kind.projection.name]
            assert view.has_tracking_id(app.name, outcome.notification_id), kind
    after = models.public_status.find(token)
    assert after is not None and after.rated_at is not None and not after.rateable
    # No step on the public timeline, and nothing of what was said in the public rows.
    assert after.steps == before.steps and after.stage is Stage.DELIVERED
    public_rows = repr(models.public_status._select("SELECT * FROM {p}public_status"))
    assert "phí bôi trơn" not in public_rows
    # Delivered dossiers stay off the desks, rated or not; the list keeps its stage.
    assert dossier_id not in {r.dossier_id for r in models.desk_queue.page(QueueFilter())}
    [listed] = models.dossier_list.dossiers()
    assert listed.stage is Stage.DELIVERED


def test_a_refusal_rated_before_it_is_handed_back_stays_on_the_desk_in_step(
        app: HosoApplication, models: ReadModels) -> None:
    dossier_id = receive(app).dossier_id
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    app.reject(dossier_id, expected_version=None, actor_id="hctp", reasons="Không đủ điều kiện")
    app.transfer(dossier_id, expected_version=None, actor_id="hctp", to_unit="TTHCC")
    token = app.dossier(dossier_id).tracking_token
    app.rate(token, dossier_id, satisfaction=3, came_back=False, unofficial_request=False,
             comment="")
    models.catch_up()
    [row] = models.desk_queue.page(QueueFilter(holder_unit="TTHCC", incoming=True))
    # The accept button posts this version: it must be the dossier's, or the clerk loops.
    assert (row.dossier_id, row.version) == (dossier_id, app.dossier(dossier_id).version)
    app.accept_transfer(dossier_id, expected_version=row.version, actor_id="tiepnhan")


def test_rebuild_with_ratings_equals_incremental(app: HosoApplication, models: ReadModels,
                                                 clock: FakeClock) -> None:
    from tests.test_projections import _dump

    rated_id, token = _delivered(app)
    clock.advance(minutes=10)
    signed_id = receive(app).dossier_id
    walk_to_signed(app, signed_id)
    with following(models):
        last = app.rate(token, rated_id, satisfaction=4, came_back=False,
                        unofficial_request=False, comment="Tốt")
        assert models.wait(last.notification_id, timeout=10)
    incremental = _dump(models)
    models.rebuild()
    assert _dump(models) == incremental
