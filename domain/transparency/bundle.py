"""A dossier's proof bundle: its log entries, their inclusion proofs, and the signed checkpoint.

One JSON document that anyone can check offline, with nothing but Python, ``cryptography`` and
this package (never the event store, never hoso's database): each entry's leaf hash, the
dossier's chain of ``previous`` links, each entry's RFC 9162 inclusion proof against the
checkpoint's root, and the checkpoint's Ed25519 signature. Field by field in
docs/transparency-log.md; the command is ``python -m domain.transparency.check_bundle``.

What a bundle proves: these entries, in this order, are in the log whose tree head the key
signed. What it cannot prove: that the dossier has no later entries (ask for a newer bundle),
nor — when checked with the key shipped inside it — who signed (a forger ships their own key).

``check_bundle`` never raises on what it is given: a bundle that cannot be read is a bundle
that does not check, and each reason is one line a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from domain.transparency.checkpoint import (
    BadSignature,
    Checkpoint,
    CheckpointError,
    NoteVerifier,
    UnverifiedNote,
    open_checkpoint,
)
from domain.transparency.merkle import HASH_SIZE, leaf_hash, verify_inclusion

BUNDLE_FORMAT = "hoso-proof-bundle/1"
# The entry formats this checker knows the meaning of (domain/transparency/entry.py's
# ENTRY_FORMAT; not imported, so that the checker needs none of the event-sourcing stack).
KNOWN_ENTRY_FORMATS = frozenset({"hoso-log-entry/1", "hoso-log-entry/2"})
# Far beyond any real proof (a tree of 2**64 leaves needs 64 hashes): a bigger list is junk.
_MAX_PROOF_LENGTH = 64


@dataclass(frozen=True)
class BundleEntry:
    """One log entry as the bundle carries it: its exact text and where it sits in the tree."""

    entry: str
    leaf_index: int
    inclusion_proof: Sequence[bytes]


def make_bundle(*, origin: str, dossier_id: str, dossier_code: str,
                entries: Sequence[BundleEntry], checkpoint_note: str,
                verifier_key: str) -> dict[str, Any]:
    """The bundle document (ready for ``json.dumps``); entries in version order."""
    return {
        "format": BUNDLE_FORMAT,
        "origin": origin,
        "dossier_id": dossier_id,
        "dossier_code": dossier_code,
        "checkpoint": checkpoint_note,
        "verifier_key": verifier_key,
        "entries": [
            {"leaf_index": each.leaf_index,
             "leaf_hash": leaf_hash(each.entry.encode("utf-8")).hex(),
             "entry": each.entry,
             "inclusion_proof": [h.hex() for h in each.inclusion_proof]}
            for each in entries
        ],
    }


@dataclass
class BundleCheck:
    """What was checked and every reason the bundle does not hold; ok only without any."""

    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    origin: str | None = None
    dossier_id: str | None = None
    dossier_code: str | None = None
    entries: int = 0
    first_version: int | None = None
    last_version: int | None = None
    tree_size: int | None = None
    root: bytes | None = None
    key: str | None = None  # the verifier key the checkpoint was checked with
    key_from_bundle: bool = False  # True when nobody gave a trusted key

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, reason: str) -> None:
        self.failures.append(reason)


@dataclass(frozen=True)
class _Checked:
    """An entry that could be read, as the chain check needs it."""

    version: int
    leaf_index: int | None
    leaf: bytes
    previous: object  # what the entry names as its dossier's previous leaf hash


def check_bundle(bundle: object, trusted_key: str | None = None) -> BundleCheck:
    """Check a proof bundle (its JSON text, or the parsed document) offline.

    ``trusted_key`` is the verifier key the checker obtained on its own (from ``/log/key``,
    a letter, a newspaper): with it the checkpoint proves who signed. Without it the key
    inside the bundle is used, which only shows that the bundle agrees with itself.
    """
    check = BundleCheck()
    try:
        _check(bundle, trusted_key, check)
    except Exception as error:  # a checker answers "no" to anything it cannot read
        check.fail(f"the bundle could not be read ({type(error).__name__})")
    return check


def _check(bundle: object, trusted_key: str | None, check: BundleCheck) -> None:
    document = _document(bundle, check)
    if document is None:
        return
    if document.get("format") != BUNDLE_FORMAT:
        check.fail(f"not a hoso proof bundle: its format is {document.get('format')!r}, "
                   f"expected {BUNDLE_FORMAT!r}")
        return
    check.origin = _text(document, "origin", check)
    check.dossier_id = _text(document, "dossier_id", check)
    check.dossier_code = _text(document, "dossier_code", check)
    note = _text(document, "checkpoint", check)
    bundle_key = _text(document, "verifier_key", check)
    checkpoint = _checkpoint(note, bundle_key, trusted_key, check)
    entries = document.get("entries")
    if not isinstance(entries, list) or not entries:
        check.fail("the bundle holds no entries")
        return
    check.entries = len(entries)
    previous: _Checked | None = None
    # After an entry that could not be read there is no link to check the next one against;
    # that entry's failure is already reported.
    chain_known = True
    for number, item in enumerate(entries, start=1):
        checked = _check_entry(number, item, checkpoint, check)
        if checked is None:
            chain_known = False
            continue
        if chain_known:
            _check_link(checked, previous, check)
        chain_known, previous = True, checked
        if check.first_version is None:
            check.first_version = checked.version
        check.last_version = checked.version


def _document(bundle: object, check: BundleCheck) -> Mapping[str, Any] | None:
    if isinstance(bundle, bytes | bytearray):
        try:
            bundle = bytes(bundle).decode("utf-8")
        except UnicodeDecodeError:
            check.fail("the bundle is not UTF-8 text")
            return None
    if isinstance(bundle, str):
        try:
            bundle = json.loads(bundle)
        except ValueError as error:
            check.fail(f"the bundle is not JSON ({error})")
            return None
        except RecursionError:
            check.fail("the bundle is not JSON a checker can read (nested too deeply)")
            return None
    if not isinstance(bundle, Mapping):
        check.fail("the bundle is not a JSON object")
        return None
    return bundle


def _text(document: Mapping[str, Any], name: str, check: BundleCheck) -> str | None:
    value = document.get(name)
    if isinstance(value, str) and value:
        return value
    check.fail(f"the bundle's {name!r} is missing or not text")
    return None


def _checkpoint(note: str | None, bundle_key: str | None, trusted_key: str | None,
                check: BundleCheck) -> Checkpoint | None:
    """The checkpoint whose root the proofs must reach: once its signature is checked, or —
    when it is not — as it claims to be, so the proofs can still be reported on."""
    if note is None:
        return None
    key_text = trusted_key if trusted_key is not None else bundle_key
    check.key_from_bundle = trusted_key is None
    if check.key_from_bundle:
        check.warnings.append(
            "checked with the key shipped inside the bundle: this shows only that the bundle "
            "agrees with itself, since a forger would ship their own key; give the key you "
            "obtained from the log's publisher (its /log/key page) to know who signed")
    elif bundle_key is not None and bundle_key != trusted_key:
        check.warnings.append("the bundle's own key differs from the trusted key; the "
                              "checkpoint was checked with the trusted key")
    verifier = _verifier(key_text, "trusted" if trusted_key is not None else "bundle's", check)
    if verifier is not None:
        check.key = verifier.vkey
        try:
            checkpoint = open_checkpoint(note, verifier, origin=check.origin)
        except UnverifiedNote:
            check.fail(f"the checkpoint is not signed by the key {verifier.name}+"
                       f"{verifier.key_id.hex()}")
        except BadSignature:
            check.fail(f"the checkpoint's signature by {verifier.name} does not verify: its "
                       "text was changed after signing")
        except CheckpointError as error:
            check.fail(f"the checkpoint is not a valid signed checkpoint of this log ({error})")
        else:
            _remember(checkpoint, check)
            return checkpoint
    return _unverified_checkpoint(note, check)


def _verifier(key_text: str | None, whose: str, check: BundleCheck) -> NoteVerifier | None:
    if key_text is None:
        check.fail("no verifier key to check the checkpoint's signature with")
        return None
    try:
        return NoteVerifier.parse(key_text.strip())
    except CheckpointError as error:
        check.fail(f"the {whose} verifier key cannot be read ({error})")
        return None


def _unverified_checkpoint(note: str, check: BundleCheck) -> Checkpoint | None:
    split = note.rfind("\n\n")
    try:
        checkpoint = Checkpoint.parse_body(note[: split + 1] if split >= 0 else note)
    except CheckpointError:
        return None
    _remember(checkpoint, check)
    return checkpoint


def _remember(checkpoint: Checkpoint, check: BundleCheck) -> None:
    check.tree_size, check.root = checkpoint.size, checkpoint.root


def _check_entry(number: int, item: object, checkpoint: Checkpoint | None,
                 check: BundleCheck) -> _Checked | None:
    """One entry's own checks; what the chain check needs, or None if it cannot be read."""
    where = f"entry {number}"
    if not isinstance(item, Mapping):
        check.fail(f"{where} is not a JSON object")
        return None
    text = item.get("entry")
    if not isinstance(text, str):
        check.fail(f"{where}: its entry text is missing")
        return None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        check.fail(f"{where}: its entry text is not valid Unicode")
        return None
    leaf = leaf_hash(data)
    parsed = _parsed_entry(text)
    if parsed is None:
        check.fail(f"{where}: its entry text is not a JSON object with unique member names")
        return None
    version = parsed.get("version")
    if not _is_count(version) or version < 1:
        check.fail(f"{where}: its entry has no valid version")
        return None
    index = item.get("leaf_index")
    where = f"version {version}"
    if not _is_count(index):
        check.fail(f"{where}: its leaf index is missing or not a whole number")
        index = None
    else:
        where += f" (leaf {index})"
    _check_entry_fields(where, parsed, check)
    stated = item.get("leaf_hash")
    if stated is not None and stated != leaf.hex():
        check.fail(f"{where}: its stated leaf hash is not the hash of its entry text")
    proof = _hashes(item.get("inclusion_proof"))
    if proof is None:
        check.fail(f"{where}: its inclusion proof is not a list of hex SHA-256 hashes")
    elif checkpoint is not None and index is not None and not verify_inclusion(
            leaf, index, checkpoint.size, proof, checkpoint.root):
        check.fail(f"{where}: the inclusion proof does not lead from this entry to the "
                   f"checkpoint's root (tree size {checkpoint.size})")
    return _Checked(version, index, leaf, parsed.get("previous"))


def _check_entry_fields(where: str, parsed: Mapping[str, Any], check: BundleCheck) -> None:
    entry_format = parsed.get("format")
    if not isinstance(entry_format, str) or entry_format not in KNOWN_ENTRY_FORMATS:
        check.fail(f"{where}: unknown entry format {parsed.get('format')!r}")
    if parsed.get("origin") != check.origin:
        check.fail(f"{where}: logged in {parsed.get('origin')!r}, not in {check.origin!r}")
    if parsed.get("dossier_id") != check.dossier_id:
        check.fail(f"{where}: belongs to dossier {parsed.get('dossier_id')!r}, not to "
                   f"{check.dossier_id!r}")
    if parsed.get("version") == 1:
        fields = parsed.get("fields")
        code = fields.get("code") if isinstance(fields, Mapping) else None
        if parsed.get("type") != "Received" or code != check.dossier_code:
            check.fail(f"{where}: the dossier's first entry does not receive "
                       f"{check.dossier_code!r} (it is {parsed.get('type')!r} of {code!r})")


def _check_link(entry: _Checked, previous: _Checked | None, check: BundleCheck) -> None:
    """Versions 1..n in a row, each naming the leaf hash of the one before."""
    if previous is None:
        if entry.version != 1:
            check.fail(f"the chain starts at version {entry.version}, not 1: "
                       f"{_missing(1, entry.version - 1)}")
        elif entry.previous is not None:
            check.fail("version 1 names a previous entry, but it is the first")
        return
    expected = previous.version + 1
    if entry.version > expected:
        check.fail(f"version {entry.version} follows version {previous.version}: "
                   f"{_missing(expected, entry.version - 1)}")
        return
    if entry.version < expected:
        check.fail(f"version {entry.version} comes after version {previous.version}: the "
                   "entries are repeated or out of order")
        return
    if (entry.leaf_index is not None and previous.leaf_index is not None
            and entry.leaf_index <= previous.leaf_index):
        check.fail(f"version {entry.version} sits at leaf {entry.leaf_index}, not after "
                   f"version {previous.version}'s leaf {previous.leaf_index}")
    if entry.previous != previous.leaf.hex():
        check.fail(f"version {entry.version} does not link to version {previous.version}: its "
                   "'previous' is not that entry's leaf hash")


def _missing(first: int, last: int) -> str:
    return (f"version {first} is missing" if first == last
            else f"versions {first}–{last} are missing")


def _parsed_entry(text: str) -> dict[str, Any] | None:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError("duplicate member names")
        return dict(pairs)

    try:
        parsed = json.loads(text, object_pairs_hook=unique)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _hashes(value: object) -> list[bytes] | None:
    if not isinstance(value, list) or len(value) > _MAX_PROOF_LENGTH:
        return None
    hashes = []
    for item in value:
        if not (isinstance(item, str) and len(item) == 2 * HASH_SIZE):
            return None
        try:
            hashes.append(bytes.fromhex(item))
        except ValueError:
            return None
    return hashes


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
