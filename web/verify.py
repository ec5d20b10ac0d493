"""The verification page of an electronic result: the QR printed on the result opens it.

Anyone handed the result — a printout or the PDF — checks here what hoso recorded about it:
the file's SHA-256, the decision it was signed with, the signing unit and time, the PAdES
verdict (signer, trust root, certificate fingerprint, the time the signer's software
claimed), and whether the transparency log's entry for that file is in a signed checkpoint
(its inclusion proof and the checkpoint's signature checked now, as an outsider's checker
would). No personal data: neither the applicant nor the tracking token appear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from domain.application import SignedResult
from domain.transparency.bundle import check_bundle
from web.labels import Label
from web.public import _HEADERS, _over_limit
from web.services import Services
from web.templating import render


def verify_path(dossier_id: UUID) -> str:
    return f"/verify/{dossier_id}"


@dataclass(frozen=True)
class LogMatch:
    """Where the result's entry stands in the transparency log."""

    verdict: Label
    matches: bool
    leaf_index: int | None = None
    tree_size: int | None = None
    checkpoint_at: datetime | None = None


MATCHES = Label("Khớp: mục ghi của tệp này nằm trong một điểm kiểm tra đã ký của sổ nhật ký "
                "minh bạch (bằng chứng đã được kiểm tra lại lúc này).",
                "Matches: this file's entry is in a signed checkpoint of the transparency "
                "log (the proof was checked again just now).")
PENDING = Label("Mục ghi của tệp đã vào sổ nhật ký nhưng chưa có điểm kiểm tra đã ký bao gồm "
                "nó; hãy xem lại sau ít phút.",
                "The file's entry is in the log, but no signed checkpoint covers it yet; "
                "look again in a few minutes.")
UNSIGNED = Label("Máy chủ này chưa ký sổ nhật ký minh bạch, nên không đối chiếu được.",
                 "This server does not sign its transparency log, so no check can be made.")
MISMATCH = Label("KHÔNG KHỚP: sổ nhật ký minh bạch không xác nhận tệp này. Hãy báo cơ quan "
                 "đã cấp kết quả.",
                 "DOES NOT MATCH: the transparency log does not vouch for this file. Tell "
                 "the agency that issued the result.")


def log_match(services: Services, result: SignedResult) -> LogMatch:
    proof = services.transparency.dossier_proof(result.dossier_id, result.code)
    if proof.problem is not None:
        return LogMatch(MISMATCH, False)
    if services.transparency.verifier_key is None:
        return LogMatch(UNSIGNED, False)
    if proof.bundle is None:
        return LogMatch(PENDING, False)
    entry = _result_entry(proof.bundle, result.sha256)
    if entry is None:
        return LogMatch(PENDING if proof.logged > proof.covered else MISMATCH, False)
    check = check_bundle(proof.bundle, trusted_key=services.transparency.verifier_key)
    if not check.ok:
        return LogMatch(MISMATCH, False)
    assert proof.checkpoint is not None  # a bundle is only made from one
    return LogMatch(MATCHES, True, int(entry["leaf_index"]), proof.checkpoint.tree_size,
                    proof.checkpoint.made_at)


def _result_entry(bundle: dict[str, Any], sha256: str) -> dict[str, Any] | None:
    """The bundle's entry recording the result file with this digest."""
    for item in bundle.get("entries", []):
        entry = json.loads(item["entry"])
        fields = entry.get("fields", {})
        if (entry.get("type") == "DocumentAttached" and fields.get("purpose") == "result"
                and fields.get("sha256") == sha256):
            return dict(item)
    return None


@dataclass(frozen=True)
class VerificationPage:
    result: SignedResult
    procedure_vi: str
    procedure_en: str
    unit_vi: str
    unit_en: str
    log: LogMatch


def verification_page(request: Request) -> Response:
    services: Services = request.app.state.services
    if (refused := _over_limit(request, services)) is not None:
        return refused
    try:
        dossier_id = UUID(request.path_params["dossier_id"])
    except ValueError:
        dossier_id = None
    result = services.app.signed_result(dossier_id) if dossier_id else None
    if result is None:
        return render(request, "public/verify_not_found.html", {}, status_code=404,
                      headers=_HEADERS)
    directory = services.directory
    procedure = directory.procedures.get(result.procedure_code)
    unit = directory.units.get(result.unit_code)
    return render(request, "public/verify.html", {"page": VerificationPage(
        result=result,
        procedure_vi=procedure.name_vi if procedure else result.procedure_code,
        procedure_en=procedure.name_en if procedure else result.procedure_code,
        unit_vi=unit.name_vi if unit else result.unit_code,
        unit_en=unit.name_en if unit else result.unit_code,
        log=log_match(services, result))}, headers=_HEADERS)
