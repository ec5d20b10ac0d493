"""The electronic result's PAdES signature, checked with pyHanko against the trust roots the
city configured (``HOSO_RESULT_TRUST_ROOTS``, a PEM bundle of CA certificates).

A result is accepted only when the PDF carries a signature that covers the whole file as it
was handed in, is cryptographically intact, and chains to one of the trust roots; the
verdict (signer, signing time, certificate fingerprint, the root it chains to) is recorded in
the ``Signed`` event beside the file's digest. Without a configured trust root electronic
results are refused altogether: a city hands a citizen a result with legal force, and a file
whose signature nobody could check must not leave as one (paper results are unaffected).

Revocation (CRL, OCSP) is not fetched: hoso runs without outbound calls at signing time, so
a revoked officer certificate still within its validity would pass (docs/documents.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from domain.errors import DomainError

VALID = "valid"


@dataclass(frozen=True)
class SignatureVerdict:
    """What the check found, as recorded in the event (``as_dict``) and shown on the
    public verification page."""

    verdict: str  # "valid": anything else is refused and never recorded
    signer: str  # the signing certificate's subject, as people read it
    issuer: str  # the trust root the certificate chains to
    certificate_sha256: str  # the signing certificate's fingerprint (DER, hex)
    signing_time: str | None  # the time the signer's software claimed (ISO 8601), if any

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "signer": self.signer, "issuer": self.issuer,
                "certificate_sha256": self.certificate_sha256,
                "signing_time": self.signing_time}


class ResultSignatureRefused(DomainError):
    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"Chữ ký số của kết quả điện tử không được chấp nhận: {vi}",
                         f"The electronic result's digital signature is not accepted: {en}")


class TrustRootsError(ValueError):
    pass


def _quiet_pyhanko() -> None:
    # pyHanko logs a full traceback for every certificate it cannot chain; a refused
    # result is an answer to the officer, not an error of the server.
    for name in ("pyhanko.sign.validation.generic_cms", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class ResultTrust:
    """The trust roots result signatures must chain to; empty when none is configured."""

    def __init__(self, roots: Sequence[Any] = ()) -> None:
        self.roots = tuple(roots)  # asn1crypto.x509.Certificate

    @classmethod
    def from_pem(cls, data: bytes) -> ResultTrust:
        from asn1crypto import pem
        from asn1crypto import x509 as asn1_x509

        roots = []
        try:
            for kind, _headers, der in pem.unarmor(data, multiple=True):
                if kind == "CERTIFICATE":
                    certificate = asn1_x509.Certificate.load(der)
                    certificate.native  # noqa: B018 - parse it now, not at the first check
                    roots.append(certificate)
        except ValueError as error:
            raise TrustRootsError(f"not a PEM bundle of certificates ({error})") from None
        if not roots:
            raise TrustRootsError("holds no PEM certificate")
        return cls(roots)

    @classmethod
    def from_file(cls, path: Path | None) -> ResultTrust:
        """The bundle at ``path`` (None: no trust root, electronic results refused)."""
        if path is None:
            return cls()
        try:
            data = path.read_bytes()
        except OSError as error:
            raise TrustRootsError(f"cannot be read: {error.strerror or error}") from None
        return cls.from_pem(data)

    def also_trusting(self, *roots: Any) -> ResultTrust:
        return ResultTrust((*self.roots, *roots))

    def verify(self, source: BinaryIO) -> SignatureVerdict:
        """The verdict on the PDF in ``source`` (read from its start, left at its start);
        ``ResultSignatureRefused`` when it is not signed, altered after signing, or signed
        by a certificate that does not chain to a trust root."""
        if not self.roots:
            raise DomainError(
                "Chưa cấu hình chứng thư gốc tin cậy để kiểm tra chữ ký kết quả điện tử, nên "
                "chưa nhận kết quả điện tử; hãy trả kết quả giấy hoặc báo quản trị viên.",
                "No trust root for checking result signatures is configured, so electronic "
                "results are not accepted; return a paper result or ask the administrator.")
        from pyhanko.pdf_utils.misc import PdfError
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko.sign.validation.errors import SignatureValidationError
        from pyhanko.sign.validation.status import SignatureCoverageLevel
        from pyhanko_certvalidator import ValidationContext

        _quiet_pyhanko()
        source.seek(0)
        try:
            signatures = PdfFileReader(source, strict=False).embedded_signatures
            if not signatures:
                raise ResultSignatureRefused(
                    "tệp PDF không có chữ ký số (PAdES).",
                    "the PDF carries no digital (PAdES) signature.")
            embedded = signatures[-1]
            context = ValidationContext(trust_roots=list(self.roots), allow_fetching=False,
                                        revocation_mode="soft-fail")
            status = validate_pdf_signature(embedded, context)
        except ResultSignatureRefused:
            raise
        except (PdfError, SignatureValidationError, ValueError, KeyError, TypeError):
            raise ResultSignatureRefused(
                "không đọc được chữ ký trong tệp PDF.",
                "the signature in the PDF cannot be read.") from None
        finally:
            source.seek(0)
        if not status.intact or not status.valid:
            raise ResultSignatureRefused(
                "tệp đã bị thay đổi sau khi ký (mã băm không khớp chữ ký).",
                "the file was changed after it was signed (its digest does not match).")
        if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
            raise ResultSignatureRefused(
                "có nội dung được thêm vào sau chữ ký cuối cùng.",
                "content was added after the last signature.")
        if not status.trusted:
            raise ResultSignatureRefused(
                "chứng thư của người ký không do tổ chức chứng thực tin cậy cấp "
                "(hoặc đã hết hạn).",
                "the signer's certificate was not issued by a trusted authority "
                "(or has expired).")
        certificate = status.signing_cert
        path = status.validation_path
        root = path.trust_anchor.authority.name.human_friendly if path is not None else ""
        when = status.signer_reported_dt
        return SignatureVerdict(
            verdict=VALID,
            signer=certificate.subject.human_friendly,
            issuer=root,
            certificate_sha256=hashlib.sha256(certificate.dump()).hexdigest(),
            signing_time=when.isoformat() if isinstance(when, datetime) else None,
        )
