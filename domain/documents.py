"""Files attached to a dossier: the checks every upload passes, and where the bytes are kept.

A file is accepted by what its bytes are, never by its name: a PDF, a JPEG or a PNG, whole,
not encrypted, not a decompression bomb, not two formats at once, within the size and pixel
limits. Events record what was attached (type from the procedure's list, file name, media
type, size, SHA-256); the bytes go to a ``DocumentStore``, content-addressed and written once.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO, Protocol

from domain.errors import DomainError, NotFound
from domain.organisation import MediaType

# A scanned A4 document of a few dozen pages, or a phone photo, is far below this.
MAX_FILE_BYTES = 20 * 1024 * 1024
# Files one form or one call may carry.
MAX_FILES = 20
# A 600 dpi A3 scan is about 70 million pixels; a picture claiming more is a bomb or a mistake.
MAX_IMAGE_PIXELS = 80_000_000
MAX_IMAGE_SIDE = 20_000
MAX_PDF_PAGES = 2_000
MAX_FILE_NAME = 200
_CHUNK = 1024 * 1024

_EXTENSIONS: dict[str, MediaType] = {
    ".pdf": MediaType.PDF, ".jpg": MediaType.JPEG, ".jpeg": MediaType.JPEG,
    ".png": MediaType.PNG,
}
_LABELS = {MediaType.PDF: "PDF", MediaType.JPEG: "JPEG", MediaType.PNG: "PNG"}


class AttachmentPurpose(StrEnum):
    RECEIVED = "received"  # scanned at the counter with the receipt
    ONLINE = "online"  # uploaded by the citizen with an online submission
    SUPPLEMENT = "supplement"  # handed in later, when documents were missing
    RESULT = "result"  # the signed result, delivered electronically


class UploadRefused(DomainError):
    """A file refused by its content: nothing of it is kept."""

    def __init__(self, file_name: str, vi: str, en: str) -> None:
        shown = file_name[:80] if file_name else "?"
        super().__init__(f"Tệp “{shown}” không được nhận: {vi}",
                         f"The file “{shown}” was refused: {en}")


@dataclass(frozen=True)
class FileFacts:
    """What an event records about a file: never its bytes."""

    file_name: str
    media_type: MediaType
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"file_name": self.file_name, "media_type": self.media_type.value,
                "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed every check, with the (seekable) stream holding its bytes."""

    facts: FileFacts
    source: BinaryIO


def clean_file_name(name: str) -> str:
    """The name as the citizen or clerk gave it, refused when it tries to be a path."""
    text = unicodedata.normalize("NFC", (name or "").strip())
    if not text:
        raise UploadRefused(name, "tệp không có tên.", "the file has no name.")
    if len(text) > MAX_FILE_NAME:
        raise UploadRefused(text, f"tên tệp dài quá {MAX_FILE_NAME} ký tự.",
                            f"the file name is longer than {MAX_FILE_NAME} characters.")
    if ("/" in text or "\\" in text or text.startswith(".") or ".." in text
            or re.search(r"[\x00-\x1f\x7f:*?\"<>|]|%[0-9A-Fa-f]{2}", text)):
        raise UploadRefused(text, "tên tệp chứa đường dẫn hoặc ký tự không được phép.",
                            "the file name holds a path or characters that are not allowed.")
    return text


def check_upload(source: BinaryIO, file_name: str, declared_type: str | None = None,
                 accepted: tuple[MediaType, ...] = tuple(MediaType)) -> CheckedFile:
    """Check one upload by its bytes; raise ``UploadRefused`` with the reason, in words.

    ``source`` must be seekable (a spooled temporary file): it is read in chunks, never whole.
    """
    name = clean_file_name(file_name)
    source.seek(0, 2)
    size = source.tell()
    source.seek(0)
    if size == 0:
        raise UploadRefused(name, "tệp rỗng (0 byte).", "the file is empty (0 bytes).")
    if size > MAX_FILE_BYTES:
        raise UploadRefused(name, f"tệp lớn hơn {MAX_FILE_BYTES // (1024 * 1024)} MB.",
                            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    head = source.read(16)
    media_type = _sniff(head)
    if media_type is None:
        raise UploadRefused(name, "nội dung không phải PDF, JPEG hay PNG.",
                            "its content is not a PDF, JPEG or PNG.")
    extension = _extension(name)
    if extension is None or extension is not media_type or (
            declared_type and declared_type.split(";")[0].strip().lower()
            not in ("", "application/octet-stream", media_type.value)):
        raise UploadRefused(
            name, f"nội dung là {_LABELS[media_type]} nhưng tên hoặc loại tệp nói khác.",
            f"its content is a {_LABELS[media_type]} but its name or type says otherwise.")
    if media_type not in accepted:
        allowed = ", ".join(_LABELS[m] for m in accepted)
        raise UploadRefused(name, f"giấy tờ này chỉ nhận {allowed}.",
                            f"this document is accepted as {allowed} only.")
    digest = hashlib.sha256()
    source.seek(0)
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
    _check_not_polyglot(source, size, name)
    source.seek(0)
    if media_type is MediaType.PNG:
        _check_png(source, name)
    elif media_type is MediaType.JPEG:
        _check_jpeg(source, size, name)
    else:
        _check_pdf(source, size, name)
    source.seek(0)
    return CheckedFile(FileFacts(name, media_type, size, digest.hexdigest()), source)


def _sniff(head: bytes) -> MediaType | None:
    if head.startswith(b"%PDF-"):
        return MediaType.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    return None


def _extension(name: str) -> MediaType | None:
    lowered = name.lower()
    return next((t for ext, t in _EXTENSIONS.items() if lowered.endswith(ext)), None)


# Things a scan never holds: an archive's directory (a ZIP read from its end, so a file can
# be both), or markup a browser might run if the file were ever served as a page.
_TAIL = 65_557  # the largest ZIP end-of-directory record, comment included
_MARKUP = re.compile(rb"<\s*(?:script|html|body|iframe|svg)\b|<\?php", re.IGNORECASE)


def _check_not_polyglot(source: BinaryIO, size: int, name: str) -> None:
    source.seek(max(0, size - _TAIL))
    if b"PK\x05\x06" in source.read(_TAIL):
        raise UploadRefused(name, "tệp đồng thời là một tệp nén ZIP.",
                            "the file is also a ZIP archive.")
    source.seek(0)
    previous = b""
    while chunk := source.read(_CHUNK):
        if _MARKUP.search(previous[-16:] + chunk):
            raise UploadRefused(name, "tệp chứa mã trang web (HTML hoặc script).",
                                "the file holds web page code (HTML or script).")
        previous = chunk


def _malformed(name: str, what_vi: str, what_en: str) -> UploadRefused:
    return UploadRefused(name, f"tệp bị hỏng hoặc không đầy đủ ({what_vi}).",
                         f"the file is damaged or incomplete ({what_en}).")


def _too_large_image(name: str, width: int, height: int) -> UploadRefused:
    return UploadRefused(
        name, f"ảnh quá lớn ({width} × {height} điểm ảnh).",
        f"the picture is too large ({width} × {height} pixels).")


def _check_dimensions(name: str, width: int, height: int) -> None:
    if width == 0 or height == 0:
        raise _malformed(name, "kích thước ảnh bằng 0", "zero picture size")
    if (width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE
            or width * height > MAX_IMAGE_PIXELS):
        raise _too_large_image(name, width, height)


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Metadata chunks that are compressed: each is inflated with a bound, like the image data.
_PNG_COMPRESSED_TEXT = {b"zTXt", b"iCCP", b"iTXt"}
_PNG_TEXT_LIMIT = 1024 * 1024


def _check_png(source: BinaryIO, name: str) -> None:
    """Walk every chunk (CRC checked), inflate the image data with a bound of what its
    declared size needs: a truncated file, a bomb or trailing bytes are refused."""
    source.seek(8)
    expected = 0
    inflater: Any = None
    inflated = 0
    seen_header = False
    while True:
        header = source.read(8)
        if len(header) < 8:
            raise _malformed(name, "thiếu phần kết thúc IEND", "no IEND end chunk")
        length, kind = struct.unpack(">I4s", header)
        if length > MAX_FILE_BYTES:
            raise _malformed(name, "độ dài khối sai", "wrong chunk length")
        crc = zlib.crc32(kind)
        remaining = length
        first = b""
        while remaining:
            part = source.read(min(remaining, _CHUNK))
            if not part:
                raise _malformed(name, "tệp bị cắt ngắn", "the file is cut short")
            crc = zlib.crc32(part, crc)
            remaining -= len(part)
            if kind == b"IHDR" and not first:
                first = part
            if kind == b"IDAT":
                if inflater is None:
                    raise _malformed(name, "dữ liệu ảnh trước phần đầu", "data before header")
                try:
                    out = inflater.decompress(part, expected - inflated + 1)
                except zlib.error:
                    raise _malformed(name, "dữ liệu ảnh nén sai", "bad compressed data") \
                        from None
                inflated += len(out)
                if inflated > expected or inflater.unconsumed_tail:
                    raise UploadRefused(
                        name, "dữ liệu ảnh giải nén lớn hơn kích thước ảnh (bom giải nén).",
                        "its picture data inflates beyond the picture's size (a "
                        "decompression bomb).")
            elif kind in _PNG_COMPRESSED_TEXT:
                first += part
                if len(first) > _PNG_TEXT_LIMIT:
                    raise _malformed(name, "siêu dữ liệu quá lớn", "metadata too large")
        stored_crc = source.read(4)
        if len(stored_crc) < 4 or struct.unpack(">I", stored_crc)[0] != crc & 0xFFFFFFFF:
            raise _malformed(name, "sai mã kiểm tra khối", "a chunk's checksum is wrong")
        if not seen_header:
            if kind != b"IHDR" or len(first) < 13:
                raise _malformed(name, "thiếu phần đầu IHDR", "no IHDR header")
            width, height, depth, colour = struct.unpack(">IIBB", first[:10])
            _check_dimensions(name, width, height)
            channels = _PNG_CHANNELS.get(colour)
            if channels is None or depth not in (1, 2, 4, 8, 16):
                raise _malformed(name, "kiểu màu không hợp lệ", "invalid colour type")
            row = (width * channels * depth + 7) // 8 + 1
            interlaced = first[12] == 1
            # Adam7 adds at most one filter byte per row of each of its seven passes.
            expected = row * height + (7 * height if interlaced else 0)
            inflater = zlib.decompressobj()
            seen_header = True
        elif kind in _PNG_COMPRESSED_TEXT:
            _inflate_bounded(name, first)
        if kind == b"IEND":
            if source.read(1):
                raise UploadRefused(name, "có dữ liệu lạ sau phần kết thúc của ảnh.",
                                    "there is data after the picture's end.")
            if inflated == 0:
                raise _malformed(name, "ảnh không có dữ liệu", "the picture has no data")
            return


def _inflate_bounded(name: str, chunk_data: bytes) -> None:
    # zTXt/iCCP: keyword, NUL, method byte, then zlib data (iTXt: a few more fields; an
    # uncompressed iTXt simply fails to inflate, which is fine: it is skipped).
    start = chunk_data.find(b"\0")
    for offset in (start + 2, start + 3):
        inflater = zlib.decompressobj()
        try:
            inflater.decompress(chunk_data[offset:], _PNG_TEXT_LIMIT)
        except zlib.error:
            continue
        if inflater.unconsumed_tail:
            raise UploadRefused(name, "siêu dữ liệu giải nén quá lớn (bom giải nén).",
                                "its metadata inflates too far (a decompression bomb).")


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _check_jpeg(source: BinaryIO, size: int, name: str) -> None:
    """Walk the header segments to the frame (its size) and the scan, then make sure the
    image ends (an end-of-image marker after the scan): a cut-off photo is refused."""
    source.seek(2)
    frame = False
    while True:
        marker = source.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise _malformed(name, "cấu trúc JPEG sai", "wrong JPEG structure")
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            source.seek(-1, 1)
            continue
        if kind in (0xD8, 0xD9) or 0xD0 <= kind <= 0xD7:
            raise _malformed(name, "cấu trúc JPEG sai", "wrong JPEG structure")
        length_bytes = source.read(2)
        if len(length_bytes) < 2:
            raise _malformed(name, "tệp bị cắt ngắn", "the file is cut short")
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            raise _malformed(name, "độ dài phân đoạn sai", "wrong segment length")
        body = source.read(length - 2)
        if len(body) < length - 2:
            raise _malformed(name, "tệp bị cắt ngắn", "the file is cut short")
        if kind in _SOF_MARKERS:
            if len(body) < 5:
                raise _malformed(name, "phần khung ảnh sai", "wrong frame header")
            height, width = struct.unpack(">HH", body[1:5])
            _check_dimensions(name, width, height)
            frame = True
        if kind == 0xDA:  # start of scan: the entropy-coded data follows
            break
    if not frame:
        raise _malformed(name, "không có khung ảnh", "no frame header")
    previous = b""
    while chunk := source.read(_CHUNK):
        if b"\xff\xd9" in previous[-1:] + chunk:
            return
        previous = chunk
    raise _malformed(name, "ảnh bị cắt ngắn, thiếu phần kết thúc", "the picture is cut short")


def _check_pdf(source: BinaryIO, size: int, name: str) -> None:
    """Read the PDF's structure with pyHanko (cross-references, catalogue, pages) without
    rendering it: cut-off, malformed, encrypted or scripted PDFs are refused."""
    # Imported here: reading a PDF is the only use, and the library is large.
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    source.seek(max(0, size - 2048))
    if b"%%EOF" not in source.read(2048):
        raise _malformed(name, "thiếu dấu kết thúc %%EOF", "no %%EOF end marker")
    source.seek(0)
    try:
        reader = PdfFileReader(source, strict=False)
        encrypted = reader.encrypted
        if not encrypted:
            root = reader.root
            pages = root["/Pages"]
            count = int(pages.get("/Count", 0))
            kids = pages["/Kids"]
            if count < 1 or count > MAX_PDF_PAGES or not isinstance(kids, generic.ArrayObject):
                raise _malformed(name, "số trang không hợp lệ", "invalid page count")
            active = _active_content(root)
    except UploadRefused:
        raise
    except (PdfError, KeyError, ValueError, TypeError, IndexError, AttributeError,
            RecursionError, struct.error, zlib.error, OSError):
        raise _malformed(name, "không đọc được cấu trúc PDF", "its PDF structure cannot be read") \
            from None
    if encrypted:
        raise UploadRefused(name, "PDF được mã hóa hoặc đặt mật khẩu; hãy nộp bản không khóa.",
                            "the PDF is encrypted or password-protected; send an unlocked "
                            "copy.")
    if active:
        raise UploadRefused(name, "PDF chứa mã chạy tự động hoặc tệp đính kèm.",
                            "the PDF holds scripts, actions that run by themselves or "
                            "embedded files.")


_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/RichMediaExecute"}


def _active_content(root: Any) -> bool:
    """Scripts, launch actions and embedded files in the catalogue (where a reader looks
    for what to run on opening)."""
    names = root.get("/Names")
    if names is not None and ("/JavaScript" in names or "/EmbeddedFiles" in names):
        return True
    if "/AA" in root:
        return True
    action = root.get("/OpenAction")
    if action is not None and hasattr(action, "get"):
        return str(action.get("/S")) in _ACTIVE_ACTIONS
    return False


# ---- where the bytes are kept ---------------------------------------------------------

class DocumentStore(Protocol):
    """Content-addressed, write-once storage of attached files (filesystem now; object
    storage can follow behind the same four calls)."""

    def put(self, source: BinaryIO, sha256: str) -> bool:
        """Keep the bytes under their digest; False when they were already kept. The
        digest is checked again while writing."""

    def open(self, sha256: str) -> Iterator[bytes]:
        """The bytes, in chunks; ``NotFound`` when none are kept under this digest."""

    def exists(self, sha256: str) -> bool: ...

    def discard(self, sha256: str) -> None:
        """Undo a ``put`` whose event could not be recorded (never for a referenced file)."""


def document_missing() -> NotFound:
    return NotFound("Không tìm thấy tệp.", "File not found.")


class DigestMismatch(RuntimeError):
    pass


class MemoryDocumentStore:
    """For tests and the demo: the same contract, in memory."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, source: BinaryIO, sha256: str) -> bool:
        source.seek(0)
        content = source.read()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise DigestMismatch(sha256)
        if sha256 in self.files:
            return False
        self.files[sha256] = content
        return True

    def open(self, sha256: str) -> Iterator[bytes]:
        if sha256 not in self.files:
            raise document_missing()
        yield self.files[sha256]

    def exists(self, sha256: str) -> bool:
        return sha256 in self.files

    def discard(self, sha256: str) -> None:
        self.files.pop(sha256, None)
