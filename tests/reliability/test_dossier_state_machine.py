"""Any sequence of commands by anyone: no illegal transition is ever accepted.

A hypothesis state machine drives one dossier through ``HosoApplication`` (in memory) with
every command, by any member of staff, at advancing times. The rules it checks are stated
here independently of the aggregate's own: whoever acts must belong to the unit holding the
file (or, accepting, the unit it was sent to); only signers sign; nothing happens after
delivery or withdrawal; a result is delivered only after it was dispatched; each accepted
command adds exactly one event and versions stay contiguous; a refused one adds none.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.application import HosoApplication
from domain.dossier import Dossier, Stage
from domain.errors import ConcurrentChange, DomainError
from domain.organisation import Directory, Role
from domain.signing import MemoryKeyVault
from tests.conftest import FakeClock
from tests.helpers import SIGNING_PASSPHRASE, receive

DIRECTORY = Directory()
STAFF = sorted(DIRECTORY.staff)
UNITS = sorted(DIRECTORY.units)
TERMINAL = {Stage.DELIVERED, Stage.WITHDRAWN}
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
               min_size=0, max_size=40)


class DossierMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
        self.app = HosoApplication(env={}, clock=self.clock, key_vault=MemoryKeyVault())
        for signer in (s for s in STAFF if Role.SIGNING_OFFICER in DIRECTORY.staff[s].roles):
            self.app.register_signing_key(officer_id=signer, passphrase=SIGNING_PASSPHRASE)
        self.dossier_id: UUID = receive(self.app).dossier_id
        self.accepted = 0

    def _dossier(self) -> Dossier:
        return self.app.dossier(self.dossier_id)

    def _attempt(self, action: str, actor_id: str, **fields: Any) -> None:
        before = self._dossier()
        self.clock.advance(minutes=37)
        try:
            getattr(self.app, action)(self.dossier_id, expected_version=None,
                                      actor_id=actor_id, **fields)
        except DomainError as refusal:
            assert refusal.vi and refusal.en  # a human message, in both languages
            assert self._dossier().version == before.version, "a refused command left events"
            return
        after = self._dossier()
        self.accepted += 1
        actor = DIRECTORY.staff[actor_id]
        assert after.version == before.version + 1, action
        assert before.stage not in TERMINAL, f"{action} accepted after {before.stage}"
        # The unit holding the file acts on it (after a transfer: the unit it was sent to);
        # the counter that received it also takes what the citizen brings or asks there.
        at_counter = (action in ("withdraw", "provide_supplement")
                      and actor.unit_code == before.receiving_unit)
        assert actor.unit_code == before.holder_unit or at_counter, (
            f"{action} by {actor_id} of {actor.unit_code} while {before.holder_unit} holds "
            "the file")
        if action == "accept_transfer":
            assert before.pending_from_unit is not None
        elif before.pending_from_unit is not None:
            assert at_counter, f"{action} before the transfer was accepted"
        # Roles, as the procedure rules state them: inspectors and administrators never act
        # on a file; only signing officers sign; only the counter dispatches and takes a
        # withdrawal; a post agent only delivers; refusing a file is for those who examine it.
        assert not actor.roles & {Role.INSPECTOR, Role.ADMINISTRATOR} or actor.roles & {
            Role.RECEPTION, Role.SPECIALIST, Role.SIGNING_OFFICER}, action
        if action == "sign":
            assert Role.SIGNING_OFFICER in actor.roles
        if action in ("dispatch", "withdraw"):
            assert Role.RECEPTION in actor.roles, action
        if action == "reject":
            assert actor.roles & {Role.SPECIALIST, Role.SIGNING_OFFICER}, action
        if Role.POST_AGENT in actor.roles:
            assert action == "deliver", action
        if action == "deliver":
            assert before.stage in (Stage.IN_POSTAL_TRANSIT, Stage.AWAITING_PICKUP), before.stage
        if action == "dispatch":
            assert before.stage in (Stage.SIGNED, Stage.REJECTED), before.stage

    @rule(actor=st.sampled_from(STAFF), unit=st.sampled_from(UNITS), note=text)
    def transfer(self, actor: str, unit: str, note: str) -> None:
        self._attempt("transfer", actor, to_unit=unit, note=note)

    @rule(actor=st.sampled_from(STAFF))
    def accept_transfer(self, actor: str) -> None:
        self._attempt("accept_transfer", actor)

    @rule(actor=st.sampled_from(STAFF), reason=text)
    def request_supplement(self, actor: str, reason: str) -> None:
        self._attempt("request_supplement", actor, missing_items=["Bản sao CCCD"],
                      reason=reason, justification="Cần bổ sung thêm")

    @rule(actor=st.sampled_from(STAFF))
    def provide_supplement(self, actor: str) -> None:
        self._attempt("provide_supplement", actor, documents=["Bản sao CCCD"])

    @rule(actor=st.sampled_from(STAFF), number=st.sampled_from(["12/QĐ", "", "  "]))
    def sign(self, actor: str, number: str) -> None:
        self._attempt("sign", actor, decision_number=number, decision_title="Quyết định",
                      passphrase=SIGNING_PASSPHRASE)

    @rule(actor=st.sampled_from(STAFF), reasons=text)
    def reject(self, actor: str, reasons: str) -> None:
        self._attempt("reject", actor, reasons=reasons)

    @rule(actor=st.sampled_from(STAFF), reason=text)
    def withdraw(self, actor: str, reason: str) -> None:
        self._attempt("withdraw", actor, reason=reason)

    @rule(actor=st.sampled_from(STAFF), days=st.integers(-5, 40), apology=text)
    def extend(self, actor: str, days: int, apology: str) -> None:
        due = self._dossier().due_date + timedelta(days=days)
        self._attempt("extend", actor, new_due_date=due, reason="Cần xác minh thêm",
                      apology=apology)

    @rule(actor=st.sampled_from(STAFF), method=st.sampled_from(["post", "counter_pickup", "x"]))
    def dispatch(self, actor: str, method: str) -> None:
        self._attempt("dispatch", actor, method=method,
                      postal_tracking_number="EB123456789VN" if method == "post" else None)

    @rule(actor=st.sampled_from(STAFF), name=text)
    def deliver(self, actor: str, name: str) -> None:
        self._attempt("deliver", actor, recipient_name=name)

    @invariant()
    def versions_are_contiguous(self) -> None:
        events = list(self.app.repository.event_store.get(self.dossier_id))
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))

    def teardown(self) -> None:
        self.app.close()


DossierMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("HOSO_MACHINE_EXAMPLES", "60")), stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestDossierMachine = DossierMachine.TestCase


def test_the_machine_gets_past_the_first_steps() -> None:
    # A machine whose every command is refused would prove nothing: walk a legal route.
    machine = DossierMachine()
    try:
        machine.transfer("tiepnhan", "STP-HCTP", "")
        machine.accept_transfer("hctp")
        machine.transfer("hctp", "STP-BGD", "Trình ký")
        machine.accept_transfer("gd.stp")
        machine.sign("gd.stp", "12/QĐ")
        assert machine.accepted == 5 and machine._dossier().stage is Stage.SIGNED
    finally:
        machine.teardown()


def test_many_clients_on_one_version_exactly_one_wins(app: HosoApplication) -> None:
    dossier_id = receive(app).dossier_id
    start = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def act(n: int) -> None:
        start.wait()
        try:
            app.transfer(dossier_id, expected_version=1, actor_id="tiepnhan",
                         to_unit="STP-HCTP", note=f"máy {n}", request_key=uuid4().hex)
            result = "won"
        except ConcurrentChange as conflict:
            result = conflict.vi
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=act, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("won") == 1
    assert [o for o in outcomes if o != "won"] == [ConcurrentChange().vi] * 7
    assert app.dossier(dossier_id).version == 2
