"""The national public-service portal's status vocabulary, for reporting and sync.

The portal knows ten status codes; hoso's stages map onto them, and what the codes cannot
say travels as flags. Code 1 is a citizen's online submission the counter has not checked
yet, 3 one it refused to receive; 6 a financial obligation the holder asked the citizen to
pay, the clock waiting meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from domain.dossier import Stage


class PortalStatus(IntEnum):
    NEWLY_REGISTERED = 1
    RECEIVED = 2
    NOT_RECEIVED = 3
    BEING_PROCESSED = 4
    SUPPLEMENT_REQUESTED = 5
    FINANCIAL_OBLIGATION_REQUESTED = 6
    WITHDRAWAL_REQUESTED = 7
    PROCESSING_STOPPED = 8
    PROCESSED = 9
    RESULT_RETURNED = 10


STAGE_TO_PORTAL: dict[Stage, PortalStatus] = {
    Stage.SUBMITTED_ONLINE: PortalStatus.NEWLY_REGISTERED,
    # Registered, on its way to the counter by post: not received until the counter says so.
    Stage.AWAITING_COLLECTION: PortalStatus.NEWLY_REGISTERED,
    Stage.COLLECTED: PortalStatus.NEWLY_REGISTERED,
    Stage.HANDED_TO_COUNTER: PortalStatus.NEWLY_REGISTERED,
    Stage.NOT_RECEIVED: PortalStatus.NOT_RECEIVED,
    Stage.RECEIVED: PortalStatus.RECEIVED,
    Stage.IN_PROGRESS: PortalStatus.BEING_PROCESSED,
    Stage.AWAITING_SUPPLEMENT: PortalStatus.SUPPLEMENT_REQUESTED,
    Stage.AWAITING_PAYMENT: PortalStatus.FINANCIAL_OBLIGATION_REQUESTED,
    Stage.SIGNED: PortalStatus.PROCESSED,
    # A refusal ends processing; once it is handed out the dossier counts as returned.
    Stage.REJECTED: PortalStatus.PROCESSING_STOPPED,
    Stage.AWAITING_PICKUP: PortalStatus.PROCESSED,
    Stage.IN_POSTAL_TRANSIT: PortalStatus.PROCESSED,
    Stage.DELIVERED: PortalStatus.RESULT_RETURNED,
    Stage.WITHDRAWN: PortalStatus.WITHDRAWAL_REQUESTED,
}


@dataclass(frozen=True)
class PortalReport:
    status: PortalStatus
    overdue: bool
    apologised: bool
    paused: bool
    in_postal_transit: bool


def portal_report(stage: Stage, *, overdue: bool, extensions: int) -> PortalReport:
    return PortalReport(
        status=STAGE_TO_PORTAL[stage],
        overdue=overdue,
        apologised=extensions > 0,
        paused=stage in (Stage.AWAITING_SUPPLEMENT, Stage.AWAITING_PAYMENT),
        in_postal_transit=stage is Stage.IN_POSTAL_TRANSIT,
    )
