"""C2SP signed notes and checkpoints: published vectors, a pinned golden text, tampering."""

from __future__ import annotations

import base64

import pytest

from domain.transparency.checkpoint import (
    BadSignature,
    Checkpoint,
    CheckpointError,
    MalformedNote,
    NoteSigner,
    NoteVerifier,
    UnverifiedNote,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)

# The example of golang.org/x/mod/sumdb/note's documentation: Ed25519 is deterministic, so
# signing the same text with the same key must give this note byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_NOTE = GO_TEXT + ("\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFY"
                     "C2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")

# The example of c2sp.org/signed-note, "Verifier keys".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = ("This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6Tf"
             "Xppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")

ORIGIN = "hoso.example/log"
SIGNER = NoteSigner(ORIGIN, bytes(range(32)))
ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
# Pins hoso's own output: a fixed seed, size and root must always give this exact text.
GOLDEN_VKEY = "hoso.example/log+7c8e68f6+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
GOLDEN_CHECKPOINT = (
    "hoso.example/log\n"
    "8\n"
    "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
    "\n"
    "— hoso.example/log fI5o9upKM3npl+MRtadUI2uJogDi5QRQtnxQds/m0lWL9dLuzjE+wxSYznS6ka5wxA/iZ7"
    "UoJ1ROcx1BsAJCrh0sEgw=\n"
)


def test_the_go_reference_key_and_note_are_reproduced_byte_for_byte() -> None:
    signer = NoteSigner.parse(GO_SKEY)
    assert signer.skey == GO_SKEY
    assert signer.verifier.vkey == GO_VKEY
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    assert open_note(GO_NOTE, [NoteVerifier.parse(GO_VKEY)]) == GO_TEXT


def test_the_spec_example_note_opens_with_the_spec_example_key() -> None:
    verifier = NoteVerifier.parse(SPEC_VKEY)
    assert verifier.key_id.hex() == "530d903a"
    assert open_note(SPEC_NOTE, [verifier]) == "This is an example message.\n"


def test_the_checkpoint_format_is_pinned() -> None:
    assert SIGNER.verifier.vkey == GOLDEN_VKEY
    assert sign_checkpoint(ORIGIN, 8, ROOT_8, SIGNER) == GOLDEN_CHECKPOINT
    assert open_checkpoint(GOLDEN_CHECKPOINT, GOLDEN_VKEY, origin=ORIGIN) == Checkpoint(
        ORIGIN, 8, ROOT_8
    )


def test_sign_and_open_round_trip_with_a_fresh_key() -> None:
    signer = NoteSigner.generate("example.org/other-log")
    for size in (0, 1, 2**64 - 1):
        note = sign_checkpoint("example.org/other-log", size, ROOT_8, signer, ["ext line"])
        opened = open_checkpoint(note, signer.verifier)
        assert opened == Checkpoint("example.org/other-log", size, ROOT_8, ("ext line",))
        assert NoteSigner.parse(signer.skey) == signer
        assert NoteVerifier.parse(signer.verifier.vkey) == signer.verifier


@pytest.mark.parametrize("tampered", [
    GOLDEN_CHECKPOINT.replace("\n8\n", "\n9\n"),
    GOLDEN_CHECKPOINT.replace("XcnaeacG", "XcnaeacH"),
    GOLDEN_CHECKPOINT.replace("hoso.example/log\n8", "hoso.example/lag\n8"),
    GOLDEN_CHECKPOINT.replace("fI5o9upK", "fI5o9upL"),
    GOLDEN_CHECKPOINT.replace("Qyg=\n\n", "Qyg=\nextension\n\n"),
])
def test_tampered_checkpoints_are_rejected(tampered: str) -> None:
    assert tampered != GOLDEN_CHECKPOINT
    with pytest.raises(BadSignature):
        open_checkpoint(tampered, GOLDEN_VKEY)


def test_a_checkpoint_from_another_key_is_not_trusted() -> None:
    stranger = NoteSigner(ORIGIN, bytes(32))
    with pytest.raises(UnverifiedNote):
        open_checkpoint(sign_checkpoint(ORIGIN, 8, ROOT_8, stranger), GOLDEN_VKEY)
    other_name = NoteSigner("hoso.example/other", bytes(range(32)))
    with pytest.raises(UnverifiedNote):
        open_checkpoint(sign_checkpoint(ORIGIN, 8, ROOT_8, other_name), GOLDEN_VKEY)


def test_unknown_cosignatures_are_ignored_but_known_bad_ones_reject_the_note() -> None:
    witness = NoteSigner("witness.example/w1", bytes([7]) * 32)
    body = Checkpoint(ORIGIN, 8, ROOT_8).body
    cosigned = sign_note(body, [witness, SIGNER])
    assert open_checkpoint(cosigned, GOLDEN_VKEY).size == 8
    key_id = base64.b64encode(SIGNER.verifier.key_id + bytes(64)).decode()
    forged = cosigned + f"— {ORIGIN} {key_id}\n"
    with pytest.raises(BadSignature):
        open_checkpoint(forged, GOLDEN_VKEY)


def test_a_checkpoint_of_another_origin_is_refused_when_an_origin_is_expected() -> None:
    note = sign_checkpoint("hoso.example/staging", 8, ROOT_8, SIGNER)
    assert open_checkpoint(note, GOLDEN_VKEY).origin == "hoso.example/staging"
    with pytest.raises(MalformedNote):
        open_checkpoint(note, GOLDEN_VKEY, origin=ORIGIN)


SIGNATURE_LINE = GOLDEN_CHECKPOINT.split("\n\n")[1]


@pytest.mark.parametrize("malformed", [
    "",
    GOLDEN_CHECKPOINT[:-1],  # the last line does not end in a newline
    GOLDEN_CHECKPOINT.replace("\n\n", "\n"),  # no blank line before the signatures
    GOLDEN_CHECKPOINT.split("\n\n")[0] + "\n\n",  # no signature at all
    GOLDEN_CHECKPOINT.replace("— ", "- "),
    GOLDEN_CHECKPOINT.replace("— hoso.example/log ", "— hoso.example/log  "),
    GOLDEN_CHECKPOINT.replace("Qyg=\n", "Qyg=\t\n"),
    GOLDEN_CHECKPOINT.replace("sEgw=", "sEgw"),  # not canonical base64
    GOLDEN_CHECKPOINT + SIGNATURE_LINE * 100,
    GOLDEN_CHECKPOINT + "\n",
    GOLDEN_CHECKPOINT.replace("\ud800", "") + "\ud800\n",
])
def test_malformed_notes_are_rejected(malformed: str) -> None:
    with pytest.raises(CheckpointError):
        open_checkpoint(malformed, GOLDEN_VKEY)


@pytest.mark.parametrize("body", [
    "hoso.example/log\n8\n",
    "hoso.example/log\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
    "hoso.example/log\n+8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
    "hoso.example/log\n٨\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
    "hoso.example/log\n18446744073709551616\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
    "hoso.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQ=\n",
    "hoso.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\nafter a blank\n",
    "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
])
def test_malformed_checkpoint_bodies_are_rejected_even_when_signed(body: str) -> None:
    # Signed by the trusted key, so only the body's own format can be at fault.
    note = body + "\n" + SIGNER.signature_line(body)
    with pytest.raises(CheckpointError):
        open_checkpoint(note, GOLDEN_VKEY)


@pytest.mark.parametrize("vkey", [
    "",
    "hoso.example/log+7c8e68f6",
    "hoso.example/log+7c8e68f7+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
    "hoso.example/log+7C8E68F6+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
    "hoso.example/log+7c8e68f6+AgOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
    "hoso example+7c8e68f6+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
])
def test_malformed_verifier_keys_are_rejected(vkey: str) -> None:
    with pytest.raises(MalformedNote):
        NoteVerifier.parse(vkey)


def test_signing_refuses_what_could_not_be_opened() -> None:
    with pytest.raises(MalformedNote):
        sign_checkpoint("", 8, ROOT_8, SIGNER)
    with pytest.raises(MalformedNote):
        sign_checkpoint(ORIGIN, -1, ROOT_8, SIGNER)
    with pytest.raises(MalformedNote):
        sign_checkpoint(ORIGIN, 8, ROOT_8[:31], SIGNER)
    with pytest.raises(MalformedNote):
        sign_checkpoint(ORIGIN, 8, ROOT_8, SIGNER, [""])
    with pytest.raises(MalformedNote):
        NoteSigner("has space", bytes(32))
    with pytest.raises(MalformedNote):
        sign_note("no final newline", [SIGNER])
    assert issubclass(CheckpointError, ValueError)
