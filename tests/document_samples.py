"""Files for the upload tests, made here byte by byte: good ones, and at least thirty kinds
of hostile ones (each with the words its refusal must contain)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from domain.sample_pdf import simple_pdf


def pdf(pages: int = 1, **options: Any) -> bytes:
    return simple_pdf(pages, **options)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int = 4, height: int = 3, *, idat: bytes | None = None,
        extra_chunks: bytes = b"", trailer: bytes = b"") -> bytes:
    data = zlib.compress((b"\0" + bytes(3 * width)) * height) if idat is None else idat
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + extra_chunks
            + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"") + trailer)


def jpeg(width: int = 16, height: int = 16, *, scan: bytes = b"\x12\x34" * 50,
         end: bytes = b"\xff\xd9") -> bytes:
    """Enough of a baseline JPEG for the structure check (segments, frame, scan, end)."""
    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body
    app0 = segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    dqt = segment(0xDB, b"\0" + bytes(range(1, 65)))
    sof = segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\0")
    dht = segment(0xC4, b"\0" + bytes([0, 1] + [0] * 14) + b"\0")
    sos = segment(0xDA, b"\x01\x01\0\0\x3f\0")
    return b"\xff\xd8" + app0 + dqt + sof + dht + sos + scan + end


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.txt", b"\0" * (20 * 1024 * 1024))
    return buffer.getvalue()


@dataclass(frozen=True)
class Hostile:
    kind: str
    file_name: str
    content: bytes
    says: str  # words of the English refusal
    content_type: str | None = None


def _encrypted_pdf() -> bytes:
    body = pdf()
    # An encryption dictionary as a real password-protected file carries it.
    head, _, _ = body.partition(b"xref\n")
    encrypt = (b"5 0 obj\n<< /Filter /Standard /V 2 /R 3 /Length 128 /P -44 "
               b"/O <" + b"00" * 32 + b"> /U <" + b"00" * 32 + b"> >>\nendobj\n")
    return _with_xref(head + encrypt, 5, trailer_extra="/Encrypt 5 0 R /ID [<01> <01>] ")


def _with_xref(objects_part: bytes, count: int, trailer_extra: str = "") -> bytes:
    offsets = []
    for number in range(1, count + 1):
        offsets.append(objects_part.index(b"\n%d 0 obj\n" % number) + 1)
    out = bytearray(objects_part)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (count + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (f"trailer\n<< /Size {count + 1} /Root 1 0 R {trailer_extra}>>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def hostile_files() -> list[Hostile]:
    good_pdf, good_png, good_jpeg = pdf(), png(), jpeg()
    bomb_idat = zlib.compress(b"\0" * (50 * 1024 * 1024), 9)
    cut = "cut short"
    return [
        Hostile("exe named pdf", "to-khai.pdf", b"MZ\x90\0" + bytes(200), "not a PDF, JPEG or PNG"),
        Hostile("html named png", "anh.png", b"<html><script>alert(1)</script></html>",
                "not a PDF, JPEG or PNG"),
        Hostile("svg with script", "anh.svg", b"<svg onload=alert(1)></svg>",
                "not a PDF, JPEG or PNG"),
        Hostile("zip bomb named pdf", "ho-so.pdf", zip_bomb(), "not a PDF, JPEG or PNG"),
        Hostile("docx", "don.pdf", b"PK\x03\x04" + bytes(100), "not a PDF, JPEG or PNG"),
        Hostile("gif", "anh.png", b"GIF89a" + bytes(50), "not a PDF, JPEG or PNG"),
        Hostile("png named pdf", "to-khai.pdf", good_png, "name or type says otherwise"),
        Hostile("pdf named jpg", "anh.jpg", good_pdf, "name or type says otherwise"),
        Hostile("no extension", "tokhai", good_pdf, "name or type says otherwise"),
        Hostile("declared type lies", "to-khai.pdf", good_pdf, "name or type says otherwise",
                content_type="image/png"),
        Hostile("zero bytes", "rong.pdf", b"", "empty"),
        Hostile("25 MB", "lon.pdf", good_pdf[:-6] + bytes(25 * 1024 * 1024) + b"%%EOF\n",
                "larger than 20 MB"),
        Hostile("path traversal", "../../etc/passwd.pdf", good_pdf, "holds a path"),
        Hostile("windows path", "..\\..\\boot.pdf", good_pdf, "holds a path"),
        Hostile("absolute path", "/etc/shadow.pdf", good_pdf, "holds a path"),
        Hostile("nul in name", "a\x00.pdf", good_pdf, "holds a path"),
        Hostile("percent-encoded traversal", "..%2f..%2fetc%2fpasswd.pdf", good_pdf,
                "holds a path"),
        Hostile("hidden file", ".htaccess.pdf", good_pdf, "holds a path"),
        Hostile("long name", "a" * 250 + ".pdf", good_pdf, "longer than 200"),
        Hostile("truncated pdf", "cat.pdf", good_pdf[: len(good_pdf) // 2], "%%EOF"),
        Hostile("pdf garbage body", "hong.pdf", b"%PDF-1.7\n" + bytes(5000) + b"\n%%EOF\n",
                "PDF structure cannot be read"),
        Hostile("pdf without pages", "trang.pdf",
                pdf().replace(b"/Count 1", b"/Count 0"), "invalid page count"),
        Hostile("encrypted pdf", "khoa.pdf", _encrypted_pdf(), "encrypted"),
        Hostile("pdf with javascript", "js.pdf",
                pdf(catalog_extra="/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "),
                "scripts"),
        Hostile("pdf with embedded file", "dinh-kem.pdf",
                pdf(catalog_extra="/Names << /EmbeddedFiles << /Names [] >> >> "), "embedded"),
        Hostile("pdf with auto action", "aa.pdf",
                pdf(catalog_extra="/AA << /WC << /S /Launch /F (cmd.exe) >> >> "), "scripts"),
        Hostile("pdf zip polyglot", "polyglot.pdf", good_pdf + zip_bomb(), "ZIP archive"),
        Hostile("jpeg html polyglot", "anh.jpg",
                jpeg(scan=b"\x12<script>alert(1)</script>\x34"), "web page code"),
        Hostile("png html polyglot", "anh.png",
                png(extra_chunks=_png_chunk(b"tEXt", b"c\0<html><body>x</body></html>")),
                "web page code"),
        Hostile("truncated png", "cat.png", good_png[:-20], cut),
        Hostile("png bad crc", "crc.png", good_png[:30] + bytes([good_png[30] ^ 1])
                + good_png[31:], "checksum"),
        Hostile("png huge dimensions", "to.png", png(100_000, 100_000, idat=zlib.compress(b"")),
                "too large"),
        Hostile("png pixel bomb", "bom.png", png(9000, 9000, idat=zlib.compress(b"\0")),
                "too large"),
        Hostile("png decompression bomb", "bom2.png", png(4, 3, idat=bomb_idat),
                "decompression bomb"),
        Hostile("png metadata bomb", "bom3.png",
                png(extra_chunks=_png_chunk(
                    b"zTXt", b"k\0\0" + zlib.compress(b"\0" * (20 * 1024 * 1024), 9))),
                "decompression bomb"),
        Hostile("png data after end", "duoi.png", good_png + b"trailing", "after the picture"),
        Hostile("png zero width", "rong.png", png(0, 3), "zero picture size"),
        Hostile("truncated jpeg", "cat.jpg", good_jpeg[:-60], cut),
        Hostile("jpeg without end", "cat2.jpg", jpeg(end=b""), cut),
        Hostile("jpeg huge dimensions", "to.jpg", jpeg(65_000, 65_000), "too large"),
        Hostile("jpeg zero height", "rong.jpg", jpeg(16, 0), "zero picture size"),
        Hostile("jpeg broken segments", "hong.jpg", b"\xff\xd8\xff\xe0\x00\x01" + bytes(100),
                "wrong segment length"),
    ]
