"""Checkpoints: signed tree heads of the transparency log, for outsiders to keep.

A hash chain alone proves nothing against whoever can rewrite the tables; a checkpoint signed
with a key kept outside the database, and copied by the inspectorate or the press, does. Each
new checkpoint is stored with the consistency proof from the one before, so anyone holding
the old one can check the log only grew.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.transparency.bundle import BundleEntry, make_bundle
from domain.transparency.checkpoint import (
    CheckpointError,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    sign_checkpoint,
)
from domain.transparency.merkle import HASH_SIZE, MerkleTree
from domain.transparency.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, tile_exists
from projections.read_model import PostgresReadModel, ReadModel, Row, SQLiteReadModel
from projections.witnessing import (
    Post,
    WitnessEndpoint,
    ask_witness,
    http_post,
)

log = logging.getLogger(__name__)

TREE_BATCH = 10_000


class LogUnreadable(ValueError):
    """The stored log cannot give a tree (a leaf hash that is not one), or is shorter than a
    checkpoint signed for it: no proof can be made, which is itself a finding."""


def signing_key_file(sqlite_path: Path | None) -> Path | None:
    return sqlite_path.parent / "log_signing_key" if sqlite_path is not None else None


def installation_signer(origin: str, sqlite_path: Path | None,
                        skey: str | None = None) -> NoteSigner | None:
    """The installation's Ed25519 key: ``skey`` (HOSO_LOG_SIGNING_KEY), or a key file beside
    the SQLite store (made on first use). None on PostgreSQL without the setting: a key made
    up on the spot would sign checkpoints nobody could check after a restart."""
    if skey:
        return NoteSigner.parse(skey)
    path = signing_key_file(sqlite_path)
    if path is None:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(NoteSigner.generate(origin).skey)
        path.chmod(0o600)
    return NoteSigner.parse(path.read_text().strip())


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    previous_size: int | None
    consistency_proof: list[bytes]
    made_at: datetime


@dataclass(frozen=True)
class StoredCosignature:
    tree_size: int
    witness: str  # the witness's key name
    signature: str  # its note signature line, newline-terminated
    cosigned_at: datetime


@dataclass(frozen=True)
class IndexedEntry:
    """A dossier's logged entry with its leaf index: its place in the tree, which is not its
    position (the position is the event's notification id)."""

    position: int
    version: int
    entry: str
    leaf_hash: bytes
    leaf_index: int


class CheckpointView(ReadModel):
    """The log's leaf hashes (read) and its checkpoints (appended)."""

    tracking_name = "log_checkpoints"
    tables = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The whole tree, kept for the life of the process and extended with what was logged
        # since it was last asked for, so a proof or a checkpoint costs O(log² n) hashes
        # rather than reading every leaf again. Memory: every leaf and interior node, about
        # 64 bytes a leaf (64 MB for a million events). The log is append-only and each
        # entry's place in the tree is its ``leaf_index``, so the leaves after the last
        # index read are exactly the new ones.
        self._tree = MerkleTree()
        self._tree_lock = threading.Lock()

    def reset(self, application_name: str) -> None:
        raise RuntimeError("checkpoints are append-only and are never rebuilt")

    def leaf_hashes(self) -> list[bytes]:
        rows = self._select("SELECT leaf_hash FROM {p}log_entry ORDER BY leaf_index")
        return [bytes.fromhex(r["leaf_hash"]) for r in rows]

    def _grown_tree(self) -> MerkleTree:
        """The cached tree with every leaf logged so far; call it holding ``_tree_lock``."""
        while rows := self._select(
                "SELECT position, leaf_index, leaf_hash FROM {p}log_entry "
                "WHERE leaf_index >= %(size)s ORDER BY leaf_index LIMIT %(limit)s",
                {"size": self._tree.size, "limit": TREE_BATCH}):
            # Every hash of the batch read (and its index checked) before any is appended:
            # a bad row leaves the tree as it was.
            for offset, row in enumerate(rows):
                if int(row["leaf_index"]) != self._tree.size + offset:
                    raise LogUnreadable(
                        f"the log has no leaf {self._tree.size + offset}: the leaf "
                        "indexes of its entries have a gap")
            self._tree.extend([_leaf(row) for row in rows])
        return self._tree

    def inclusion_proofs(self, leaf_indexes: Sequence[int], tree_size: int) -> list[list[bytes]]:
        """RFC 9162 inclusion proofs of these leaves in the tree of the first ``tree_size``."""
        with self._tree_lock:
            tree = self._grown_tree()
            if tree_size > tree.size:
                raise LogUnreadable(
                    f"the checkpoint covers {tree_size} entries but the log holds only "
                    f"{tree.size}: entries were removed")
            return [tree.inclusion_proof(index, tree_size) for index in leaf_indexes]

    def dossier_entries(self, dossier_id: UUID) -> list[IndexedEntry]:
        """A dossier's logged entries in version order, each with its leaf index."""
        rows = self._select(
            "SELECT position, version, entry, leaf_hash, leaf_index FROM {p}log_entry "
            "WHERE dossier_id = %(d)s ORDER BY version", {"d": dossier_id})
        return [IndexedEntry(int(r["position"]), int(r["version"]), str(r["entry"]),
                             _leaf(r), int(r["leaf_index"])) for r in rows]

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._select("SELECT * FROM {p}log_checkpoint ORDER BY tree_size")
        return [_stored(r) for r in rows]

    def latest(self) -> StoredCheckpoint | None:
        rows = self._select(
            "SELECT * FROM {p}log_checkpoint ORDER BY tree_size DESC LIMIT 1")
        return _stored(rows[0]) if rows else None

    def checkpoint_of_size(self, tree_size: int) -> StoredCheckpoint | None:
        rows = self._select("SELECT * FROM {p}log_checkpoint WHERE tree_size = %(size)s",
                            {"size": tree_size})
        return _stored(rows[0]) if rows else None

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self._tree_lock:
            return self._grown_tree().consistency_proof(old_size, new_size)

    def cosignatures(self, tree_size: int) -> list[StoredCosignature]:
        rows = self._select("SELECT * FROM {p}log_cosignature WHERE tree_size = %(size)s "
                            "ORDER BY witness", {"size": tree_size})
        return [StoredCosignature(int(r["tree_size"]), str(r["witness"]), str(r["signature"]),
                                  _time(r["cosigned_at"])) for r in rows]

    def cosigned_size(self, witness: str) -> int:
        """The largest tree size this witness cosigned, 0 if none."""
        rows = self._select("SELECT max(tree_size) AS n FROM {p}log_cosignature "
                            "WHERE witness = %(w)s", {"w": witness})
        return int(rows[0]["n"] or 0) if rows else 0

    def add_cosignature(self, tree_size: int, witness: str, signature: str,
                        cosigned_at: datetime) -> None:
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor, "INSERT INTO {p}log_cosignature (tree_size, witness, signature, "
                "cosigned_at) VALUES (%(size)s, %(w)s, %(sig)s, %(at)s) "
                "ON CONFLICT (tree_size, witness) DO NOTHING",
                {"size": tree_size, "w": witness, "sig": signature, "at": cosigned_at})

    def tile(self, ref: TileRef) -> bytes | None:
        """The tile's hashes, if the latest signed checkpoint covers all of them: tiles of
        leaves no checkpoint has signed yet are not published (a client could not check
        them against anything)."""
        latest = self.latest()
        if latest is None or not tile_exists(ref, latest.tree_size):
            return None
        with self._tree_lock:
            tree = self._grown_tree()
            if tree.size < latest.tree_size:
                raise LogUnreadable(
                    f"the checkpoint covers {latest.tree_size} entries but the log holds "
                    f"only {tree.size}: entries were removed")
            return tree.hashes(TILE_HEIGHT * ref.level, ref.index * TILE_WIDTH, ref.width)

    def make(self, *, origin: str, signer: NoteSigner, now: datetime) -> StoredCheckpoint | None:
        """Sign the log as it stands, if it grew since the last checkpoint."""
        with self._tree_lock:
            tree = self._grown_tree()
            size = tree.size
            previous = self.latest()
            if size == 0 or (previous and previous.tree_size >= size):
                return None
            root = tree.root(size)
            proof = tree.consistency_proof(previous.tree_size, size) if previous else []
        note = sign_checkpoint(origin, size, root, signer)
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "INSERT INTO {p}log_checkpoint (tree_size, root_hash, note, previous_size, "
                "consistency_proof, made_at) VALUES (%(size)s, %(root)s, %(note)s, "
                "%(previous)s, %(proof)s, %(made_at)s) ON CONFLICT (tree_size) DO NOTHING",
                {"size": size, "root": root.hex(), "note": note,
                 "previous": previous.tree_size if previous else None,
                 "proof": " ".join(base64.b64encode(h).decode() for h in proof),
                 "made_at": now})
        return self.latest()


def _leaf(row: Row) -> bytes:
    try:
        leaf = bytes.fromhex(str(row["leaf_hash"]))
    except ValueError:
        leaf = b""
    if len(leaf) != HASH_SIZE:
        raise LogUnreadable(f"the log entry at position {row['position']} has no valid "
                            "leaf hash")
    return leaf


def _time(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _stored(row: Row) -> StoredCheckpoint:
    return StoredCheckpoint(
        tree_size=int(row["tree_size"]), root_hash=bytes.fromhex(row["root_hash"]),
        note=row["note"], previous_size=row["previous_size"],
        consistency_proof=[base64.b64decode(p) for p in row["consistency_proof"].split()],
        made_at=_time(row["made_at"]),
    )


class SQLiteCheckpointView(CheckpointView, SQLiteReadModel):
    pass


class PostgresCheckpointView(CheckpointView, PostgresReadModel):
    pass


@dataclass(frozen=True)
class DossierProof:
    """Where a dossier's entries stand against the latest checkpoint, and the proof bundle of
    those it covers (None without a checkpoint, a key, or any of its entries in it)."""

    checkpoint: StoredCheckpoint | None
    logged: int  # the dossier's entries in the log
    covered: int  # how many of them the checkpoint covers
    bundle: dict[str, Any] | None
    problem: str | None = None  # why no proof could be made from the stored log

    def bundle_json(self) -> str:
        return json.dumps(self.bundle, ensure_ascii=False, indent=2) + "\n"


@dataclass
class TransparencyLog:
    """What the app needs to publish the log: its origin, key and checkpoints."""

    origin: str
    checkpoints: CheckpointView
    signer: NoteSigner | None
    witnesses: list[WitnessEndpoint] = field(default_factory=list)
    post: Post = http_post

    @property
    def verifier_key(self) -> str | None:
        return self.signer.verifier.vkey if self.signer else None

    def make_checkpoint(self, now: datetime) -> StoredCheckpoint | None:
        """Sign the log if it grew, then ask each witness to cosign the new checkpoint."""
        if self.signer is None:
            return None
        made = self.checkpoints.make(origin=self.origin, signer=self.signer, now=now)
        if made is not None:
            self.ask_witnesses(made, now)
        return made

    def ask_witnesses(self, checkpoint: StoredCheckpoint, now: datetime) -> int:
        """How many witnesses cosigned ``checkpoint`` (each cosignature stored)."""
        body = checkpoint.note[: checkpoint.note.index("\n\n") + 1]
        cosigned = 0
        for witness in self.witnesses:
            answer = ask_witness(
                witness, note=checkpoint.note, body=body, size=checkpoint.tree_size,
                cosigned_size=self.checkpoints.cosigned_size(witness.name),
                proof_from=lambda old: self.checkpoints.consistency_proof(
                    old, checkpoint.tree_size), post=self.post)
            if answer is not None:
                self.checkpoints.add_cosignature(checkpoint.tree_size, answer.witness,
                                                 answer.signature, now)
                cosigned += 1
        return cosigned

    def published_note(self, checkpoint: StoredCheckpoint) -> str:
        """The checkpoint as published: the log's signature, then the witnesses' cosignatures
        (a verifier ignores the signature lines of keys it does not know)."""
        return checkpoint.note + "".join(
            c.signature for c in self.checkpoints.cosignatures(checkpoint.tree_size))

    def dossier_proof(self, dossier_id: UUID, dossier_code: str) -> DossierProof:
        """The dossier's entries in the latest checkpoint, with an inclusion proof each."""
        checkpoint = self.checkpoints.latest()
        try:
            entries = self.checkpoints.dossier_entries(dossier_id)
        except LogUnreadable as error:
            return DossierProof(checkpoint, 0, 0, None, str(error))
        if checkpoint is None:
            return DossierProof(None, len(entries), 0, None)
        covered = [e for e in entries if e.leaf_index < checkpoint.tree_size]
        if not covered or self.verifier_key is None:
            return DossierProof(checkpoint, len(entries), len(covered), None)
        try:
            proofs = self.checkpoints.inclusion_proofs([e.leaf_index for e in covered],
                                                       checkpoint.tree_size)
        except LogUnreadable as error:
            return DossierProof(checkpoint, len(entries), len(covered), None, str(error))
        bundle = make_bundle(
            origin=self.origin, dossier_id=str(dossier_id), dossier_code=dossier_code,
            entries=[BundleEntry(e.entry, e.leaf_index, proof)
                     for e, proof in zip(covered, proofs, strict=True)],
            checkpoint_note=checkpoint.note, verifier_key=self.verifier_key)
        return DossierProof(checkpoint, len(entries), len(covered), bundle)


def check_checkpoints(leaves: list[bytes], notes: list[tuple[str, str]],
                      verifier: NoteVerifier | None, origin: str) -> list[str]:
    """Each signed checkpoint (where it came from, its text) against the log's leaves.

    A checkpoint signed for n entries must have the root of the log's first n leaves: a
    deleted, changed, inserted or reordered entry — even one whose hashes were recomputed
    by whoever rewrote the tables — changes that root, and the signature cannot be redone
    without the key.
    """
    if not notes:
        return []
    if verifier is None:
        return ["no verifier key to check the checkpoints with (set HOSO_LOG_SIGNING_KEY "
                "or pass --key)"]
    tree = MerkleTree(leaves)
    problems = []
    for source, note in notes:
        try:
            checkpoint = open_checkpoint(note, verifier, origin=origin)
        except CheckpointError as error:
            problems.append(f"checkpoint {source}: not a valid signed checkpoint ({error})")
            continue
        if checkpoint.size > tree.size:
            problems.append(
                f"checkpoint {source}: signed for {checkpoint.size} entries, but the log now "
                f"holds {tree.size} — entries were removed")
        elif tree.root(checkpoint.size) != checkpoint.root:
            problems.append(
                f"checkpoint {source}: the log's first {checkpoint.size} entries no longer "
                "have the signed root — history was rewritten")
    return problems
