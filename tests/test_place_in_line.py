"""Where a dossier is in line at its desk (the citizen's page), on both stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from projections.place_in_line import place_in_line
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import hand_over, receive


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def at_the_desk(app: HosoApplication, clock: FakeClock) -> UUID:
    dossier_id = receive(app).dossier_id
    clock.advance(minutes=10)
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    return dossier_id


def test_position_overtaking_and_an_honest_range(app: HosoApplication, models: ReadModels,
                                                 clock: FakeClock) -> None:
    # Five earlier files of the procedure stayed 1 to 5 office hours at the desk.
    for hours in (1, 2, 3, 4, 5):
        done = at_the_desk(app, clock)
        clock.advance(hours=hours)
        app.transfer(done, expected_version=None, actor_id="hctp", to_unit="STP-BGD")
    first, second, third = (at_the_desk(app, clock) for _ in range(3))
    clock.advance(minutes=30)
    # The third, received last, leaves the desk first.
    app.transfer(third, expected_version=None, actor_id="hctp", to_unit="STP-BGD")
    models.catch_up()

    place = place_in_line(models.review, str(second), clock(), app.calendar)
    assert place is not None
    assert (place.unit_code, place.position, place.waiting, place.overtaken) == (
        "STP-HCTP", 2, 2, 1)
    assert place.range is not None
    # Six stays (office hours; the lunch break does not count): median and 90th percentile.
    assert place.range.sample == 6
    assert 0 < place.range.median_hours <= place.range.p90_hours <= 5
    assert place.range.median_done_at <= place.range.p90_done_at
    leader = place_in_line(models.review, str(first), clock(), app.calendar)
    assert leader is not None and (leader.position, leader.overtaken) == (1, 1)
    # The third is in line at the next desk now; an unknown dossier is in no line.
    onward = place_in_line(models.review, str(third), clock(), app.calendar)
    assert onward is not None and onward.unit_code == "STP-BGD"
    assert place_in_line(models.review, str(UUID(int=1)), clock(), app.calendar) is None


def test_the_citizens_page_shows_the_line_without_personal_data(
        serve: Callable[..., TestClient], app: HosoApplication, clock: FakeClock) -> None:
    web = serve()
    mine = at_the_desk(app, clock)
    later = at_the_desk(app, clock)
    clock.advance(hours=1)
    outcome = app.transfer(later, expected_version=None, actor_id="hctp", to_unit="STP-BGD")
    assert web.app.state.services.read_models.wait(outcome.notification_id)  # type: ignore[attr-defined]
    page = web.get(f"/t/{app.dossier(mine).tracking_token}").text
    assert "Thứ tự tại bàn xử lý: 1 / 1" in page
    assert "1 hồ sơ nộp sau đã được xử lý trước" in page
    assert "chưa đủ số liệu" in page  # one stay at that desk so far
    assert app.dossier(later).code not in page
