"""Shared steps for tests: receive a dossier and walk it along its route."""

from __future__ import annotations

from uuid import UUID

from domain.application import HosoApplication, Outcome

PROCEDURE = "2.000488"  # criminal record certificate: TTHCC → STP-HCTP → STP-BGD → TTHCC
APPLICANT = {
    "applicant_name": "Trần Thị Bích Ngọc",
    "applicant_phone": "0912345678",
    "applicant_address": "12 Nguyễn Huệ, phường Sài Gòn, TP.HCM",
    "applicant_id_number": "079201001234",
}


def receive(app: HosoApplication, actor_id: str = "tiepnhan") -> Outcome:
    return app.receive(actor_id=actor_id, procedure_code=PROCEDURE,
                       documents=["Tờ khai", "Bản chụp CCCD"], **APPLICANT)


def walk_to_signed(app: HosoApplication, dossier_id: UUID) -> None:
    app.transfer(dossier_id, expected_version=None, actor_id="tiepnhan", to_unit="STP-HCTP")
    app.transfer(dossier_id, expected_version=None, actor_id="hctp", to_unit="STP-BGD")
    app.sign(dossier_id, expected_version=None, actor_id="gd.stp",
             decision_number="15/PLLTP", decision_title="Phiếu lý lịch tư pháp số 1")
    app.transfer(dossier_id, expected_version=None, actor_id="gd.stp", to_unit="TTHCC")


def walk_to_delivered_by_post(app: HosoApplication, dossier_id: UUID) -> Outcome:
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB123456789VN")
    return app.deliver(dossier_id, expected_version=None, actor_id="buudien",
                       recipient_name="Trần Thị Bích Ngọc")
