"""Demo dossiers spread over past weeks, recorded through the application service.

Every dossier is received and moved by the staff who would really act on it, with the times
it happened (``occurred_at``) in the past; the store records them now.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from domain.application import HosoApplication
from domain.organisation import Procedure, UnitKind
from domain.working_days import HCMC

_NAMES = ("Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Long", "Phạm Thị Thu", "Huỳnh Minh Khoa",
          "Võ Thị Ngọc Anh", "Đặng Quốc Bảo", "Bùi Thị Hạnh", "Đỗ Thành Nhân", "Hồ Thị Mỹ Linh")
_STREETS = ("Lê Lợi, phường Sài Gòn", "Nguyễn Trãi, phường Chợ Quán", "Võ Văn Tần, phường Xuân Hòa",
            "Cách Mạng Tháng Tám, phường Bàn Cờ", "Phan Xích Long, phường Cầu Kiệu",
            "Lê Văn Việt, phường Tăng Nhơn Phú")


def load_demo(app: HosoApplication, *, dossiers: int = 40, seed: int = 2026,
              progress: Callable[[], None] | None = None) -> int:
    """Receive ``dossiers`` dossiers and walk each to a random stage; how many were made."""
    rng = random.Random(seed)
    now = app.clock()
    procedures = list(app.directory.procedures.values())
    for _ in range(dossiers):
        procedure = rng.choice(procedures)
        received = _office_time(now - timedelta(days=rng.uniform(1, 40)), rng)
        _walk(app, procedure, received, now, rng, stop_after=rng.randint(1, 7))
        if progress:
            progress()
    return dossiers


def _office_time(moment: datetime, rng: random.Random) -> datetime:
    local = moment.astimezone(HCMC)
    while local.weekday() >= 5:
        local -= timedelta(days=1)
    return local.replace(hour=rng.randint(7, 16), minute=rng.choice((5, 20, 35, 50)),
                         second=0, microsecond=0)


def _walk(app: HosoApplication, procedure: Procedure, received: datetime, now: datetime,
          rng: random.Random, stop_after: int) -> None:
    d = app.directory
    reception, specialist, leader = procedure.route[0], procedure.route[1], procedure.route[2]

    def member(unit: str, signer: bool = False) -> str:
        return next(s.user_id for s in d.members_of(unit) if s.may_sign or not signer)

    rid = member(reception)
    outcome = app.receive(
        actor_id=rid, procedure_code=procedure.code, applicant_name=rng.choice(_NAMES),
        applicant_phone=f"09{rng.randint(10_000_000, 99_999_999)}",
        applicant_address=f"{rng.randint(1, 300)} {rng.choice(_STREETS)}, TP.HCM",
        channel=rng.choice(("counter", "counter", "post_office", "online")),
        documents=list(procedure.documents), occurred_at=received,
    )
    # Hours between steps; a slow desk now and then makes some dossiers late.
    pace = procedure.processing_days * rng.choice((2.0, 3.0, 3.5, 6.0))
    when = received
    post = d.post_office().code
    by_post = rng.random() < 0.4
    steps: list[Callable[[datetime], object]] = [
        lambda t: app.transfer(outcome.dossier_id, expected_version=None, actor_id=rid,
                               to_unit=specialist, note="Chuyển xử lý theo quy trình",
                               occurred_at=t),
        lambda t: app.transfer(outcome.dossier_id, expected_version=None,
                               actor_id=member(specialist), to_unit=leader,
                               note="Đã thẩm định, trình ký", occurred_at=t),
        lambda t: app.sign(outcome.dossier_id, expected_version=None,
                           actor_id=member(leader, signer=True),
                           decision_number=f"{rng.randint(100, 9999)}/QĐ",
                           decision_title=procedure.name_vi, occurred_at=t),
        lambda t: app.transfer(outcome.dossier_id, expected_version=None,
                               actor_id=member(leader, signer=True), to_unit=reception,
                               note="Chuyển trả kết quả", occurred_at=t),
        lambda t: app.dispatch(outcome.dossier_id, expected_version=None, actor_id=rid,
                               method="post" if by_post else "counter_pickup",
                               postal_tracking_number=f"EB{rng.randint(10**8, 10**9 - 1)}VN"
                               if by_post else None, occurred_at=t),
        lambda t: app.deliver(outcome.dossier_id, expected_version=None,
                              actor_id=member(post) if by_post else rid,
                              recipient_name="Người nộp hồ sơ", occurred_at=t),
    ]
    assert d.unit(post).kind is UnitKind.POST_OFFICE
    for step in steps[: stop_after - 1]:
        when = when + timedelta(hours=rng.uniform(0.3, 1.0) * pace)
        if when > now - timedelta(minutes=10):
            return
        step(when)
