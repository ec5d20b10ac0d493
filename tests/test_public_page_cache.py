"""The citizen's status page is answered 304 while nothing it shows has changed, and is
rendered once per change, not once per view; every change to what it shows changes its ETag."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.dossier import Dossier
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import hand_over, receive, walk_to_signed
from tests.test_transparency_log import _edit, _row, _set_state
from web.i18n import COOKIE


@pytest.fixture
def web(serve: Callable[..., TestClient]) -> TestClient:
    return serve("gd.stp", "quantri")


def _caught_up(web: TestClient, app: HosoApplication) -> None:
    assert web.app.state.services.read_models.wait(app.recorder.max_notification_id())


def test_a_repeat_lookup_is_304_until_an_event_of_the_dossier(web: TestClient,
                                                              app: HosoApplication) -> None:
    d = receive(app).dossier_id
    _caught_up(web, app)
    link = f"/t/{app.dossier(d).tracking_token}"
    first = web.get(link)
    etag = first.headers["etag"]
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    again = web.get(link, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""
    head = web.head(link)
    assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""
    # Served from the rendered copy, each with its own feedback idempotency key.
    second = web.get(link)
    assert second.headers["etag"] == etag and web.app.state.rendered_pages.hits >= 1
    keys = [r.text.split('name="request_key" value="')[1][:32] for r in (first, second)]
    assert keys[0] != keys[1] and "request-key-slot" not in second.text
    hand_over(app, d, "tiepnhan", "STP-HCTP", "hctp")
    _caught_up(web, app)
    moved = web.get(link, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    assert "Phòng Hành chính tư pháp" in moved.text
    assert "Phòng Hành chính tư pháp" not in first.text
    # The language form's way back names the query: a page asked with another is its own.
    other = web.get(f"{link}?from=qr", headers={"If-None-Match": moved.headers["etag"]})
    assert other.status_code == 200 and f"{link}?from=qr" in other.text
    assert f"{link}?from=qr" not in web.get(link).text
    web.cookies.set(COOKIE, "en")
    english = web.get(link, headers={"If-None-Match": moved.headers["etag"]})
    assert english.status_code == 200 and english.headers["etag"] != moved.headers["etag"]
    assert "Judicial Administration" in english.text


def test_a_page_stays_cached_while_other_dossiers_move(web: TestClient,
                                                      app: HosoApplication) -> None:
    """Keyed on what the page shows, not on the store's head: at a city's rate of events a
    copy keyed on the head would be stale before the citizen asked again."""
    mine = receive(app).dossier_id
    hand_over(app, mine, "tiepnhan", "STP-HCTP", "hctp")
    _caught_up(web, app)
    link = f"/t/{app.dossier(mine).tracking_token}"
    first = web.get(link)
    etag = first.headers["etag"]
    # Another dossier received and read at the counter: nothing on this page changes.
    other = receive(app).dossier_id
    _caught_up(web, app)
    assert web.get(f"/t/{app.dossier(other).tracking_token}").status_code == 200
    still = web.get(link, headers={"If-None-Match": etag})
    assert still.status_code == 304 and still.headers["etag"] == etag
    hits = web.app.state.rendered_pages.hits
    assert web.get(link).headers["etag"] == etag
    assert web.app.state.rendered_pages.hits == hits + 1
    # The other file joins this one's desk: its place in line changes, and so does the page.
    hand_over(app, other, "tiepnhan", "STP-HCTP", "hctp")
    _caught_up(web, app)
    moved = web.get(link, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag
    assert moved.text != first.text


def test_a_key_revocation_and_an_edited_event_change_the_signed_page(
        web: TestClient, app: HosoApplication, clock: FakeClock, store: Store) -> None:
    d = receive(app).dossier_id
    walk_to_signed(app, d)
    _caught_up(web, app)
    link = f"/t/{app.dossier(d).tracking_token}"
    valid = web.get(link)
    assert "chữ ký hợp lệ" in valid.text
    # Revoked, as of a moment before the decision says it was signed: no longer valid.
    [key] = app.signing_keys("gd.stp")
    clock.advance(hours=-2)
    app.revoke_signing_key(actor_id="quantri", key_id=key.key_id, reason="Lộ khóa")
    clock.advance(hours=2)
    revoked = web.get(link, headers={"If-None-Match": valid.headers["etag"]})
    assert revoked.status_code == 200 and revoked.headers["etag"] != valid.headers["etag"]
    assert "chữ ký hợp lệ" not in revoked.text
    # An event edited behind hoso's back (no new event anywhere) shows at once, too.
    d2 = receive(app).dossier_id
    walk_to_signed(app, d2)
    _caught_up(web, app)
    link2 = f"/t/{app.dossier(d2).tracking_token}"
    before = web.get(link2)
    assert "chữ ký hợp lệ" in before.text
    signed_version = next(e.originator_version for e in app.repository.event_store.get(d2)
                          if isinstance(e, Dossier.Signed))
    position, state = _row(store, d2, signed_version)
    _set_state(store, position, _edit(state, decision_title="Một quyết định khác"))
    after = web.get(link2, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and "CHỮ KÝ KHÔNG HỢP LỆ" in after.text


def test_304s_count_against_the_lookup_limit(serve: Callable[..., TestClient],
                                             app: HosoApplication) -> None:
    web = serve("tiepnhan", HOSO_PUBLIC_RATE_LIMIT="3/60")
    d = receive(app).dossier_id
    _caught_up(web, app)
    link = f"/t/{app.dossier(d).tracking_token}"
    etag = web.get(link).headers["etag"]
    answers = [web.get(link, headers={"If-None-Match": etag}).status_code for _ in range(3)]
    assert answers == [304, 304, 429]
