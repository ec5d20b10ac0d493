"""Check a dossier's proof bundle offline.

    python -m domain.transparency.check_bundle BUNDLE.json [--key VKEY_OR_FILE]

Exit status 0 when the bundle holds, 1 on any failure, 2 when the bundle or the key cannot be
read. Needs only Python, ``cryptography`` and this package: no database, no network. What it
checks and the bundle's format: docs/transparency-log.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from domain.transparency.bundle import BundleCheck, check_bundle

VALID, INVALID, UNREADABLE = 0, 1, 2


class _Unreadable(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m domain.transparency.check_bundle",
        description="Check a hoso proof bundle offline: each entry's leaf hash, the dossier's "
        "chain, each inclusion proof, and the checkpoint's signature.")
    parser.add_argument("bundle", help="the proof bundle (JSON) downloaded from the audit page")
    parser.add_argument("--key", help="the verifier key you trust (its text, or a file holding "
                        "it), as published at /log/key; without it the bundle's own key is "
                        "used, which proves only that the bundle agrees with itself")
    return parser


def _read_bundle(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _Unreadable(f"cannot read {path}: {error}") from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise _Unreadable(f"{path} is not JSON: {error}") from error
    except RecursionError as error:
        raise _Unreadable(f"{path} is not JSON a checker can read (nested too deeply)") from error


def _read_key(value: str) -> str:
    """A verifier key given as itself, or as a file holding it (as ``hoso verify --key``)."""
    path = Path(value)
    try:
        return path.read_text(encoding="utf-8").strip() if path.is_file() else value.strip()
    except (OSError, UnicodeDecodeError) as error:
        raise _Unreadable(f"cannot read the key file {value}: {error}") from error


def report(check: BundleCheck, out: TextIO) -> None:
    versions = (f"versions {check.first_version}–{check.last_version}"
                if check.first_version is not None else "no readable version")
    root = base64.b64encode(check.root).decode() if check.root is not None else "unknown"
    print(f"dossier:    {check.dossier_code or '?'} ({check.dossier_id or '?'})", file=out)
    print(f"log:        {check.origin or '?'}", file=out)
    print(f"checkpoint: tree size {check.tree_size if check.tree_size is not None else '?'}, "
          f"root {root}", file=out)
    whose = "the bundle's own key" if check.key_from_bundle else "the trusted key given"
    print(f"key:        {check.key or '?'} ({whose})", file=out)
    print(f"entries:    {check.entries} ({versions}): leaf hashes, chain links and inclusion "
          "proofs checked", file=out)
    for warning in check.warnings:
        print(f"WARNING: {warning}", file=out)
    for failure in check.failures:
        print(f"FAILED: {failure}", file=out)
    if check.ok:
        print(f"OK: every entry is in the checkpoint signed by {whose}", file=out)
    else:
        print(f"NOT VALID: {len(check.failures)} problem(s)", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help, or arguments argparse could not read
        return int(stop.code or 0)
    try:
        bundle = _read_bundle(args.bundle)
        key = _read_key(args.key) if args.key is not None else None
    except _Unreadable as error:
        print(f"UNREADABLE: {error}", file=sys.stderr)
        return UNREADABLE
    check = check_bundle(bundle, trusted_key=key)
    report(check, out)
    return VALID if check.ok else INVALID


if __name__ == "__main__":
    sys.exit(main())
