"""Uploads and downloads of a dossier's files.

Uploads arrive as multipart forms: python-multipart streams each file into a spooled
temporary file (on disk past 1 MB, deleted when the request ends), never whole in memory;
the request's declared length is checked before a byte is read. Each file is then checked
by its content (domain/documents.py) before the application keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from domain.application import Attachment, OpenedDocument
from domain.documents import MAX_FILE_BYTES, MAX_FILES, check_upload
from domain.errors import DomainError
from domain.organisation import Procedure

# Every file at its largest, plus the form's other fields.
MAX_UPLOAD_REQUEST = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024


class UploadTooLarge(DomainError):
    def __init__(self) -> None:
        super().__init__(
            f"Tổng dung lượng gửi lên quá lớn (tối đa {MAX_FILE_BYTES // (1024 * 1024)} MB "
            f"mỗi tệp, {MAX_FILES} tệp).",
            f"The upload is too large (at most {MAX_FILE_BYTES // (1024 * 1024)} MB a file, "
            f"{MAX_FILES} files).")


def upload_size_refusal(request: Request) -> DomainError | None:
    """Refuse before reading: no declared length (a chunked body could be endless) or one
    beyond every file at its largest."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return None
    try:
        length = int(request.headers.get("content-length", ""))
    except ValueError:
        return UploadTooLarge()
    return UploadTooLarge() if length > MAX_UPLOAD_REQUEST else None


async def read_form(request: Request) -> FormData:
    return await request.form(max_files=MAX_FILES, max_fields=500)


def uploads(form: FormData, name: str) -> list[UploadFile]:
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]


def scans_of(form: FormData, procedure: Procedure) -> list[Attachment]:
    """The files of the receive form: ``scan_<n>`` for the n-th line of the procedure's
    list, ``scan_other`` for files of a type typed in ``scan_other_type``. Each is checked
    by content; the first refusal stops the whole form (nothing is kept)."""
    attachments: list[Attachment] = []
    for index, requirement in enumerate(procedure.document_list):
        for upload in uploads(form, f"scan_{index}"):
            attachments.append(Attachment(requirement.name_vi, check_upload(
                upload.file, upload.filename or "", upload.content_type, requirement.accepted)))
    other_type = str(form.get("scan_other_type", ""))
    for upload in uploads(form, "scan_other"):
        attachments.append(Attachment(other_type, check_upload(
            upload.file, upload.filename or "", upload.content_type)))
    return attachments


def typed_files(form: FormData, procedure: Procedure) -> list[Attachment]:
    """Files added later: ``file`` inputs with the document type in ``document_type``."""
    document_type = str(form.get("document_type", ""))
    requirement = procedure.requirement(document_type)
    accepted = requirement.accepted if requirement else None
    return [Attachment(document_type, check_upload(
        f.file, f.filename or "", f.content_type, *(() if accepted is None else (accepted,))))
        for f in uploads(form, "file")]


def files_of(form: FormData) -> list[Attachment]:
    """The partner API's upload: ``file`` parts, all of the type named in ``document_type``
    (checked by content as the counter's; the dossier's procedure then decides whether that
    type takes the file's media type)."""
    document_type = str(form.get("document_type", ""))
    return [Attachment(document_type, check_upload(f.file, f.filename or "", f.content_type))
            for f in uploads(form, "file")]


def document_response(opened: OpenedDocument) -> Response:
    """The file as a download (never shown as a page of this site; the site's strict
    Content-Security-Policy and ``nosniff`` come with every answer)."""
    name = opened.facts.file_name
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    chunks: Iterable[bytes] = opened.chunks
    return StreamingResponse(chunks, media_type=opened.facts.media_type.value, headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; "
                               f"filename*=UTF-8''{quote(name)}",
        "Content-Length": str(opened.facts.size),
        "Cache-Control": "private, no-store",
    })
