"""Demo dossiers spread over past weeks, recorded through the application service.

Every dossier is received and moved by the staff who would really act on it, with the times
it happened (``occurred_at``) in the past; the store records them now. The scenarios cover
every event type, including late dossiers with and without an apology.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from uuid import UUID

from domain.application import HosoApplication
from domain.organisation import Procedure
from domain.working_days import HCMC

_NAMES = ("Nguyễn Văn An", "Trần Thị Bích", "Lê Hoàng Long", "Phạm Thị Thu", "Huỳnh Minh Khoa",
          "Võ Thị Ngọc Anh", "Đặng Quốc Bảo", "Bùi Thị Hạnh", "Đỗ Thành Nhân", "Hồ Thị Mỹ Linh")
_STREETS = ("Lê Lợi, phường Sài Gòn", "Nguyễn Trãi, phường Chợ Quán", "Võ Văn Tần, phường Xuân Hòa",
            "Cách Mạng Tháng Tám, phường Bàn Cờ", "Phan Xích Long, phường Cầu Kiệu",
            "Lê Văn Việt, phường Tăng Nhơn Phú")

# (scenario, weight): most dossiers go the usual way.
SCENARIOS: tuple[tuple[str, int], ...] = (
    ("usual", 10), ("supplement", 3), ("second_supplement", 1), ("waiting_for_supplement", 1),
    ("rejected", 2), ("refusal_being_returned", 1), ("in_the_post", 1),
    ("ready_at_the_counter", 1),
    ("withdrawn", 1), ("late_with_apology", 2), ("late_without_apology", 2), ("off_route", 1),
    ("not_yet_accepted", 1),
)

Step = Callable[[datetime], object]


def load_demo(app: HosoApplication, *, dossiers: int = 60, seed: int = 2026,
              progress: Callable[[], None] | None = None) -> int:
    """Receive ``dossiers`` dossiers and walk each through a scenario; how many were made."""
    rng = random.Random(seed)
    now = app.clock()
    procedures = list(app.directory.procedures.values())
    names = [name for name, _ in SCENARIOS]
    weights = [weight for _, weight in SCENARIOS]
    for n in range(dossiers):
        # The first few dossiers take each scenario once, so a small demo has them all.
        scenario = names[n] if n < len(names) else rng.choices(names, weights)[0]
        procedure = rng.choice(procedures)
        days_ago = rng.uniform(32, 45) if scenario.startswith("late") else rng.uniform(2, 40)
        received = _office_time(now - timedelta(days=days_ago), rng)
        _Walk(app, procedure, rng, now).run(scenario, received)
        if progress:
            progress()
    return dossiers


def _office_time(moment: datetime, rng: random.Random) -> datetime:
    local = moment.astimezone(HCMC)
    while local.weekday() >= 5:
        local -= timedelta(days=1)
    return local.replace(hour=rng.randint(7, 16), minute=rng.choice((5, 20, 35, 50)),
                         second=0, microsecond=0)


class _Walk:
    def __init__(self, app: HosoApplication, procedure: Procedure, rng: random.Random,
                 now: datetime) -> None:
        self.app, self.procedure, self.rng, self.now = app, procedure, rng, now
        units = procedure.route_units
        self.reception, self.specialist, self.leader = units[0], units[1], units[2]
        self.dossier_id: UUID | None = None

    def member(self, unit: str, signer: bool = False) -> str:
        members = self.app.directory.members_of(unit)
        return next(s.user_id for s in members if s.may_sign or not signer)

    def run(self, scenario: str, received: datetime) -> None:
        a, rng = self.app, self.rng
        rid = self.member(self.reception)
        outcome = a.receive(
            actor_id=rid, procedure_code=self.procedure.code,
            applicant_name=rng.choice(_NAMES),
            applicant_phone=f"09{rng.randint(10_000_000, 99_999_999)}",
            applicant_address=f"{rng.randint(1, 300)} {rng.choice(_STREETS)}, TP.HCM",
            channel=rng.choice(("counter", "counter", "post_office", "online")),
            documents=list(self.procedure.documents), occurred_at=received,
        )
        self.dossier_id = outcome.dossier_id
        # Hours between steps; a slow desk now and then makes some dossiers late.
        pace = self.procedure.processing_days * rng.choice((1.5, 2.5, 3.0))
        slow = pace * 4 if scenario.startswith("late") else pace
        steps = self._script(scenario, rid)
        when = received
        for gap_factor, step in steps:
            when = when + timedelta(hours=rng.uniform(0.3, 1.0) * gap_factor * slow)
            if when > self.now - timedelta(minutes=10):
                return
            step(when)

    def _script(self, scenario: str, rid: str) -> list[tuple[float, Step]]:
        a, d = self.app, self.dossier_id
        assert d is not None
        spec, lead = self.member(self.specialist), self.member(self.leader, signer=True)
        by_post = scenario == "in_the_post" or (
            scenario != "ready_at_the_counter" and self.rng.random() < 0.4)

        def transfer(actor: str, unit: str, note: str = "") -> Step:
            return lambda t: a.transfer(d, expected_version=None, actor_id=actor, to_unit=unit,
                                        note=note, occurred_at=t)

        def accept(actor: str) -> Step:
            return lambda t: a.accept_transfer(d, expected_version=None, actor_id=actor,
                                               occurred_at=t)

        def supplement(justification: str = "") -> Step:
            return lambda t: a.request_supplement(
                d, expected_version=None, actor_id=spec,
                missing_items=["Bản sao có chứng thực giấy tờ tùy thân"],
                reason="Bản sao nộp kèm chưa được chứng thực", justification=justification,
                occurred_at=t)

        def provided(t: datetime) -> object:
            return a.provide_supplement(d, expected_version=None, actor_id=rid,
                                        documents=["Bản sao có chứng thực"], occurred_at=t)

        def extend(t: datetime) -> object:
            due = a.dossier(d).due_date
            return a.extend(d, expected_version=None, actor_id=spec,
                            new_due_date=a.calendar.add_working_days(due, 5),
                            reason="Cần xác minh thêm với cơ quan liên quan",
                            apology="Chúng tôi thành thật xin lỗi vì chậm trả kết quả.",
                            occurred_at=min(t, _end_of(due)))

        def sign(t: datetime) -> object:
            return a.sign(d, expected_version=None, actor_id=lead,
                          decision_number=f"{self.rng.randint(100, 9999)}/QĐ",
                          decision_title=self.procedure.name_vi, occurred_at=t)

        def reject(t: datetime) -> object:
            return a.reject(d, expected_version=None, actor_id=spec, occurred_at=t,
                            reasons="Thửa đất đang có tranh chấp nên chưa đủ điều kiện "
                                    "giải quyết")

        def dispatch(t: datetime) -> object:
            return a.dispatch(
                d, expected_version=None, actor_id=rid,
                method="post" if by_post else "counter_pickup",
                postal_tracking_number=f"EB{self.rng.randint(10**8, 10**9 - 1)}VN"
                if by_post else None, occurred_at=t)

        def deliver(t: datetime) -> object:
            courier = self.member(a.directory.post_office().code) if by_post else rid
            return a.deliver(d, expected_version=None, actor_id=courier,
                             recipient_name="Người nộp hồ sơ", occurred_at=t)

        def withdraw(t: datetime) -> object:
            return a.withdraw(d, expected_version=None, actor_id=rid,
                              reason="Công dân có đơn xin rút hồ sơ", occurred_at=t)

        Script = list[tuple[float, Step]]
        to_specialist: Script = [(0.3, transfer(rid, self.specialist)), (0.3, accept(spec))]
        to_leader: Script = [(1.0, transfer(spec, self.leader, "Trình ký")), (0.3, accept(lead))]
        back: Script = [(0.5, transfer(lead, self.reception, "Chuyển trả kết quả")),
                        (0.3, accept(rid))]
        finish: Script = [(0.5, dispatch), (1.0, deliver)]
        stop = self.rng.randint(0, 12)
        scripts: dict[str, list[tuple[float, Step]]] = {
            "usual": (to_specialist + to_leader + [(0.5, sign)] + back + finish)[:stop],
            "supplement": to_specialist + [(0.5, supplement()), (1.5, provided)] + to_leader
            + [(0.5, sign)] + back + finish,
            "second_supplement": to_specialist + [
                (0.5, supplement()), (1.0, provided),
                (0.5, supplement("Bản sao đã bổ sung bị mờ, không đọc được")), (1.0, provided)],
            "rejected": to_specialist + [(1.0, reject),
                                         (0.5, transfer(spec, self.reception, "Trả hồ sơ")),
                                         (0.3, accept(rid))] + finish,
            "waiting_for_supplement": to_specialist + [(0.5, supplement())],
            "in_the_post": to_specialist + to_leader + [(0.5, sign)] + back + finish[:1],
            "ready_at_the_counter": to_specialist + to_leader + [(0.5, sign)] + back
            + finish[:1],
            "refusal_being_returned": to_specialist + [(1.0, reject)],
            "withdrawn": to_specialist + [(0.5, withdraw)],
            "late_with_apology": to_specialist + [(1.0, extend)],
            "late_without_apology": to_specialist,
            "off_route": [(0.3, transfer(rid, "STP-HCTP" if self.specialist != "STP-HCTP"
                                         else "STC-DKKD", "Xin ý kiến phối hợp"))],
            "not_yet_accepted": [(0.3, transfer(rid, self.specialist))],
        }
        return scripts[scenario]


def _end_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=HCMC) + timedelta(hours=16)
