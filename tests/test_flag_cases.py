"""Red flags taken up as cases: the rules of a case, and its life on both stores (a closed
flag stays closed for the same facts; a new fact reopens it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from domain.application import HosoApplication
from domain.errors import AccessDenied, DomainError
from domain.flag_case import FlagCase, Outcome, Subject
from domain.organisation import Directory
from projections.red_flags import (
    Detail,
    FlaggedDossier,
    OfficerRate,
    OfficeTime,
    RedFlag,
    dossier_facts,
    officer_facts,
    without_settled,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DIRECTORY = Directory()
INSPECTOR = DIRECTORY.member("thanhtra")


def opened(subject: Subject = Subject.DOSSIER, subject_id: str = "d-1",
           by: str = "thanhtra") -> FlagCase:
    return FlagCase.open(flag_kind="ping_pong", subject=subject, subject_id=subject_id,
                         facts_fingerprint="f1", staff=DIRECTORY.member(by), now=NOW)


def test_only_reviewers_other_than_the_officer_concerned_work_on_a_case() -> None:
    with pytest.raises(AccessDenied) as clerk:
        FlagCase.open(flag_kind="stuck", subject=Subject.DOSSIER, subject_id="d-1",
                      facts_fingerprint="f", staff=DIRECTORY.member("hctp"), now=NOW)
    assert "not the person concerned" in clerk.value.en
    about_them = opened(Subject.OFFICER, "thanhtra", by="quantri")  # opened by an administrator…
    with pytest.raises(AccessDenied):  # …the inspector it names may not write on it
        about_them.write_note("Tôi giải thích.", INSPECTOR, NOW)
    about_them.write_note("Đã xem.", DIRECTORY.member("quantri"), NOW)


def test_a_case_closes_once_with_an_outcome_and_reopens_only_on_new_facts() -> None:
    case = opened()
    with pytest.raises(DomainError) as no_note:
        case.close(Outcome.WARNING.value, INSPECTOR, NOW)
    assert no_note.value.en.startswith("Write at least one note")
    with pytest.raises(DomainError) as no_outcome:
        case.close("whatever", INSPECTOR, NOW)
    assert no_outcome.value.en == "Choose the case's outcome."
    case.write_note("Cán bộ giải trình: thiếu người.", INSPECTOR, NOW)
    case.close(Outcome.EXPLAINED.value, INSPECTOR, NOW)
    assert case.settles("f1") and not case.settles("f2")
    with pytest.raises(DomainError) as again:
        case.close(Outcome.EXPLAINED.value, INSPECTOR, NOW)
    assert again.value.en == "This case is already closed."
    with pytest.raises(DomainError) as same_facts:
        case.reopen("f1", INSPECTOR, NOW)
    assert "reopens only on new facts" in same_facts.value.en
    case.reopen("f2", INSPECTOR, NOW)
    assert case.is_open and case.fingerprint == "f2"


def test_the_facts_leave_out_what_grows_with_the_clock() -> None:
    def stuck(hours: int, unit: str) -> FlaggedDossier:
        return FlaggedDossier("d-1", "X", Detail("Ở %(unit)s %(time)s", (
            ("unit", unit), ("time", OfficeTime(timedelta(hours=hours))))))
    assert dossier_facts("stuck", stuck(20, "A")) == dossier_facts("stuck", stuck(30, "A"))
    assert dossier_facts("stuck", stuck(20, "A")) != dossier_facts("stuck", stuck(20, "B"))


def _flag(flagged: int) -> RedFlag:
    return RedFlag("ping_pong", dossiers=[FlaggedDossier("d-1", "X", Detail("ba lần"))],
                   officers=[OfficerRate("hctp", "STP-HCTP", flagged, 30, flagged / 30)])


def test_a_closed_case_takes_its_flag_off_the_list_for_the_same_facts(
        serve: Callable[..., TestClient], app: HosoApplication) -> None:
    web = serve("thanhtra")
    models = web.app.state.services.read_models  # type: ignore[attr-defined]
    flag = _flag(4)
    officer_case = app.open_flag_case(
        actor_id="thanhtra", flag_kind="ping_pong", subject=Subject.OFFICER, subject_id="hctp",
        facts_fingerprint=officer_facts("ping_pong", flag.officers[0]))
    app.write_flag_case_note(officer_case.case_id, actor_id="thanhtra",
                             note="Chuyển qua lại do thiếu giấy tờ; đã nhắc.")
    app.close_flag_case(officer_case.case_id, actor_id="thanhtra", outcome="warning")
    dossier_case = app.open_flag_case(
        actor_id="thanhtra", flag_kind="ping_pong", subject=Subject.DOSSIER, subject_id="d-1",
        facts_fingerprint=dossier_facts("ping_pong", flag.dossiers[0]))
    done = app.close_flag_case(dossier_case.case_id, actor_id="thanhtra",
                               outcome="false_alarm")
    assert models.wait_for_flag_case(done.notification_id)

    view = models.flag_cases
    [shown] = without_settled([flag], view.settled())
    assert shown.dossiers == [] and shown.officers == []
    # One more file flagged for the officer: new facts, the flag is raised again.
    [again] = without_settled([_flag(5)], view.settled())
    assert [o.officer_id for o in again.officers] == ["hctp"]
    alarms = view.false_alarms()["ping_pong"]
    assert (alarms.closed, alarms.false_alarms, alarms.share) == (2, 1, 0.5)
    assert [e.kind for e in view.timeline(officer_case.case_id)] == ["opened", "note", "closed"]
    # The officer concerned never reads their case, even on a reviewer's page.
    assert {c.subject_id for c in view.cases_for("hctp")} == {"d-1"}
    assert view.case(officer_case.case_id, "hctp") is None

    reopened = app.open_flag_case(
        actor_id="thanhtra", flag_kind="ping_pong", subject=Subject.OFFICER, subject_id="hctp",
        facts_fingerprint=officer_facts("ping_pong", again.officers[0]))
    assert reopened.case_id == officer_case.case_id
    assert models.wait_for_flag_case(reopened.notification_id)
    case = models.flag_cases.case(officer_case.case_id, "thanhtra")
    assert case is not None and case.outcome is None
    assert [e.kind for e in models.flag_cases.timeline(case.case_id)][-1] == "reopened"
