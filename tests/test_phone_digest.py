"""Issue 17, item 7: the phone digests in the read models are keyed (HMAC with a secret kept
outside the database), on both stores: a copy of the database alone no longer gives the
number by trying every phone, while the counter's search and the broker red flag work."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from domain.application import HosoApplication
from projections.desk_queue import QueueFilter
from projections.migrate import migrate
from projections.phone_digest import (
    PHONE_KEY_ENV,
    PhoneDigest,
    PhoneKeyError,
    installation_phone_key,
    parse_phone_key,
)
from projections.runners import ReadModels
from projections.store import Store
from tests.helpers import APPLICANT, receive

KEY = base64.b64encode(bytes(range(32))).decode()
PHONE = APPLICANT["applicant_phone"]
MIGRATION = "0037_keyed_phone_digests"


@pytest.fixture
def models(store: Store, app: HosoApplication,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[ReadModels]:
    monkeypatch.setenv(PHONE_KEY_ENV, KEY)
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def unkeyed(phone: str) -> str:
    """The digest the read models held before: anyone can compute it."""
    return hashlib.sha256(f"hoso-phone:{phone}".encode()).hexdigest()


def stored_digests(models: ReadModels) -> set[str]:
    queue = models.views["desk_queue"]._select("SELECT phone_hash FROM {p}desk_queue")
    review = models.views["review"]._select("SELECT phone_hash FROM {p}review_dossier")
    return {r["phone_hash"] for r in queue} | {r["phone_hash"] for r in review}


def try_every_number(digests: set[str], numbers: range) -> list[str]:
    """The attack: every phone number of a range, digested as the read models did."""
    return [f"0{n:09d}" for n in numbers if unkeyed(f"0{n:09d}") in digests]


def test_a_copy_of_the_read_models_no_longer_gives_the_phone_by_trying_numbers(
        app: HosoApplication, models: ReadModels) -> None:
    receive(app)
    models.catch_up()
    digests = stored_digests(models)
    around = int(PHONE)  # the attacker's range holds the applicant's number
    assert try_every_number(digests, range(around - 20_000, around + 20_000)) == []
    keyed = hmac.new(base64.b64decode(KEY), f"hoso-phone:{PHONE}".encode(),
                     hashlib.sha256).hexdigest()
    assert digests == {keyed}


def test_the_counter_still_finds_by_phone_and_another_key_finds_nothing(
        app: HosoApplication, models: ReadModels, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = receive(app)
    models.catch_up()
    assert [r.dossier_id for r in models.desk_queue.page(QueueFilter(phone=PHONE))] == [
        mine.dossier_id]
    models.desk_queue.phone_digest = PhoneDigest(key=b"another installation's key!")
    assert models.desk_queue.page(QueueFilter(phone=PHONE)) == []


def test_the_migration_replaces_the_unkeyed_digests_of_an_existing_store(
        app: HosoApplication, models: ReadModels, store: Store) -> None:
    """A store projected before the upgrade holds unkeyed digests; after migration 0037
    and the follower's catch-up, only keyed ones, and the search finds the dossier."""
    mine = receive(app)
    models.catch_up()
    queue, review = models.views["desk_queue"], models.views["review"]
    with queue._transaction(commit=True) as cursor:  # the store as the old version left it
        for table in ("desk_queue", "review_dossier"):
            queue._execute(cursor, f"UPDATE {{p}}{table} SET phone_hash = %(h)s",
                           {"h": unkeyed(PHONE)})
    assert try_every_number(stored_digests(models), range(int(PHONE) - 5, int(PHONE) + 5)) \
        == [PHONE]
    with queue._transaction(commit=True) as cursor:  # as if 0037 had not been applied yet
        queue._execute(cursor, "DELETE FROM {p}_yoyo_migration WHERE migration_id = %(m)s",
                       {"m": MIGRATION})
    assert migrate(store) == [MIGRATION]
    assert stored_digests(models) == set()
    assert queue.max_tracking_id(app.name) is None and review.max_tracking_id(app.name) is None
    models.catch_up()  # what the next hoso serve / project does
    assert try_every_number(stored_digests(models), range(int(PHONE) - 5, int(PHONE) + 5)) \
        == []
    assert [r.dossier_id for r in models.desk_queue.page(QueueFilter(phone=PHONE))] == [
        mine.dossier_id]


def test_without_the_setting_a_key_file_is_made_once_and_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PHONE_KEY_ENV, raising=False)
    sqlite_path = tmp_path / "store" / "hoso.sqlite3"
    first = installation_phone_key(sqlite_path)
    made = tmp_path / "store" / "phone_key"
    assert made.stat().st_mode & 0o777 == 0o600
    assert installation_phone_key(sqlite_path) == first and len(first) == 32
    assert installation_phone_key(None, None, tmp_path / "pg" / "phone_key") not in (first, None)
    assert (tmp_path / "pg" / "phone_key").exists()


def test_the_cli_prints_a_key_and_refuses_a_malformed_setting(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    main(["phone-key"])
    printed = capsys.readouterr().out.strip()
    assert len(parse_phone_key(printed)) == 32
    monkeypatch.setenv("HOSO_DATABASE_URL", f"sqlite:///{tmp_path / 'hoso.sqlite3'}")
    monkeypatch.setenv(PHONE_KEY_ENV, "not a key")
    with pytest.raises(SystemExit) as stopped:
        main(["rebuild"])
    assert PHONE_KEY_ENV in str(stopped.value)
    with pytest.raises(PhoneKeyError):
        parse_phone_key(base64.b64encode(b"short").decode())
