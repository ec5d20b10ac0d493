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


def hand_over(app: HosoApplication, dossier_id: UUID, sender: str, to_unit: str,
              receiver: str) -> Outcome:
    """A transfer and its acceptance by the receiving unit."""
    app.transfer(dossier_id, expected_version=None, actor_id=sender, to_unit=to_unit)
    return app.accept_transfer(dossier_id, expected_version=None, actor_id=receiver)


def walk_to_signed(app: HosoApplication, dossier_id: UUID) -> None:
    hand_over(app, dossier_id, "tiepnhan", "STP-HCTP", "hctp")
    hand_over(app, dossier_id, "hctp", "STP-BGD", "gd.stp")
    app.sign(dossier_id, expected_version=None, actor_id="gd.stp",
             decision_number="15/PLLTP", decision_title="Phiếu lý lịch tư pháp số 1")
    hand_over(app, dossier_id, "gd.stp", "TTHCC", "tiepnhan")


def walk_to_delivered_by_post(app: HosoApplication, dossier_id: UUID) -> Outcome:
    walk_to_signed(app, dossier_id)
    app.dispatch(dossier_id, expected_version=None, actor_id="tiepnhan", method="post",
                 postal_tracking_number="EB123456789VN")
    return app.deliver(dossier_id, expected_version=None, actor_id="buudien",
                       recipient_name="Trần Thị Bích Ngọc")
