"""Administration as events: who changed units, staff and procedures, and what follows."""

from __future__ import annotations

import pytest

from domain.application import HosoApplication
from domain.errors import AccessDenied, DomainError, NotFound
from domain.register import OrganisationRegister
from tests.conftest import FakeClock
from tests.helpers import receive


def test_only_administrators_change_the_register(app: HosoApplication) -> None:
    with pytest.raises(AccessDenied, match="Chỉ quản trị viên"):
        app.appoint_staff(admin_id="tiepnhan", user_id="moi", full_name="A",
                          unit_code="TTHCC", roles=["reception"])
    assert app.register_history() == []


def test_a_new_clerk_can_work_and_a_deactivated_one_cannot(app: HosoApplication) -> None:
    app.appoint_staff(admin_id="quantri", user_id="tiepnhan3", full_name="Phan Thị Mới",
                      unit_code="TTHCC", roles=["reception"])
    outcome = app.receive(actor_id="tiepnhan3", procedure_code="2.000488", applicant_name="A",
                          applicant_phone="0901234567", applicant_address="B",
                          documents=["x"])
    assert app.dossier(outcome.dossier_id).holder_officer == "tiepnhan3"
    app.deactivate_staff(admin_id="quantri", user_id="tiepnhan3", reason="Nghỉ hưu")
    with pytest.raises(NotFound, match="Không có cán bộ “tiepnhan3”"):
        receive(app, actor_id="tiepnhan3")
    [appointed, deactivated] = app.register_history()
    assert isinstance(appointed, OrganisationRegister.StaffAppointed)
    assert isinstance(deactivated, OrganisationRegister.StaffDeactivated)
    assert (deactivated.actor_id, deactivated.reason) == ("quantri", "Nghỉ hưu")


def test_moving_a_clerk_changes_what_they_may_do(app: HosoApplication) -> None:
    outcome = receive(app)
    app.appoint_staff(admin_id="quantri", user_id="tiepnhan", full_name="Nguyễn Thị Lan",
                      unit_code="STP-HCTP", roles=["specialist"])
    with pytest.raises(AccessDenied):
        app.transfer(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                     to_unit="STP-HCTP")


def test_processing_time_changes_apply_to_new_receipts_only(app: HosoApplication,
                                                            clock: FakeClock) -> None:
    before = receive(app)
    app.set_processing_time(admin_id="quantri", procedure_code="2.000488",
                            processing_days=5, legal_basis="Quyết định 123/QĐ-UBND")
    after = receive(app)
    assert app.dossier(before.dossier_id).processing_days == 10
    assert app.dossier(after.dossier_id).processing_days == 5
    assert app.dossier(after.dossier_id).due_date < app.dossier(before.dossier_id).due_date


def test_units_can_be_added_and_used(app: HosoApplication) -> None:
    app.add_unit(admin_id="quantri", code="STP-PBGDPL", agency_code="000.00.12.H29",
                 name_vi="Phòng Phổ biến giáo dục pháp luật", name_en="Legal Education Division",
                 kind="specialist")
    outcome = receive(app)
    app.transfer(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                 to_unit="STP-PBGDPL", note="Xin ý kiến")
    assert app.dossier(outcome.dossier_id).holder_unit == "STP-PBGDPL"


@pytest.mark.parametrize(("call", "message"), [
    (lambda a: a.appoint_staff(admin_id="quantri", user_id="X!", full_name="A",
                               unit_code="TTHCC", roles=["reception"]), "Tên đăng nhập"),
    (lambda a: a.appoint_staff(admin_id="quantri", user_id="abc", full_name="A",
                               unit_code="NOPE", roles=["reception"]), "Không có đơn vị"),
    (lambda a: a.appoint_staff(admin_id="quantri", user_id="abc", full_name="A",
                               unit_code="TTHCC", roles=["king"]), "vai trò hợp lệ"),
    (lambda a: a.appoint_staff(admin_id="quantri", user_id="quantri", full_name="A",
                               unit_code="TTHCC", roles=["reception"]), "quyền quản trị"),
    (lambda a: a.deactivate_staff(admin_id="quantri", user_id="quantri", reason="r"),
     "chính mình"),
    (lambda a: a.add_unit(admin_id="quantri", code="TTHCC", agency_code="000.00.01.H29",
                          name_vi="A", name_en="A", kind="reception"), "Đã có đơn vị"),
    (lambda a: a.add_unit(admin_id="quantri", code="NEW", agency_code="H29",
                          name_vi="A", name_en="A", kind="reception"), "Mã cơ quan"),
    (lambda a: a.set_processing_time(admin_id="quantri", procedure_code="2.000488",
                                     processing_days=0, legal_basis="x"), "Thời hạn"),
])
def test_register_refusals(app: HosoApplication, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError, match=message):
        call(app)
    assert app.register_history() == []
