"""One line per recorded decision: "signed by <unit> — signature valid", or a loud warning.

Shared by the public status page (unit only) and the audit page (key and officer too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.organisation import Directory
from domain.signing import DecisionSignature, SignatureStatus
from web.i18n import unit_name
from web.labels import Label

_VERDICTS: dict[SignatureStatus, Label] = {
    SignatureStatus.VALID: Label("chữ ký hợp lệ", "signature valid"),
    SignatureStatus.INVALID: Label(
        "CHỮ KÝ KHÔNG HỢP LỆ — quyết định ghi trong hệ thống không khớp với chữ ký của người ký",
        "SIGNATURE INVALID — the decision on record does not match its signer's signature"),
    SignatureStatus.REVOKED: Label(
        "CẢNH BÁO: khóa ký đã bị thu hồi trước thời điểm ký — chữ ký không có giá trị",
        "WARNING: the signing key was revoked before the signing time — not a valid signature"),
    SignatureStatus.UNKNOWN_KEY: Label(
        "CẢNH BÁO: khóa ký không có trong sổ đăng ký khóa — không kiểm tra được chữ ký",
        "WARNING: the signing key is not in the key register — the signature cannot be checked"),
    SignatureStatus.NOT_YET_REGISTERED: Label(
        "CẢNH BÁO: thời điểm ký ghi trước khi khóa ký được đăng ký",
        "WARNING: the signing time is before the signing key was registered"),
    SignatureStatus.UNSIGNED: Label(
        "không có chữ ký số (ghi nhận trước khi hệ thống lưu chữ ký)",
        "no digital signature (recorded before hoso kept signatures)"),
}


@dataclass(frozen=True)
class SignatureLine:
    decision_number: str
    unit_name: str
    signed_at: datetime
    verdict: Label
    valid: bool
    # Loud: the page says so in red, with role="alert".
    alarming: bool
    key_id: str | None
    signer_name: str | None
    document_sha256: str | None
    key_revoked_at: datetime | None

    @classmethod
    def of(cls, signature: DecisionSignature, directory: Directory) -> SignatureLine:
        signer = directory.staff.get(signature.signer_id) if signature.signer_id else None
        return cls(
            decision_number=signature.decision_number,
            unit_name=unit_name(directory, signature.unit_code),
            signed_at=signature.signed_at,
            verdict=_VERDICTS[signature.status],
            valid=signature.status.is_valid,
            alarming=signature.status not in (SignatureStatus.VALID, SignatureStatus.UNSIGNED),
            key_id=signature.key_id,
            signer_name=signer.full_name if signer else signature.signer_id,
            document_sha256=signature.document_sha256,
            key_revoked_at=signature.key_revoked_at,
        )
