"""Check the promise in a receipt's QR code offline.

    python -m domain.check_promise 'SCANNED TEXT' RECEIPT-KEY.pem

SCANNED TEXT is what a QR reader gives for the receipt's (or an apology's) code — the link with
its fragment, or the fragment alone; ``-`` reads it from standard input. RECEIPT-KEY.pem is the
agency's key as published at ``/receipt-key``. Prints what was promised and exits 0 when the
signature holds, 1 when it does not, 2 when the text or the key cannot be read. Needs only
Python, ``cryptography`` and this package: no database, no network (domain/promise.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from domain.promise import BrokenPromise, read_signed

VALID, INVALID, UNREADABLE = 0, 1, 2

_LINES = (("code", "Mã hồ sơ / Dossier code"), ("proc", "Thủ tục / Procedure"),
          ("recv", "Tiếp nhận lúc / Received at"), ("due", "Hẹn trả / Due on"),
          ("docs", "Giấy tờ đã nộp / Documents handed in"), ("fee", "Lệ phí (đồng) / Fee (VND)"),
          ("ext", "Lần gia hạn / Extensions"))


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m domain.check_promise",
                                     description="Check the promise in a receipt's QR code.")
    parser.add_argument("scanned", help="the QR code's text, or - for standard input")
    parser.add_argument("key", type=Path, help="the agency's public key (PEM, /receipt-key)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    scanned = (sys.stdin.read() if args.scanned == "-" else args.scanned).strip()
    try:
        key = load_pem_public_key(args.key.read_bytes())
    except (OSError, ValueError) as error:
        print(f"UNREADABLE: the key: {error}", file=sys.stderr)
        return UNREADABLE
    if not isinstance(key, Ed25519PublicKey):
        print("UNREADABLE: the key is not an Ed25519 public key", file=sys.stderr)
        return UNREADABLE
    try:
        promise = read_signed(scanned, key)
    except BrokenPromise as error:
        print(f"KHÔNG HỢP LỆ / NOT VALID: {error}", file=out)
        return INVALID
    except ValueError as error:  # not JSON once verified: not a statement hoso makes
        print(f"UNREADABLE: {error}", file=sys.stderr)
        return UNREADABLE
    print("HỢP LỆ / VALID: signed with this key", file=out)
    for field, title in _LINES:
        value = promise.get(field)
        shown = ("; ".join(value) if isinstance(value, list)
                 else value if isinstance(value, str) else json.dumps(value))
        print(f"  {title}: {shown}", file=out)
    return VALID


if __name__ == "__main__":
    sys.exit(main())
