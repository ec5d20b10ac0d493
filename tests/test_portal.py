from domain.dossier import Stage
from domain.portal import STAGE_TO_PORTAL, PortalStatus, portal_report


def test_every_stage_has_a_portal_status() -> None:
    assert set(STAGE_TO_PORTAL) == set(Stage)


def test_flags_say_what_the_codes_cannot() -> None:
    paused = portal_report(Stage.AWAITING_SUPPLEMENT, overdue=False, extensions=0)
    assert (paused.status, paused.paused, paused.apologised) == (
        PortalStatus.SUPPLEMENT_REQUESTED, True, False)
    post = portal_report(Stage.IN_POSTAL_TRANSIT, overdue=True, extensions=2)
    assert (post.status, post.in_postal_transit, post.overdue, post.apologised) == (
        PortalStatus.PROCESSED, True, True, True)
    assert portal_report(Stage.DELIVERED, overdue=False, extensions=0).status == 10
    assert portal_report(Stage.WITHDRAWN, overdue=False, extensions=0).status == 7


def test_a_financial_obligation_awaited_is_status_6_and_pauses_the_clock() -> None:
    awaited = portal_report(Stage.AWAITING_PAYMENT, overdue=False, extensions=0)
    assert (awaited.status, int(awaited.status), awaited.paused) == (
        PortalStatus.FINANCIAL_OBLIGATION_REQUESTED, 6, True)
    assert [s for s, p in STAGE_TO_PORTAL.items() if p == 6] == [Stage.AWAITING_PAYMENT]
