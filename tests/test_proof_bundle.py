"""A dossier's proof bundle: built from the log, checked offline, and every forgery caught."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.application import HosoApplication
from domain.transparency.bundle import (
    BUNDLE_FORMAT,
    KNOWN_ENTRY_FORMATS,
    BundleEntry,
    check_bundle,
    make_bundle,
)
from domain.transparency.check_bundle import main as check_bundle_main
from domain.transparency.checkpoint import NoteSigner
from domain.transparency.entry import ENTRY_FORMAT, jcs
from domain.transparency.merkle import MerkleTree, leaf_hash
from domain.transparency.merkle import root as merkle_root
from projections.runners import ReadModels
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import receive, walk_to_delivered_by_post

ORIGIN = "hoso.local/log"
SIGNER = NoteSigner.generate(ORIGIN)
TRUSTED = SIGNER.verifier.vkey
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def models(store: Store, app: HosoApplication,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[ReadModels]:
    monkeypatch.setenv("HOSO_LOG_SIGNING_KEY", SIGNER.skey)
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


@pytest.fixture
def delivered(app: HosoApplication, models: ReadModels, clock: FakeClock) -> UUID:
    """A dossier walked to delivery by post, with another dossier's events in between (so
    leaf indexes are not positions), logged and signed in a checkpoint."""
    other = receive(app).dossier_id
    dossier = receive(app).dossier_id
    app.transfer(other, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    clock.advance(minutes=5)
    walk_to_delivered_by_post(app, dossier)
    app.accept_transfer(other, expected_version=None, actor_id="hctp")
    models.catch_up()
    assert models.transparency().make_checkpoint(clock()) is not None
    return dossier


def bundle_of(app: HosoApplication, models: ReadModels, dossier: UUID) -> dict[str, Any]:
    proof = models.transparency().dossier_proof(dossier, app.dossier(dossier).code)
    assert proof.bundle is not None
    return proof.bundle


def test_a_bundle_checks_clean_offline(app: HosoApplication, models: ReadModels,
                                       delivered: UUID) -> None:
    bundle = bundle_of(app, models, delivered)
    assert bundle["format"] == BUNDLE_FORMAT and bundle["origin"] == ORIGIN
    assert bundle["dossier_code"] == app.dossier(delivered).code
    assert bundle["verifier_key"] == TRUSTED
    # The leaf index is the rank in log order, not the position (notification id).
    log = list(models.transparency_log.all_entries())
    rank = {(e.dossier_id, e.version): index for index, e in enumerate(log)}
    mine = [e for e in log if e.dossier_id == delivered]
    assert [e["leaf_index"] for e in bundle["entries"]] == [
        rank[(delivered, v)] for v in range(1, 11)]
    assert [e["leaf_index"] for e in bundle["entries"]] != [e.position for e in mine]
    assert [e["entry"] for e in bundle["entries"]] == [e.entry.decode() for e in mine]

    check = check_bundle(bundle, trusted_key=TRUSTED)
    assert check.ok, check.failures
    assert (check.entries, check.first_version, check.last_version) == (10, 1, 10)
    assert check.tree_size == len(log) and check.root == merkle_root([e.leaf_hash for e in log])
    assert check.key == TRUSTED and not check.key_from_bundle and not check.warnings
    # Through JSON text and back, as it is downloaded.
    assert check_bundle(json.dumps(bundle, ensure_ascii=False), trusted_key=TRUSTED).ok
    # Without a trusted key the bundle's own is used, and the result says so.
    own = check_bundle(bundle)
    assert own.ok and own.key_from_bundle
    assert "a forger would ship their own key" in own.warnings[0]


def _entry(bundle: dict[str, Any], version: int) -> dict[str, Any]:
    return next(e for e in bundle["entries"] if json.loads(e["entry"])["version"] == version)


def _edit_entry(version: int, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(bundle: dict[str, Any]) -> None:
        entry = _entry(bundle, version)
        assert old in entry["entry"]
        entry["entry"] = entry["entry"].replace(old, new, 1)

    return edit


def _shift_leaf(version: int, by: int) -> Callable[[dict[str, Any]], None]:
    def shift(bundle: dict[str, Any]) -> None:
        _entry(bundle, version)["leaf_index"] += by

    return shift


def _flip_proof(bundle: dict[str, Any]) -> None:
    proof = _entry(bundle, 5)["inclusion_proof"]
    proof[1] = ("0" if proof[1][0] != "0" else "1") + proof[1][1:]


def _remove_proof_element(bundle: dict[str, Any]) -> None:
    _entry(bundle, 5)["inclusion_proof"].pop()


def _add_proof_element(bundle: dict[str, Any]) -> None:
    _entry(bundle, 5)["inclusion_proof"].append(leaf_hash(b"extra").hex())


def _edit_checkpoint(bundle: dict[str, Any]) -> None:
    body, _, signatures = bundle["checkpoint"].partition("\n\n")
    origin, size, root = body.split("\n")
    bundle["checkpoint"] = f"{origin}\n{int(size) + 1}\n{root}\n\n{signatures}"


def _remove_version(version: int) -> Callable[[dict[str, Any]], None]:
    def remove(bundle: dict[str, Any]) -> None:
        bundle["entries"].remove(_entry(bundle, version))

    return remove


def _swap_versions(bundle: dict[str, Any]) -> None:
    entries = bundle["entries"]
    entries[3], entries[4] = entries[4], entries[3]


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def set_field(bundle: dict[str, Any]) -> None:
        bundle[field] = value

    return set_field


def _break_link(bundle: dict[str, Any]) -> None:
    entry = _entry(bundle, 7)
    parsed = json.loads(entry["entry"])
    parsed["previous"] = leaf_hash(b"someone else").hex()
    entry["entry"] = jcs(parsed).decode()


TAMPERING: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("a byte of an entry's text", _edit_entry(3, '"actor":"hctp"', '"actor":"hctq"'),
     [r"version 3 \(leaf \d+\): its stated leaf hash is not the hash of its entry text",
      r"version 3 \(leaf \d+\): the inclusion proof does not lead from this entry to the "
      r"checkpoint's root",
      "version 4 does not link to version 3"]),
    ("a leaf index + 1", _shift_leaf(4, +1),
     [r"version 4 \(leaf \d+\): the inclusion proof does not lead"]),
    ("a leaf index - 1", _shift_leaf(10, -1),
     [r"version 10 \(leaf \d+\): the inclusion proof does not lead"]),
    ("a proof hash flipped", _flip_proof, [r"version 5 \(leaf \d+\): the inclusion proof"]),
    ("a proof hash removed", _remove_proof_element,
     [r"version 5 \(leaf \d+\): the inclusion proof"]),
    ("a proof hash added", _add_proof_element, [r"version 5 \(leaf \d+\): the inclusion proof"]),
    ("the checkpoint's note edited", _edit_checkpoint,
     ["the checkpoint's signature by hoso.local/log does not verify: its text was changed"]),
    ("a previous link broken", _break_link,
     ["version 7 does not link to version 6: its 'previous' is not that entry's leaf hash",
      r"version 7 \(leaf \d+\): the inclusion proof does not lead"]),
    ("a version removed", _remove_version(3),
     ["version 4 follows version 2: version 3 is missing"]),
    ("the first version removed", _remove_version(1),
     ["the chain starts at version 2, not 1: version 1 is missing"]),
    ("two versions swapped", _swap_versions,
     ["version 5 follows version 3: version 4 is missing",
      "version 4 comes after version 5: the entries are repeated or out of order"]),
    ("another dossier's code", _set("dossier_code", "000.00.01.H29-261123-9999"),
     ["the dossier's first entry does not receive '000.00.01.H29-261123-9999'"]),
    ("another dossier's id", _set("dossier_id", "00000000-0000-0000-0000-000000000000"),
     [r"version 1 \(leaf \d+\): belongs to dossier '[0-9a-f-]+', not to "
      "'00000000-0000-0000-0000-000000000000'"]),
    ("another log's origin", _set("origin", "other.example/log"),
     ["the checkpoint is not a valid signed checkpoint of this log",
      r"logged in 'hoso.local/log', not in 'other.example/log'"]),
    ("no entries", _set("entries", []), ["the bundle holds no entries"]),
]


@pytest.mark.parametrize(("what", "tamper", "messages"), TAMPERING,
                         ids=[t[0] for t in TAMPERING])
def test_each_forgery_is_named(app: HosoApplication, models: ReadModels, delivered: UUID,
                               what: str, tamper: Callable[[dict[str, Any]], None],
                               messages: list[str]) -> None:
    bundle = copy.deepcopy(bundle_of(app, models, delivered))
    tamper(bundle)
    check = check_bundle(bundle, trusted_key=TRUSTED)
    assert not check.ok, what
    for message in messages:
        assert any(re.search(message, failure) for failure in check.failures), (
            message, check.failures)


def test_a_key_other_than_the_trusted_one(app: HosoApplication, models: ReadModels,
                                          delivered: UUID) -> None:
    bundle = bundle_of(app, models, delivered)
    impostor = NoteSigner.generate(ORIGIN).verifier
    check = check_bundle(bundle, trusted_key=impostor.vkey)
    assert not check.ok
    assert check.failures == [f"the checkpoint is not signed by the key {ORIGIN}+"
                              f"{impostor.key_id.hex()}"]
    assert "differs from the trusted key" in check.warnings[0]
    # A forger re-signs with their own key and ships it: self-consistent, and only the
    # trusted key tells.
    forged = copy.deepcopy(bundle)
    body = forged["checkpoint"].partition("\n\n")[0] + "\n"
    forger = NoteSigner.generate(ORIGIN)
    forged["checkpoint"] = body + "\n" + forger.signature_line(body)
    forged["verifier_key"] = forger.verifier.vkey
    assert check_bundle(forged).ok
    assert "not signed by the key" in check_bundle(forged, trusted_key=TRUSTED).failures[0]
    assert "cannot be read" in check_bundle(bundle, trusted_key="not a key").failures[0]


def _synthetic_entry(version: int, previous: bytes | None) -> str:
    fields = {"code": "000.00.01.H29-261123-0001"} if version == 1 else {}
    return jcs({"format": ENTRY_FORMAT, "origin": ORIGIN,
                "dossier_id": "3f1c6a2e-8d4b-5e7f-9a01-23456789abcd", "version": version,
                "type": "Received" if version == 1 else "Transferred", "fields": fields,
                "previous": previous.hex() if previous else None}).decode()


def _signed_bundle(entries: list[str]) -> dict[str, Any]:
    """A log holding these entries and a checkpoint of it, all properly signed: what the
    installation itself would produce if it had logged them."""
    tree = MerkleTree(leaf_hash(e.encode()) for e in entries)
    from domain.transparency.checkpoint import sign_checkpoint
    note = sign_checkpoint(ORIGIN, tree.size, tree.root(), SIGNER)
    return make_bundle(origin=ORIGIN, dossier_id="3f1c6a2e-8d4b-5e7f-9a01-23456789abcd",
                       dossier_code="000.00.01.H29-261123-0001",
                       entries=[BundleEntry(e, i, tree.inclusion_proof(i))
                                for i, e in enumerate(entries)],
                       checkpoint_note=note, verifier_key=TRUSTED)


def test_the_chain_is_checked_even_when_every_proof_holds() -> None:
    first = _synthetic_entry(1, None)
    second = _synthetic_entry(2, leaf_hash(first.encode()))
    third = _synthetic_entry(3, leaf_hash(first.encode()))  # skips version 2
    assert check_bundle(_signed_bundle([first, second]), trusted_key=TRUSTED).ok
    check = check_bundle(_signed_bundle([first, second, third]), trusted_key=TRUSTED)
    assert check.failures == [
        "version 3 does not link to version 2: its 'previous' is not that entry's leaf hash"]
    dangling = _synthetic_entry(1, leaf_hash(b"nothing"))
    assert check_bundle(_signed_bundle([dangling]), trusted_key=TRUSTED).failures == [
        "version 1 names a previous entry, but it is the first"]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:2]):
            yield from _paths(item, (*path, index))


@pytest.mark.parametrize("document", [
    "", "not json", "[1, 2]", "null", b"\xff\xfe", b"{}", 42, None, [], {},
    {"format": BUNDLE_FORMAT}, {"format": "hoso-proof-bundle/2"},
    '{"format": "hoso-proof-bundle/1", "entries": "many"}',
    {"format": BUNDLE_FORMAT, "origin": ORIGIN, "dossier_id": "x", "dossier_code": "y",
     "checkpoint": "a\nb\n", "verifier_key": "k", "entries": [None, 1, {"entry": 5}]},
    "[" * 100_000,
])
def test_malformed_bundles_are_failures_never_exceptions(document: Any) -> None:
    check = check_bundle(document, trusted_key=TRUSTED)
    assert not check.ok and all(isinstance(f, str) and f for f in check.failures)


def test_every_field_of_wrong_type_is_a_failure_never_an_exception() -> None:
    first = _synthetic_entry(1, None)
    good = _signed_bundle([first, _synthetic_entry(2, leaf_hash(first.encode()))])
    assert check_bundle(good, trusted_key=TRUSTED).ok
    for path in list(_paths(good))[1:]:
        for wrong in (None, True, -1, 2**70, "", "zz", [], {}, [None], "\ud800"):
            bundle = copy.deepcopy(good)
            target = bundle
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = wrong
            check = check_bundle(bundle, trusted_key=TRUSTED)
            if path == ("verifier_key",) and isinstance(wrong, str) and wrong:
                # Not used when the checker trusts a key of its own: only worth a warning.
                assert check.ok and "differs from the trusted key" in check.warnings[0]
            elif not (path[-1] == "leaf_hash" and wrong is None):  # leaving it out is allowed
                assert not check.ok, (path, wrong)


def test_cli_exit_codes(app: HosoApplication, models: ReadModels, delivered: UUID,
                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = bundle_of(app, models, delivered)
    code = app.dossier(delivered).code
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False, indent=2))
    key_file = tmp_path / "key.txt"
    key_file.write_text(TRUSTED + "\n")

    out = io.StringIO()
    assert check_bundle_main([str(path), "--key", str(key_file)], out) == 0
    text = out.getvalue()
    assert f"dossier:    {code} ({delivered})" in text
    assert re.search(r"checkpoint: tree size \d+, root [A-Za-z0-9+/=]{44}", text)
    assert f"key:        {TRUSTED} (the trusted key given)" in text
    assert "entries:    10 (versions 1–10)" in text
    assert "OK: every entry is in the checkpoint signed by the trusted key given" in text
    assert "WARNING" not in text

    out = io.StringIO()
    assert check_bundle_main([str(path)], out) == 0
    assert "WARNING: checked with the key shipped inside the bundle" in out.getvalue()
    assert "(the bundle's own key)" in out.getvalue()

    _remove_version(6)(bundle)
    path.write_text(json.dumps(bundle))
    out = io.StringIO()
    assert check_bundle_main([str(path), "--key", TRUSTED], out) == 1
    assert "FAILED: version 7 follows version 5: version 6 is missing" in out.getvalue()
    assert "NOT VALID: 1 problem(s)" in out.getvalue()

    wrong_key = NoteSigner.generate(ORIGIN).verifier.vkey
    path.write_text(json.dumps(bundle_of(app, models, delivered)))
    assert check_bundle_main([str(path), "--key", wrong_key], io.StringIO()) == 1

    assert check_bundle_main([str(tmp_path / "missing.json")], io.StringIO()) == 2
    path.write_text("{not json")
    assert check_bundle_main([str(path)], io.StringIO()) == 2
    assert "is not JSON" in capsys.readouterr().err
    path.write_bytes(b"\xff\xfe\x00")
    assert check_bundle_main([str(path)], io.StringIO()) == 2
    assert check_bundle_main([], io.StringIO()) == 2


def test_the_verifier_needs_nothing_but_the_transparency_package(tmp_path: Path) -> None:
    """Whoever checks a bundle needs Python, cryptography and domain/transparency: not the
    event store, the database drivers or the web framework."""
    script = ("import sys, domain.transparency.check_bundle\n"
              "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
              "{'eventsourcing', 'psycopg', 'starlette', 'jinja2', 'projections', 'web'} "
              "or m in {'domain.dossier', 'domain.transparency.entry'})\n"
              "print(heavy)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
    run = subprocess.run([sys.executable, "-m", "domain.transparency.check_bundle",
                          str(tmp_path / "none.json")], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "UNREADABLE" in run.stderr


def test_the_checker_knows_the_entry_format_the_log_writes() -> None:
    assert ENTRY_FORMAT in KNOWN_ENTRY_FORMATS


def test_the_documented_bundle_fields_are_the_built_ones() -> None:
    doc = (ROOT / "docs" / "transparency-log.md").read_text()
    section = doc.split("## Proof bundles")[1].split("\n## ")[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))
    bundle = _signed_bundle([_synthetic_entry(1, None)])
    assert documented == set(bundle) | set(bundle["entries"][0])
    assert "python -m domain.transparency.check_bundle" in section


def test_proofs_come_from_a_tree_grown_as_the_log_grows(app: HosoApplication,
                                                        models: ReadModels,
                                                        clock: FakeClock,
                                                        delivered: UUID) -> None:
    log = models.transparency()
    first = log.dossier_proof(delivered, app.dossier(delivered).code)
    assert first.covered == first.logged == 10
    later = receive(app).dossier_id
    models.catch_up()
    waiting = log.dossier_proof(later, app.dossier(later).code)
    assert (waiting.logged, waiting.covered, waiting.bundle) == (1, 0, None)
    made = log.make_checkpoint(clock())
    assert made is not None and first.checkpoint is not None
    # The receipt and its code number (the day's code sequence is logged too).
    assert made.tree_size == first.checkpoint.tree_size + 2
    assert made.root_hash == merkle_root(log.checkpoints.leaf_hashes())
    for dossier in (delivered, later):
        proof = log.dossier_proof(dossier, app.dossier(dossier).code)
        assert proof.bundle is not None
        assert check_bundle(proof.bundle, trusted_key=TRUSTED).ok
    # A newcomer with an empty cache builds the same tree.
    fresh = ReadModels(models.store, app)
    try:
        again = fresh.transparency().dossier_proof(later, app.dossier(later).code)
        assert again.bundle == log.dossier_proof(later, app.dossier(later).code).bundle
    finally:
        fresh.close()


def test_an_entry_slipped_in_behind_the_tree_is_refused(app: HosoApplication,
                                                        models: ReadModels,
                                                        delivered: UUID) -> None:
    """INSERT is not refused by the log's triggers: a row written past a gap in the leaf
    indexes (to be filled later, behind the signed tree's back) stops every proof, in the
    tree the server already holds and in any tree built afresh."""
    log = models.transparency()
    code = app.dossier(delivered).code
    assert log.dossier_proof(delivered, code).bundle is not None
    entries = list(models.transparency_log.all_entries())
    last = json.loads(entries[-1].entry)
    forged = jcs(last | {"version": 11, "previous": entries[-1].leaf_hash.hex()})
    view = models.transparency_log
    with view._transaction(commit=True) as cursor:
        view._execute(cursor, "INSERT INTO {p}log_entry (position, dossier_id, version, entry, "
                              "leaf_hash, leaf_index) VALUES (%(p)s, %(d)s, 11, %(e)s, %(h)s, "
                              "%(i)s)",
                      {"p": entries[-1].position + 1000, "d": delivered, "e": forged.decode(),
                       "h": leaf_hash(forged).hex(), "i": len(entries) + 1})
    gap = f"the log has no leaf {len(entries)}: the leaf indexes of its entries have a gap"
    assert log.dossier_proof(delivered, code).problem == gap
    fresh = ReadModels(models.store, app)
    try:
        assert fresh.transparency().dossier_proof(delivered, code).problem == gap
    finally:
        fresh.close()
