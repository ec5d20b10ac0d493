"""Checkpoints: signed tree heads of the transparency log, for outsiders to keep.

A hash chain alone proves nothing against whoever can rewrite the tables; a checkpoint signed
with a key kept outside the database, and copied by the inspectorate or the press, does. Each
new checkpoint is stored with the consistency proof from the one before, so anyone holding
the old one can check the log only grew.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from domain.transparency.checkpoint import (
    CheckpointError,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    sign_checkpoint,
)
from domain.transparency.merkle import MerkleTree
from projections.read_model import PostgresReadModel, ReadModel, Row, SQLiteReadModel

log = logging.getLogger(__name__)

SIGNING_KEY_ENV = "HOSO_LOG_SIGNING_KEY"


def signing_key_file(sqlite_path: Path | None) -> Path | None:
    return sqlite_path.parent / "log_signing_key" if sqlite_path is not None else None


def installation_signer(origin: str, sqlite_path: Path | None) -> NoteSigner | None:
    """The installation's Ed25519 key: ``HOSO_LOG_SIGNING_KEY``, or a key file beside the
    SQLite store (made on first use). None on PostgreSQL without the setting: a key made up
    on the spot would sign checkpoints nobody could check after a restart."""
    if skey := os.environ.get(SIGNING_KEY_ENV):
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


class CheckpointView(ReadModel):
    """The log's leaf hashes (read) and its checkpoints (appended)."""

    tracking_name = "log_checkpoints"
    tables = ()

    def reset(self, application_name: str) -> None:
        raise RuntimeError("checkpoints are append-only and are never rebuilt")

    def leaf_hashes(self) -> list[bytes]:
        rows = self._select("SELECT leaf_hash FROM {p}log_entry ORDER BY position")
        return [bytes.fromhex(r["leaf_hash"]) for r in rows]

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._select("SELECT * FROM {p}log_checkpoint ORDER BY tree_size")
        return [_stored(r) for r in rows]

    def latest(self) -> StoredCheckpoint | None:
        rows = self._select(
            "SELECT * FROM {p}log_checkpoint ORDER BY tree_size DESC LIMIT 1")
        return _stored(rows[0]) if rows else None

    def make(self, *, origin: str, signer: NoteSigner, now: datetime) -> StoredCheckpoint | None:
        """Sign the log as it stands, if it grew since the last checkpoint."""
        tree = MerkleTree(self.leaf_hashes())
        previous = self.latest()
        if tree.size == 0 or (previous and previous.tree_size >= tree.size):
            return None
        root = tree.root()
        proof = tree.consistency_proof(previous.tree_size) if previous else []
        note = sign_checkpoint(origin, tree.size, root, signer)
        with self._transaction(commit=True) as cursor:
            self._execute(
                cursor,
                "INSERT INTO {p}log_checkpoint (tree_size, root_hash, note, previous_size, "
                "consistency_proof, made_at) VALUES (%(size)s, %(root)s, %(note)s, "
                "%(previous)s, %(proof)s, %(made_at)s) ON CONFLICT (tree_size) DO NOTHING",
                {"size": tree.size, "root": root.hex(), "note": note,
                 "previous": previous.tree_size if previous else None,
                 "proof": " ".join(base64.b64encode(h).decode() for h in proof),
                 "made_at": now})
        return self.latest()


def _stored(row: Row) -> StoredCheckpoint:
    made_at = row["made_at"]
    return StoredCheckpoint(
        tree_size=int(row["tree_size"]), root_hash=bytes.fromhex(row["root_hash"]),
        note=row["note"], previous_size=row["previous_size"],
        consistency_proof=[base64.b64decode(p) for p in row["consistency_proof"].split()],
        made_at=made_at if isinstance(made_at, datetime) else datetime.fromisoformat(made_at),
    )


class SQLiteCheckpointView(CheckpointView, SQLiteReadModel):
    pass


class PostgresCheckpointView(CheckpointView, PostgresReadModel):
    pass


@dataclass
class TransparencyLog:
    """What the app needs to publish the log: its origin, key and checkpoints."""

    origin: str
    checkpoints: CheckpointView
    signer: NoteSigner | None

    @property
    def verifier_key(self) -> str | None:
        return self.signer.verifier.vkey if self.signer else None

    def make_checkpoint(self, now: datetime) -> StoredCheckpoint | None:
        if self.signer is None:
            return None
        return self.checkpoints.make(origin=self.origin, signer=self.signer, now=now)


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
