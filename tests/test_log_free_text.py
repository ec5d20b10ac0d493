"""Issue 17.9: clerks' free text goes into the salted private digest of new log entries
(``hoso-log-entry/2``); entries logged as /1 still verify; the citizen's page still shows
what the citizen must read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.transparency import entry as entries
from domain.transparency.entry import ENTRY_FORMAT, ENTRY_FORMAT_V2, FREE_TEXT
from projections.runners import ReadModels
from projections.store import Store
from projections.verify import verify
from tests.helpers import receive

NOTE = "Chuyển gấp theo lời ông Nguyễn Văn Bình"
REASONS = "Hồ sơ của bà Trần Thị Cúc thiếu giấy khai sinh"


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def _refused(app: HosoApplication) -> tuple[str, str, int]:
    outcome = receive(app)
    app.transfer(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                 to_unit="STP-HCTP", note=NOTE)
    app.accept_transfer(outcome.dossier_id, expected_version=None, actor_id="hctp")
    refused = app.reject(outcome.dossier_id, expected_version=None, actor_id="hctp",
                         reasons=REASONS)
    return (str(outcome.dossier_id), app.tracking_token(outcome.dossier_id),
            refused.notification_id)


def test_free_text_is_private_in_new_entries_and_old_ones_still_verify(
        app: HosoApplication, models: ReadModels, monkeypatch: pytest.MonkeyPatch) -> None:
    # Entries logged before /2 existed: the projection wrote /1.
    real = entries.log_entry
    old_id, _, _ = _refused(app)
    with monkeypatch.context() as before:
        before.setattr("projections.transparency_log.log_entry",
                       lambda event, **kw: real(event, **kw, entry_format=(
                           ENTRY_FORMAT if type(event).__qualname__.startswith("Dossier.")
                           else None)))
        models.catch_up()
    new_id, _, _ = _refused(app)
    models.catch_up()
    log = models.transparency_log
    by_format: dict[str, list[str]] = {}
    for logged in log.all_entries():
        parsed = json.loads(logged.entry)
        by_format.setdefault(parsed["format"], []).append(parsed.get("dossier_id", ""))
        text = logged.entry.decode()
        if parsed["format"] == ENTRY_FORMAT_V2:
            assert NOTE not in text and REASONS not in text
            assert not set(parsed["fields"]) & FREE_TEXT.get(parsed["type"], frozenset())
    assert set(by_format[ENTRY_FORMAT]) == {old_id}
    assert set(by_format[ENTRY_FORMAT_V2]) == {new_id}
    old_text = " ".join(e.entry.decode() for e in log.all_entries())
    assert NOTE in old_text  # what /1 published stays as it was: the log is append-only
    report = verify(app, log)
    assert report.ok, report.findings


def test_the_citizen_still_reads_the_reasons(
        app: HosoApplication, serve: Callable[..., TestClient]) -> None:
    web = serve()
    _, token, position = _refused(app)
    assert web.app.state.services.read_models.wait(position, timeout=10)  # type: ignore[attr-defined]
    page = web.get(f"/t/{token}")
    assert page.status_code == 200
    assert REASONS in page.text
