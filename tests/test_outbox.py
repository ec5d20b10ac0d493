"""The outbox: events in → one message row per recipient, exactly once; deliveries claimed,
retried with backoff, given up; never refilled nor resent by a rebuild or a restart."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from domain.application import Attachment, HosoApplication
from domain.documents import check_upload
from domain.dossier import Applicant
from domain.errors import DomainError
from domain.sample_pdf import simple_pdf
from domain.webhooks import Subscription, new_secret
from notify.deliverer import RetryPolicy
from notify.messages import Email, compose_email
from projections.outbox import Channel, Status
from projections.runners import ReadModels, following
from projections.store import Store
from tests.conftest import FakeClock
from tests.helpers import APPLICANT, PROCEDURE, receive, wait_for, walk_to_delivered_by_post
from tests.notify_helpers import (
    EMAIL,
    NOTICES,
    RecordingSender,
    deliverer,
    receive_with_email,
    walk_with_every_notice,
)


@pytest.fixture
def models(store: Store, app: HosoApplication) -> Iterator[ReadModels]:
    read_models = ReadModels(store, app)
    yield read_models
    read_models.close()


def subscribe(models: ReadModels, app: HosoApplication, *, unit: str | None = None,
              procedure: str | None = None, partner: str = "vnpost") -> Subscription:
    subscription = Subscription.cleaned(
        partner_id=partner, url="http://127.0.0.1:9/hook", secret=new_secret(),
        unit_code=unit, procedure_code=procedure, directory=app.directory,
        created_at=app.clock())
    models.outbox.add_subscription(subscription)
    return subscription


def emails_of(models: ReadModels, dossier_id: UUID) -> list[tuple[str, str, str]]:
    return [(m.kind, m.recipient, m.status.value) for m in models.outbox.messages(dossier_id)
            if m.channel is Channel.EMAIL]


def test_each_notice_owes_one_email_to_the_applicant(app: HosoApplication,
                                                      models: ReadModels) -> None:
    told = receive_with_email(app).dossier_id
    walk_with_every_notice(app, told)
    silent = receive(app).dossier_id  # no address given at the counter
    walk_to_delivered_by_post(app, silent)
    models.catch_up()
    assert emails_of(models, told) == [(kind, EMAIL, "pending") for kind in NOTICES]
    assert emails_of(models, silent) == []
    by_post = receive_with_email(app).dossier_id
    walk_to_delivered_by_post(app, by_post)
    models.catch_up()
    assert [kind for kind, *_ in emails_of(models, by_post)] == ["dispatched", "delivered"]
    rows = repr(models.outbox.messages())
    for private in [*APPLICANT.values(), app.dossier(told).tracking_token,
                    app.dossier(by_post).tracking_token]:
        assert private not in rows


def test_an_event_applied_again_is_refused_with_its_rows(app: HosoApplication,
                                                         models: ReadModels) -> None:
    from eventsourcing.persistence import IntegrityError, Tracking

    from projections.outbox import OutboxProjection

    outcome = receive_with_email(app)
    subscribe(models, app, unit="TTHCC")
    supplement = app.request_supplement(outcome.dossier_id, expected_version=None,
                                        actor_id="tiepnhan", missing_items=["A"], reason="r")
    models.catch_up()
    before = models.outbox.messages()
    assert len(before) == 3  # the receipt's webhook; the email and webhook of the request
    [notification] = app.recorder.select_notifications(start=supplement.notification_id,
                                                       limit=1)
    with pytest.raises(IntegrityError):
        OutboxProjection(view=models.outbox).process_event(
            app.mapper.to_domain_event(notification), Tracking(app.name, notification.id))
    assert models.outbox.messages() == before


def test_partners_hear_of_the_dossiers_they_follow(app: HosoApplication, models: ReadModels,
                                                   clock: FakeClock) -> None:
    by_unit = subscribe(models, app, unit="STP-HCTP", partner="tu-phap")
    by_procedure = subscribe(models, app, procedure="2.000488", partner="cong-an")
    post = subscribe(models, app, unit="BUUDIEN", partner="vnpost")
    other = subscribe(models, app, procedure="2.001610", partner="khac")
    removed = subscribe(models, app, unit="TTHCC", partner="da-huy")
    assert models.outbox.remove_subscription(removed.id, now=clock())
    clock.advance(minutes=1)
    dossier = receive(app).dossier_id
    walk_to_delivered_by_post(app, dossier)
    models.catch_up()
    hooks = [m for m in models.outbox.messages(dossier) if m.channel is Channel.WEBHOOK]
    types = {s.id: [m.kind for m in hooks if m.recipient == s.id]
             for s in (by_unit, by_procedure, post, other, removed)}
    every = ["dossier.received", "dossier.transferred", "dossier.transfer_accepted",
             "dossier.transferred", "dossier.transfer_accepted", "dossier.signed",
             "dossier.transferred", "dossier.transfer_accepted", "dossier.dispatched",
             "dossier.delivered"]
    assert types[by_unit.id] == every  # on the route from the receipt on
    assert types[by_procedure.id] == every
    assert types[post.id] == ["dossier.dispatched", "dossier.delivered"]  # from hand-over
    assert types[other.id] == types[removed.id] == []
    body = hooks[-1].facts
    assert body["type"] == "dossier.delivered" and body["id"] == str(hooks[-1].id)
    assert body["dossier"] | {"due_date": "…"} == {
        "code": app.dossier(dossier).code, "procedure_code": "2.000488", "stage": "delivered",
        "holder_unit": "BUUDIEN", "due_date": "…", "version": 10}
    # The citizen's rating is their word about the service, not a status change.
    app.rate(app.dossier(dossier).tracking_token, dossier, satisfaction=5, came_back=False,
             unofficial_request=False, comment="")
    models.catch_up()
    assert models.outbox.messages(dossier) == hooks
    # A subscription made later does not replay what happened before it.
    clock.advance(minutes=1)
    subscribe(models, app, unit="STP-HCTP", partner="muon")
    models.catch_up()
    assert models.outbox.messages(dossier) == hooks


def test_a_follower_writes_the_outbox_as_events_are_recorded(app: HosoApplication,
                                                             models: ReadModels) -> None:
    with following(models):
        outcome = receive_with_email(app)
        walk_with_every_notice(app, outcome.dossier_id)
        last = app.recorder.max_notification_id()
        assert wait_for(lambda: models.outbox.has_tracking_id(app.name, last))
    assert [k for k, *_ in emails_of(models, outcome.dossier_id)] == NOTICES


def test_rebuild_and_restart_neither_refill_nor_resend(store: Store, app: HosoApplication,
                                                       models: ReadModels) -> None:
    outcome = receive_with_email(app)
    walk_with_every_notice(app, outcome.dossier_id)
    models.catch_up()
    sender = RecordingSender()
    assert deliverer(models, app, sender).run_once().delivered == 4
    before = models.outbox.messages()
    assert {m.status for m in before} == {Status.DELIVERED}
    models.rebuild()
    assert models.outbox.messages() == before
    assert deliverer(models, app, sender).run_once().attempted == 0
    # A restart: new read models on the same store, caught up, and a new deliverer.
    restarted = ReadModels(store, app)
    try:
        assert restarted.catch_up() == 0
        assert deliverer(restarted, app, sender).run_once().attempted == 0
        assert restarted.outbox.messages() == before
    finally:
        restarted.close()
    assert [e.subject.split(": ")[1].split(" / ")[1] for e in sender.sent] == [
        "more documents needed", "apology and new date for your result",
        "your result is ready for pick-up", "your result was handed over"]


class Crash(BaseException):
    """The process dies (SIGKILL, power cut): nothing after it runs, no handler sees it."""


def test_a_crash_between_send_and_record_sends_again_with_the_same_id(
        app: HosoApplication, models: ReadModels, clock: FakeClock) -> None:
    outcome = receive_with_email(app)
    app.request_supplement(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["A"], reason="r")
    models.catch_up()
    received: list[Email] = []

    class SendsThenDies:
        def send(self, email: Email) -> None:
            received.append(email)
            raise Crash

    with pytest.raises(Crash):
        deliverer(models, app, SendsThenDies()).run_once()
    [message] = models.outbox.messages(outcome.dossier_id)
    assert (message.status, message.attempts) == (Status.PENDING, 1)
    sender = RecordingSender()
    # Within the lease nobody takes it: the dead process might still be sending.
    assert deliverer(models, app, sender).run_once().attempted == 0
    clock.advance(minutes=11)
    assert deliverer(models, app, sender).run_once().delivered == 1
    assert [e.key for e in received + sender.sent] == [message.id, message.id]
    clock.advance(hours=5)
    assert deliverer(models, app, sender).run_once().attempted == 0
    assert len(sender.sent) == 1


def test_failures_back_off_then_give_up(app: HosoApplication, models: ReadModels,
                                        clock: FakeClock) -> None:
    outcome = receive_with_email(app)
    app.request_supplement(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["A"], reason="r")
    models.catch_up()
    down = RecordingSender(failing=True)
    waits: list[timedelta] = []
    for _ in range(RetryPolicy().max_attempts):
        done = deliverer(models, app, down).run_once()
        [message] = models.outbox.messages(outcome.dossier_id)
        if message.status is Status.FAILED:
            assert done.failed == 1
            break
        assert done.retried == 1 and "ConnectionRefusedError" in (message.last_error or "")
        waits.append(message.next_attempt_at - clock())
        # Not before it is due …
        clock.advance(seconds=(message.next_attempt_at - clock()).total_seconds() - 1)
        assert deliverer(models, app, down).run_once().attempted == 0
        clock.advance(seconds=1)  # … and then it is
    minutes = [w.total_seconds() / 60 for w in waits]
    assert len(minutes) == 7
    for got, nominal in zip(minutes, [1, 2, 4, 8, 16, 32, 60], strict=True):
        assert nominal * 0.8 <= got <= nominal * 1.2
    assert message.attempts == 8
    assert [p.id for p in models.outbox.problems()] == [message.id]
    assert deliverer(models, app, RecordingSender()).run_once().attempted == 0
    clock.advance(days=1)
    assert deliverer(models, app, RecordingSender()).run_once().attempted == 0
    # The mail server is back after a long outage: an administrator makes them due again.
    assert models.outbox.retry_failed(now=clock()) == 1
    assert models.outbox.retry_failed(now=clock()) == 0
    back = RecordingSender()
    assert deliverer(models, app, back).run_once().delivered == 1
    assert [e.key for e in back.sent] == [message.id]
    [message] = models.outbox.messages(outcome.dossier_id)
    assert (message.status, message.attempts) == (Status.DELIVERED, 1)


def test_an_address_refused_for_good_is_given_up_at_once(app: HosoApplication,
                                                          models: ReadModels) -> None:
    from notify.senders import PermanentFailure

    class Refuses:
        def send(self, email: Email) -> None:
            raise PermanentFailure("550 no such user")

    outcome = receive_with_email(app)
    app.request_supplement(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["A"], reason="r")
    models.catch_up()
    assert deliverer(models, app, Refuses()).run_once().failed == 1
    [message] = models.outbox.messages(outcome.dossier_id)
    assert (message.status, message.attempts, message.last_error) == (
        Status.FAILED, 1, "550 no such user")


def test_an_error_never_carries_the_citizens_address(app: HosoApplication,
                                                     models: ReadModels,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    import smtplib

    class Greylists:
        def send(self, email: Email) -> None:
            raise smtplib.SMTPRecipientsRefused(
                {email.to.upper(): (450, b"4.7.1 <" + email.to.encode() + b"> try later")})

    outcome = receive_with_email(app)
    app.request_supplement(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["A"], reason="r")
    models.catch_up()
    assert deliverer(models, app, Greylists()).run_once().retried == 1
    [message] = models.outbox.messages(outcome.dossier_id)
    assert "SMTPRecipientsRefused" in (message.last_error or "")
    assert "450" in (message.last_error or "") and "<applicant>" in (message.last_error or "")
    for text in (message.last_error or "", caplog.text):
        assert EMAIL not in text.lower()


def test_emails_wait_while_no_mail_server_is_set(app: HosoApplication,
                                                 models: ReadModels) -> None:
    outcome = receive_with_email(app)
    app.request_supplement(outcome.dossier_id, expected_version=None, actor_id="tiepnhan",
                           missing_items=["A"], reason="r")
    models.catch_up()
    assert deliverer(models, app, None).run_once().attempted == 0
    [message] = models.outbox.messages(outcome.dossier_id)
    assert (message.status, message.attempts) == (Status.PENDING, 0)
    assert deliverer(models, app, RecordingSender()).run_once().delivered == 1


def test_two_deliverers_never_claim_the_same_message(app: HosoApplication,
                                                     models: ReadModels,
                                                     store: Store) -> None:
    for _ in range(12):
        outcome = receive_with_email(app)
        app.request_supplement(outcome.dossier_id, expected_version=None,
                               actor_id="tiepnhan", missing_items=["A"], reason="r")
    models.catch_up()
    other = ReadModels(store, app)  # its own connections, as another process would have
    claimed: dict[str, list[UUID]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim_all(name: str, view_of: ReadModels) -> None:
        start.wait()
        while batch := view_of.outbox.claim(now=app.clock(), lease_until=app.clock()
                                            + timedelta(minutes=10), limit=2):
            claimed[name] += [m.id for m in batch]

    threads = [threading.Thread(target=claim_all, args=("a", models)),
               threading.Thread(target=claim_all, args=("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    other.close()
    assert not set(claimed["a"]) & set(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == sorted(m.id for m in models.outbox.messages())


def test_the_applicants_email_is_checked_at_the_counter() -> None:
    def applicant(email: str) -> Applicant:
        return Applicant.cleaned("Trần Thị Bích Ngọc", "0912345678", "12 Nguyễn Huệ",
                                 email=email)

    assert applicant("  Ngoc.Tran@Example.VN ").email == "Ngoc.Tran@example.vn"
    assert "email" not in applicant("").as_dict()  # as before addresses were asked for
    assert applicant("a@b.vn").as_dict()["email"] == "a@b.vn"
    for bad in ("ngoc", "ngoc@", "@example.vn", "ngoc@example", "ngọc@example.vn",
                "a b@example.vn", "a@@example.vn", "a..b@example.vn", "a@" + "x" * 250 + ".vn",
                "Ngọc <a@example.vn>"):
        with pytest.raises(DomainError) as refused:
            applicant(bad)
        assert "email" in refused.value.vi and "email address" in refused.value.en


def test_a_subscription_is_checked_before_it_is_kept(app: HosoApplication) -> None:
    def cleaned(**changes: str | None) -> Subscription:
        fields: dict[str, str | None] = {
            "partner_id": "vnpost", "url": "https://partner.example.vn/hoso",
            "secret": new_secret(), "unit_code": "BUUDIEN", "procedure_code": None} | changes
        return Subscription.cleaned(directory=app.directory, created_at=app.clock(),
                                    **fields)  # type: ignore[arg-type]

    assert cleaned().partner_id == "vnpost"
    assert cleaned(url="http://127.0.0.1:8080/x").url == "http://127.0.0.1:8080/x"
    for bad in ({"partner_id": "Bưu điện"}, {"url": "http://partner.example.vn/x"},
                {"url": "ftp://partner.example.vn"}, {"secret": "short"},
                {"unit_code": None}, {"unit_code": "NO-SUCH-UNIT"},
                {"unit_code": None, "procedure_code": "9.999"}):
        with pytest.raises(DomainError):
            cleaned(**bad)


def submitted_online(app: HosoApplication, key: str) -> UUID:
    procedure = app.directory.procedure(PROCEDURE)
    return app.submit_online(
        procedure_code=PROCEDURE, applicant_name="Lâm Văn Phúc", applicant_phone="0971234561",
        applicant_address="TP.HCM", applicant_email=EMAIL, result_delivery="online",
        attachments=[Attachment(d.name_vi, check_upload(
            io.BytesIO(simple_pdf(1, text=f"{key} {n}")), f"{n}.pdf"))
            for n, d in enumerate(procedure.document_list) if d.required],
        confirm_contact=lambda _: None, idempotency_key=key).dossier_id


def test_the_counters_answer_to_an_online_submission_is_emailed(
        app: HosoApplication, models: ReadModels, clock: FakeClock) -> None:
    accepted = submitted_online(app, "online-accepted")
    refused = submitted_online(app, "online-refused")
    models.catch_up()
    assert emails_of(models, accepted) == []  # nothing while the counter has not answered
    clock.advance(days=1)  # Tuesday 24 Nov: the due date counts from the acceptance
    app.accept_online(accepted, expected_version=None, actor_id="tiepnhan")
    app.refuse_to_receive(refused, expected_version=None, actor_id="tiepnhan",
                          reasons="Ảnh chụp CCCD bị mờ.")
    models.catch_up()
    assert emails_of(models, accepted) == [("received_online", EMAIL, "pending")]
    assert emails_of(models, refused) == [("not_received", EMAIL, "pending")]
    code = app.dossier(accepted).code
    [receipt] = models.outbox.messages(accepted)
    email = compose_email(receipt, link="https://hoso.example.vn/t/x", directory=app.directory)
    assert email.subject == (f"Hồ sơ {code}: giấy tiếp nhận hồ sơ và hẹn trả kết quả / "
                             "receipt and the date of your result")
    due = f"{app.dossier(accepted).due_date:%d/%m/%Y}"  # the domain's date, written out
    assert f"Ngày hẹn trả kết quả: {due}." in email.text
    assert "tiếp nhận lúc 09:00 24/11/2026" in email.text
    assert f"your result is due on {due}" in email.text
    [refusal] = models.outbox.messages(refused)
    text = compose_email(refusal, link="https://hoso.example.vn/t/y",
                         directory=app.directory).text
    assert "Ảnh chụp CCCD bị mờ." in text and "did not receive your online submission" in text
    assert "Lâm Văn Phúc" not in text and "0971234561" not in text
