"""Issue 17.3: a witness (c2sp.org/tlog-witness) cosigns checkpoints that extend the one it
holds, refuses a forked log, and the log publishes the cosignatures it gets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.transparency.checkpoint import NoteSigner, open_checkpoint, sign_checkpoint
from domain.transparency.merkle import MerkleTree
from domain.transparency.witness import (
    CosignerKey,
    FileWitnessState,
    Witness,
    add_checkpoint_request,
)
from projections.runners import ReadModels
from projections.store import Store
from projections.witnessing import WitnessEndpoint, configured_witnesses
from tests.helpers import receive
from tests.test_checkpoints_log import SIGNER, checkpoint, signed  # noqa: F401 (fixture)
from tests.test_log_tiles import _rewrite_leaf
from web.app import create_app
from web.witness import create_witness_app

ORIGIN = "hoso.example/log"
LOG_KEY = NoteSigner.generate(ORIGIN)
WITNESS_KEY = CosignerKey.generate("witness.example/w1")
NOW = 1_796_000_000


def _tree(leaves: int, fork_at: int | None = None) -> MerkleTree:
    return MerkleTree(hashlib.sha256(b"leaf %d%s" % (i, b" forged" if i == fork_at else b""))
                      .digest() for i in range(leaves))


def _note(tree: MerkleTree, size: int) -> str:
    return sign_checkpoint(ORIGIN, size, tree.root(size), LOG_KEY)


def _witness(tmp_path: Path) -> Witness:
    return Witness(WITNESS_KEY, {ORIGIN: LOG_KEY.verifier}, FileWitnessState(tmp_path / "w.json"))


def test_the_witness_cosigns_what_extends_its_checkpoint_and_refuses_a_fork(
        tmp_path: Path) -> None:
    witness, tree = _witness(tmp_path), _tree(40)
    first = witness.add_checkpoint(add_checkpoint_request(0, [], _note(tree, 10)), NOW)
    assert first.status == 200
    body = _note(tree, 10).split("\n\n")[0] + "\n"
    assert WITNESS_KEY.verifier.timestamp_of(first.body.strip(), body) == NOW
    grown = witness.add_checkpoint(
        add_checkpoint_request(10, tree.consistency_proof(10, 25), _note(tree, 25)), NOW + 60)
    assert grown.status == 200

    # A fork rewrote leaf 3 and grew: the proof it can make does not lead from 25.
    fork = _tree(40, fork_at=3)
    refused = witness.add_checkpoint(
        add_checkpoint_request(25, fork.consistency_proof(25, 40), _note(fork, 40)), NOW)
    assert refused.status == 422
    # The same fork presented as a log the witness never saw (old size 0): 409, and the
    # size the witness holds, as the spec says.
    stale = witness.add_checkpoint(add_checkpoint_request(0, [], _note(fork, 40)), NOW)
    assert (stale.status, stale.body, stale.content_type) == (409, "25\n", "text/x.tlog.size")
    # A checkpoint of the same size with another root: 409 too.
    same_size = witness.add_checkpoint(add_checkpoint_request(25, [], _note(fork, 25)), NOW)
    assert same_size.status == 409
    # It still holds the honest checkpoint, on disk: a restarted witness refuses the fork.
    restarted = _witness(tmp_path)
    assert restarted.add_checkpoint(
        add_checkpoint_request(25, fork.consistency_proof(25, 40), _note(fork, 40)),
        NOW).status == 422
    assert restarted.add_checkpoint(
        add_checkpoint_request(25, tree.consistency_proof(25, 40), _note(tree, 40)),
        NOW).status == 200

    other_key = NoteSigner.generate(ORIGIN)
    forged_key = sign_checkpoint(ORIGIN, 41, tree.root(40), other_key)
    assert witness.add_checkpoint(add_checkpoint_request(40, [], forged_key), NOW).status == 403
    unknown = sign_checkpoint("other.example/log", 1, tree.root(1), other_key)
    assert witness.add_checkpoint(add_checkpoint_request(0, [], unknown), NOW).status == 404
    assert witness.add_checkpoint("old 01\n\n" + _note(tree, 40), NOW).status == 400


def test_the_log_publishes_its_witnesses_cosignatures_and_a_fork_gets_none(
        signed: None, store: Store, app: HosoApplication, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    witness = Witness(WITNESS_KEY, {"hoso.local/log": SIGNER.verifier},
                      FileWitnessState(tmp_path / "witness.json"))
    witness_http = TestClient(create_witness_app(witness, clock=lambda: NOW))

    def post(url: str, body: str) -> tuple[int, str]:
        assert url == "http://witness.test/add-checkpoint"
        response = witness_http.post("/add-checkpoint", content=body.encode())
        return response.status_code, response.text

    [endpoint] = configured_witnesses(f"http://witness.test/ {WITNESS_KEY.verifier.vkey}")
    assert endpoint == WitnessEndpoint("http://witness.test", WITNESS_KEY.verifier)

    def sign_now() -> str:
        models = ReadModels(store, app)
        try:
            models.catch_up()
            log = models.transparency()
            log.witnesses, log.post = [endpoint], post
            made = log.make_checkpoint(app.clock())
            assert made is not None
            return log.published_note(made)
        finally:
            models.close()

    receive(app)
    first = sign_now()
    receive(app)
    second = sign_now()  # from the first, with a consistency proof
    assert "— witness.example/w1 " in second
    with TestClient(create_app(store, app, follow=False)) as web:
        assert web.get("/log/checkpoint").text == second
        page = web.get("/log").text
        assert "Sổ được chứng kiến độc lập" in page and "witness.example/w1" in page
    size = open_checkpoint(first, SIGNER.verifier).size
    body = first.split("\n\n")[0] + "\n"
    [line] = [x for x in first.splitlines() if x.startswith("— witness.example/w1 ")]
    assert WITNESS_KEY.verifier.timestamp_of(line, body) == NOW and size > 0

    # An insider rewrites an early entry; the log grows and is signed again with its key.
    _rewrite_leaf(store, app, 1)
    receive(app)
    forked = sign_now()
    assert "witness.example" not in forked  # refused: no cosignature to publish
    with TestClient(create_app(store, app, follow=False)) as web:
        assert "Sổ được chứng kiến độc lập" not in web.get("/log").text
