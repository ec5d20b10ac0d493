"""The ``hoso`` command: serve, project, deliver, webhook, migrate, demo, rebuild, verify,
set-password, reset-second-factor, partner-key, and the key makers.

Each command reads the settings once (``_settings``: a malformed one ends the command with
its name, before anything is opened) and takes its parts from bootstrap/, which closes
them in order."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from eventsourcing.cryptography import AESCipher
from tqdm import tqdm

from bootstrap import check, open_parts, store_of
from config.settings import Settings, SettingsError
from domain.application import StoreUnreadable
from domain.bulk_demo import BULK_THRESHOLD, load_bulk_demo
from domain.demo import DEMO_SIGNING_PASSPHRASE, load_demo
from domain.errors import DomainError
from domain.transparency.checkpoint import NoteVerifier
from domain.webhooks import Subscription, new_secret
from projections.checkpoints import check_checkpoints
from projections.follow_lock import AlreadyFollowed, LogInUse
from projections.migrate import migrate
from projections.national import (
    prepare_national,
    publish_statistics,
    subscribe_province,
    subscription_lag,
)
from projections.phone_digest import new_phone_key
from projections.projector import Projector
from projections.receipt_key import new_receipt_key
from projections.roles import RoleError, grant_serving_role
from projections.runners import ReadModels
from projections.store import Dialect, Store
from projections.verify import verify
from web import log_privacy
from web.delivery import deliverer, delivery_loop
from web.proxies import parse_trusted_proxies
from web.rate_limit import STORAGE_ENV, storage_from_setting

DEMO_PASSWORD = "hoso-demo"

log = logging.getLogger("hoso")


def _settings() -> Settings:
    """The process's settings, each one checked (a malformed HOSO_CIPHER_KEY, phone key,
    proxy list, rate limit or mail server URL is said here, not mid-way)."""
    from web.app import check_web_settings

    try:
        settings = Settings.from_environment()
        check(settings)
        check_web_settings(settings)
    except SettingsError as error:
        sys.exit(f"hoso: {error}")
    return settings


def _store(settings: Settings) -> Store:
    try:
        return store_of(settings)
    except SettingsError as error:
        sys.exit(f"hoso: {error}")


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = _settings()
    store = _store(settings)
    applied = migrate(store, settings)
    print(f"{store.describe()}: " + (f"applied {', '.join(applied)}" if applied
                                     else "schema up to date"))
    if settings.serving_role is not None:
        cmd_serving_role(argparse.Namespace(role=settings.serving_role, password_stdin=False))


def cmd_serving_role(args: argparse.Namespace) -> None:
    """Run as the tables' owner: the role ``hoso serve``/``project`` may connect as."""
    store = _store(_settings())
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    try:
        records = grant_serving_role(store, args.role, password=password)
    except RoleError as error:
        sys.exit(f"hoso: {error}")
    print(f"{store.describe()}: role {args.role} may serve and follow; on the record "
          f"({', '.join(records)}) it may only read and append")


# How long uvicorn's supervisor waits for a worker's answer before it restarts the worker.
WORKER_HEALTHCHECK_SECONDS = 60


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn
    from limits.storage import MemoryStorage

    settings = _settings()
    store = _store(settings)
    replica = Store.read_replica(settings, store)
    if args.workers < 1:
        sys.exit("hoso: --workers must be at least 1")
    if args.workers > 1 and store.dialect is Dialect.SQLITE:
        sys.exit("hoso: SQLite serves from one process (one writer at a time on one file): "
                 "drop --workers, or use PostgreSQL (HOSO_DATABASE_URL=postgresql://…) for "
                 "several web workers")
    proxies = parse_trusted_proxies(settings.trusted_proxies)
    if args.workers > 1 and isinstance(storage_from_setting(settings.rate_limit_storage),
                                       MemoryStorage):
        print(f"hoso: rate limits are counted in each of the {args.workers} workers' memory, "
              f"so a client gets up to {args.workers} times each limit; set {STORAGE_ENV}="
              "redis://host:6379/0 to count once for all of them", file=sys.stderr)
    follow = args.workers == 1 and args.follow and settings.follow
    print(f"hoso serving {store.describe()} on http://{args.host}:{args.port}"
          + (f", {args.workers} workers" if args.workers > 1 else "")
          + (f", page queries from {replica.describe()}" if replica else "")
          + ("" if follow else "; not following the log: run `hoso project` beside it")
          + (f"; client addresses forwarded by {', '.join(proxies)} believed" if proxies
             else "; X-Forwarded-For ignored (no HOSO_TRUSTED_PROXIES)"))
    # uvicorn imports the factory by name in each worker process, and each reads the same
    # settings; the one that follows the log, or one that leaves it to `hoso project`.
    factory = ("web.app:create_app_from_environment" if follow
               else "web.app:create_worker_app")
    uvicorn.run(factory, factory=True, host=args.host,
                port=args.port, workers=args.workers, log_level="info",
                # The app believes forwarded headers from HOSO_TRUSTED_PROXIES only
                # (web/proxies.py); uvicorn's own default would believe any peer on
                # 127.0.0.1, so any local client could pick its address per request.
                proxy_headers=False,
                log_config=log_privacy.uvicorn_log_config(),
                # A worker answers the supervisor's pings only once its imports are done: on a
                # busy machine that took over uvicorn's 5 s, and the supervisor killed and
                # restarted each worker in turn, never serving (seen with two test suites and
                # other work on 2 cores).
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)


def cmd_cipher_key(args: argparse.Namespace) -> None:
    print(AESCipher.create_key(32))


def cmd_phone_key(args: argparse.Namespace) -> None:
    print(new_phone_key())


def cmd_receipt_key(args: argparse.Namespace) -> None:
    print(new_receipt_key())


def cmd_project(args: argparse.Namespace) -> None:
    """Follow the log in this process until SIGTERM or SIGINT."""
    settings = _settings()
    with open_parts(settings, read_models=True) as parts:
        app, models = parts.application, parts.models
        try:
            app.check_store_readable()
        except StoreUnreadable as error:
            sys.exit(f"hoso: {error}")
        projector = Projector(models, models.transparency(), app.clock,
                              companions=[delivery_loop(models, app, settings)])
        stop = _stop_on_signals()

        def tracked() -> str:
            return ", ".join(f"{name} {position or 0}"
                             for name, position in models.positions().items())

        resumed_from = tracked()
        try:
            projector.start()
        except AlreadyFollowed as error:
            sys.exit(f"hoso: {error}")
        try:
            how = "LISTEN/NOTIFY" if parts.store.dialect is Dialect.POSTGRESQL else "polling"
            signing = (f"checkpoints signed every {projector.interval.total_seconds():g} s and "
                       "at midnight" if projector.signs_checkpoints else "no checkpoints signed")
            log.info("hoso project: following %s by %s, resuming from the tracked positions "
                     "%s (last event in the log %s); %s", parts.store.describe(), how,
                     resumed_from, app.recorder.max_notification_id() or 0, signing)
            while not stop.wait(60):
                if not models.healthy():
                    log.warning("a read model is not following the log; it is being restarted")
        finally:
            projector.stop()
            log.info("hoso project stopped; tracked positions: %s", tracked())


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return stop


def cmd_deliver(args: argparse.Namespace) -> None:
    """Send what the outbox owes: once (``--once``), or every few seconds until SIGTERM.
    The process following the log (serve or project) writes the outbox and sends too; this
    one can run beside it, since a message is claimed by one sender at a time."""
    settings = _settings()
    with open_parts(settings, outbox=True) as parts:
        app, outbox = parts.application, parts.outbox
        assert outbox is not None
        try:
            app.check_store_readable()
            sender = deliverer(outbox, app, settings)
            if args.retry_failed:
                print(f"{outbox.retry_failed(now=app.clock())} messages given up are due again")
            if args.once:
                done = sender.run_once()
                print(f"delivered {done.delivered}, to retry {done.retried}, "
                      f"given up {done.failed}")
                return
            stop = _stop_on_signals()
            log.info("hoso deliver: sending from the outbox of %s every %g s",
                     parts.store.describe(), args.interval)
            while not stop.is_set():
                try:
                    sender.run_once()
                except Exception:
                    log.exception("delivery round failed; the next one tries again")
                stop.wait(args.interval)
        except (StoreUnreadable, ValueError) as error:
            sys.exit(f"hoso: {error}")


def cmd_national(args: argparse.Namespace) -> None:
    """Provinces feeding the national statistics database (projections/national.py)."""
    store = _store(_settings())
    if store.dialect is not Dialect.POSTGRESQL:
        print("hoso national needs PostgreSQL (logical replication)", file=sys.stderr)
        sys.exit(2)
    if args.action == "publish":
        publish_statistics(store)
        print(f"{store.describe()} publishes its public statistics columns")
    elif args.action == "prepare":
        prepare_national(store)
        print(f"{store.describe()} can take the provinces' statistics rows")
    elif args.action == "subscribe":
        subscribe_province(store, args.name, Store.from_url(args.province_url),
                           same_cluster=args.same_cluster)
        print(f"{store.describe()} follows province {args.name}")
    else:
        for name, lag in sorted(subscription_lag(store).items()):
            print(f"{name}: {lag} bytes of WAL not yet applied")


def cmd_webhook(args: argparse.Namespace) -> None:
    with open_parts(_settings(), outbox=True) as parts:
        app, outbox = parts.application, parts.outbox
        assert outbox is not None
        try:
            if args.action == "add":
                secret = args.secret or new_secret()
                subscription = Subscription.cleaned(
                    partner_id=args.partner, url=args.url, secret=secret, unit_code=args.unit,
                    procedure_code=args.procedure, directory=app.directory,
                    created_at=app.clock())
                outbox.add_subscription(subscription)
                print(f"subscription {subscription.id} for {subscription.partner_id}: "
                      f"{subscription.url}")
                if not args.secret:
                    print(f"signing secret (shown once; give it to the partner): {secret}")
            elif args.action == "remove":
                if not outbox.remove_subscription(args.id, now=app.clock()):
                    sys.exit(f"hoso: no active subscription {args.id!r}")
                print(f"subscription {args.id} removed")
            else:
                for s in outbox.subscriptions(include_removed=args.all):
                    follows = ", ".join(f"{k} {v}" for k, v in (("unit", s.unit_code),
                                        ("procedure", s.procedure_code)) if v)
                    removed = f" (removed {s.removed_at:%Y-%m-%d})" if s.removed_at else ""
                    print(f"{s.id}  {s.partner_id}  {s.url}  {follows}{removed}")
        except DomainError as error:
            sys.exit(f"hoso: {error.vi} / {error.en}")


def cmd_demo(args: argparse.Namespace) -> None:
    from web.accounts import open_accounts

    settings = _settings()
    with open_parts(settings, signing=True) as parts:
        app, store = parts.application, parts.store
        if args.if_empty and app.recorder.max_notification_id():
            print("demo: the store already has dossiers; nothing added")
        else:
            # Large demos take the bulk path: hundreds of dossiers saved per transaction.
            bulk = args.dossiers > BULK_THRESHOLD if args.bulk is None else args.bulk
            load = load_bulk_demo if bulk else load_demo
            before, started = app.recorder.max_notification_id() or 0, time.perf_counter()
            with tqdm(total=args.dossiers, desc="demo dossiers", unit="dossier") as bar:
                load(app, dossiers=args.dossiers, seed=args.seed, progress=bar.update)
            _rate("demo", (app.recorder.max_notification_id() or 0) - before, started)
            # Catch the read models up so the first page shows everything.
            models = ReadModels(store, app, settings=settings)
            started = time.perf_counter()
            with tqdm(desc="read models", unit="event") as bar:
                _rate("read models", models.catch_up(progress=bar.update), started)
            models.close()
        # After the demo, which appoints staff of its own.
        accounts = open_accounts(store)
        for staff in app.directory.staff.values():
            if not accounts.has_account(staff.user_id):
                accounts.set_password(staff.user_id, DEMO_PASSWORD)
        accounts.close()
        print("Demo sign-in — user names: " + ", ".join(app.directory.staff)
              + f"; password: {DEMO_PASSWORD}; signing passphrase: {DEMO_SIGNING_PASSPHRASE}")
        print("  e.g. tiepnhan (reception), hctp (specialist), gd.stp (signs), buudien (post),"
              " thanhtra (inspector)")


def _rate(what: str, events: int, started: float) -> None:
    seconds = time.perf_counter() - started
    print(f"{what}: {events:,} events in {seconds:,.1f} s ({events / seconds:,.0f} events/s)")


def cmd_rebuild(args: argparse.Namespace) -> None:
    with open_parts(_settings(), read_models=True) as parts:
        try:
            with tqdm(desc="rebuilding read models", unit="event") as bar:
                applied = parts.models.rebuild(progress=bar.update)
        except LogInUse as busy:
            sys.exit(f"hoso: {busy}")
    print(f"rebuilt from zero: {applied} events applied")


def cmd_verify(args: argparse.Namespace) -> None:
    leaves: list[bytes] = []
    with open_parts(_settings(), read_models=True) as parts:
        app, models = parts.application, parts.models
        with tqdm(total=app.recorder.max_notification_id() or 0, desc="verifying",
                  unit="event") as bar:
            report = verify(app, models.transparency_log, progress=bar.update,
                            on_leaf=lambda _, leaf: leaves.append(leaf))
        log = models.transparency()
        notes = [(f"#{c.tree_size} stored", c.note) for c in log.checkpoints.checkpoints()]
        notes += [(path, Path(path).read_text()) for path in args.against]
        verifier = (NoteVerifier.parse(_key_text(args.key)) if args.key
                    else log.signer.verifier if log.signer else None)
        problems = check_checkpoints(leaves, notes, verifier, log.origin)
    for finding in report.findings:
        print(finding)
    for problem in problems:
        print(problem)
    print(report.summary() + f"; {len(notes)} checkpoints checked, {len(problems)} failed")
    if not report.ok or problems:
        sys.exit(1)


def _key_text(value: str) -> str:
    """A verifier key given as itself, or as a file holding it."""
    path = Path(value)
    return path.read_text().strip() if path.exists() else value.strip()


def cmd_checkpoint(args: argparse.Namespace) -> None:
    with open_parts(_settings(), read_models=True) as parts:
        parts.models.catch_up()
        log = parts.models.transparency()
        if log.signer is None:
            print("no signing key: set HOSO_LOG_SIGNING_KEY", file=sys.stderr)
            sys.exit(2)
        made = log.make_checkpoint(parts.application.clock())
        print(made.note if made else "the log has not grown since the last checkpoint\n", end="")


def cmd_escalate_feedback(args: argparse.Namespace) -> None:
    from projections.feedback import escalate_overdue

    with open_parts(_settings(), read_models=True) as parts:
        parts.models.catch_up()
        print("escalated to the inspectorate: "
              f"{escalate_overdue(parts.application, parts.models.feedback)}")


WITNESS_KEY_ENV = "HOSO_WITNESS_KEY"


def cmd_witness(args: argparse.Namespace) -> None:
    """A witness of other logs: its own key and state file, the logs' keys, no store."""
    import uvicorn

    from domain.transparency.witness import CosignerKey, FileWitnessState, Witness
    from web.witness import create_witness_app

    if args.new_key:
        key = CosignerKey.generate(args.new_key)
        print(f"{WITNESS_KEY_ENV}={key.skey}\n# its verifier key, for HOSO_WITNESSES:\n"
              f"{key.verifier.vkey}")
        return
    skey = Settings.from_environment().witness_key
    if not skey or not args.log_key or not args.state:
        print(f"a witness needs {WITNESS_KEY_ENV}, --state and at least one --log-key "
              "(make a key with --new-key NAME)", file=sys.stderr)
        sys.exit(2)
    logs = {}
    for text in args.log_key:
        verifier = NoteVerifier.parse(_key_text(text))
        logs[verifier.name] = verifier  # hoso's log key is named after its origin
    witness = Witness(CosignerKey.parse(skey), logs, FileWitnessState(Path(args.state)))
    uvicorn.run(create_witness_app(witness), host=args.host, port=args.port)


def cmd_set_password(args: argparse.Namespace) -> None:
    from web.accounts import open_accounts

    with open_parts(_settings()) as parts:
        if args.user not in parts.application.directory.staff:
            sys.exit(f"hoso: no staff member {args.user!r}")
        password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass()
        accounts = open_accounts(parts.store)
        try:
            accounts.set_password(args.user, password)
        except ValueError as error:
            sys.exit(f"hoso: {error}")
        finally:
            accounts.close()
    print(f"password set for {args.user}")


def cmd_reset_second_factor(args: argparse.Namespace) -> None:
    """For a staff member who lost the phone: they sign in with the password alone again
    and may turn two-step sign-in back on with a new phone."""
    from web.accounts import open_accounts

    accounts = open_accounts(_store(_settings()))
    try:
        removed = accounts.remove_second_factor(args.user)
    finally:
        accounts.close()
    print(f"two-step sign-in turned off for {args.user}" if removed
          else f"{args.user} had no two-step sign-in")


def cmd_partner_key(args: argparse.Namespace) -> None:
    """Partners' API keys: made (the key printed once), revoked, listed."""
    from web.accounts import open_accounts
    from web.api.keys import parse_scopes, partner_keys_on, unusable_scopes

    settings = _settings()
    accounts = open_accounts(_store(settings))
    keys = partner_keys_on(accounts.datastore)
    now = datetime.now(UTC)
    try:
        if args.action == "create":
            try:
                scopes = parse_scopes(args.scopes)
            except ValueError as error:
                sys.exit(f"hoso: {error}")
            with open_parts(settings) as parts:
                member = parts.application.directory.staff.get(args.partner)
            if member is None:
                sys.exit(f"hoso: no member {args.partner!r} in the directory: appoint the "
                         "partner's system first (Quản trị → Bổ nhiệm), with the unit and "
                         "role its actions need")
            for scope in unusable_scopes(scopes, member):
                print(f"warning: {member.user_id}'s roles "
                      f"({', '.join(sorted(member.roles))}) cannot {scope.value}: such calls "
                      "will be refused (403)", file=sys.stderr)
            made = keys.create(partner_id=member.user_id, name=args.name or member.full_name,
                               scopes=scopes, now=now)
            print(f"key id {made.key.key_id} for {member.user_id} ({made.key.name}), "
                  f"scopes {','.join(sorted(made.key.scopes))}")
            print("The key, shown this once (only its hash is kept):")
            print(made.secret_key)
        elif args.action == "revoke":
            if not keys.revoke(args.key_id, now):
                sys.exit(f"hoso: no live key {args.key_id!r}")
            print(f"key {args.key_id} revoked")
        else:
            for key in keys.listing():
                state = (f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at
                         else "live")
                print(f"{key.key_id}  {key.partner_id:<20} {','.join(sorted(key.scopes)):<30} "
                      f"created {key.created_at:%Y-%m-%d %H:%M}  {state}  {key.name}")
    finally:
        accounts.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # yoyo logs every step of every migration (~100 lines on a new store); `hoso migrate`
    # prints one line naming what it applied.
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    log_privacy.install()
    parser = argparse.ArgumentParser(
        prog="hoso", description="Event-sourced tracking of administrative dossiers. "
        "The store is chosen by HOSO_DATABASE_URL (default sqlite:///var/hoso.sqlite3).")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="web worker processes (PostgreSQL only); with more than one, run "
                       "`hoso project` beside them")
    serve.add_argument("--no-follow", dest="follow", action="store_false",
                       help="leave following the log and signing checkpoints to a separate "
                       "`hoso project`")
    serve.set_defaults(func=cmd_serve)

    commands.add_parser(
        "project", help="keep the read models and the transparency log up to date and sign "
        "checkpoints, in a process of its own (beside `hoso serve --no-follow`)"
    ).set_defaults(func=cmd_project)

    deliver = commands.add_parser(
        "deliver", help="send the emails and webhooks the outbox owes (serve and project "
        "send them too)")
    deliver.add_argument("--once", action="store_true", help="send what is due now and exit")
    deliver.add_argument("--retry-failed", action="store_true",
                         help="first make every message given up due again (after a long "
                         "outage of the mail server or a partner)")
    deliver.add_argument("--interval", type=float, default=5.0,
                         help="seconds between rounds (default 5)")
    deliver.set_defaults(func=cmd_deliver)

    webhook = commands.add_parser("webhook", help="partners' webhook subscriptions")
    webhook_actions = webhook.add_subparsers(dest="action", required=True)
    add = webhook_actions.add_parser(
        "add", help="subscribe a partner to the status changes of a unit's or a "
        "procedure's dossiers, from now on")
    add.add_argument("--partner", required=True, help="the partner's id, e.g. vnpost")
    add.add_argument("--url", required=True, help="https:// address to POST to")
    add.add_argument("--unit", help="a unit code: dossiers routed, transferred or handed to it")
    add.add_argument("--procedure", help="a procedure code")
    add.add_argument("--secret", help="the signing secret (default: a new random one, "
                     "printed once)")
    remove = webhook_actions.add_parser("remove", help="stop a subscription")
    remove.add_argument("id")
    listing = webhook_actions.add_parser("list", help="the subscriptions (never their secrets)")
    listing.add_argument("--all", action="store_true", help="removed ones too")
    webhook.set_defaults(func=cmd_webhook)

    national = commands.add_parser(
        "national", help="provinces feeding the national statistics database (PostgreSQL "
        "logical replication)")
    national_actions = national.add_subparsers(dest="action", required=True)
    national_actions.add_parser("publish", help="on a province: publish the public "
                                "statistics columns of its review model")
    national_actions.add_parser("prepare", help="on the national database, after migrate: "
                                "take rows that carry only those columns")
    subscribe = national_actions.add_parser("subscribe", help="on the national database: "
                                            "follow a province's publication")
    subscribe.add_argument("name", help="the province's short name, e.g. hcm")
    subscribe.add_argument("province_url", help="the province's postgresql:// URL")
    subscribe.add_argument("--same-cluster", action="store_true",
                           help="both databases on one PostgreSQL server (tests, demos)")
    national_actions.add_parser("lag", help="on the national database: WAL each province "
                                "keeps for it")
    national.set_defaults(func=cmd_national)

    commands.add_parser("migrate", help="create or update the store's tables").set_defaults(
        func=cmd_migrate)

    demo = commands.add_parser("demo", help="add demo staff accounts and dossiers")
    demo.add_argument("--dossiers", type=int, default=120)
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--if-empty", action="store_true",
                      help="add dossiers only when the store has none")
    demo.add_argument("--bulk", action=argparse.BooleanOptionalAction, default=None,
                      help="save hundreds of dossiers per transaction, over a year "
                      f"(default: above {BULK_THRESHOLD:,} dossiers)")
    demo.set_defaults(func=cmd_demo)

    commands.add_parser("rebuild", help="rebuild every read model from zero (stop serve first)"
                        ).set_defaults(func=cmd_rebuild)

    verify_parser = commands.add_parser(
        "verify", help="check every stored dossier event against the transparency log and "
        "its signed checkpoints (non-zero exit on any finding)")
    verify_parser.add_argument("--against", nargs="*", default=[], metavar="FILE",
                               help="checkpoints kept by an outsider, one signed note per file")
    verify_parser.add_argument("--key", help="the verifier key (text or file); default: the "
                               "installation's own")
    verify_parser.set_defaults(func=cmd_verify)

    commands.add_parser("checkpoint", help="sign a checkpoint of the log now (serve does it "
                        "every few minutes)").set_defaults(func=cmd_checkpoint)

    commands.add_parser("escalate-feedback", help="hand citizens' feedback unanswered past its "
                        "deadline to the inspectorate (run daily)"
                        ).set_defaults(func=cmd_escalate_feedback)


    witness = commands.add_parser(
        "witness", help="run a witness of other installations' logs (c2sp.org/tlog-witness): "
        "it cosigns each checkpoint that extends the last one it saw")
    witness.add_argument("--log-key", action="append", default=[], metavar="VKEY",
                         help="a log's verifier key (text or file), named after its origin; "
                         "repeat for several logs")
    witness.add_argument("--state", help="the file keeping the last checkpoint of each log")
    witness.add_argument("--host", default="127.0.0.1")
    witness.add_argument("--port", type=int, default=8090)
    witness.add_argument("--new-key", metavar="NAME",
                         help="print a new witness key named NAME and exit")
    witness.set_defaults(func=cmd_witness)

    setpw = commands.add_parser("set-password", help="set a staff member's password")
    setpw.add_argument("user")
    setpw.add_argument("--stdin", action="store_true", help="read the password from stdin")
    setpw.set_defaults(func=cmd_set_password)
    reset2fa = commands.add_parser(
        "reset-second-factor", help="turn off a staff member's two-step sign-in (lost phone)")
    reset2fa.add_argument("user")
    reset2fa.set_defaults(func=cmd_reset_second_factor)

    partner = commands.add_parser(
        "partner-key", help="partners' API keys: create (printed once), revoke, list")
    partner_actions = partner.add_subparsers(dest="action", required=True)
    create = partner_actions.add_parser(
        "create", help="a new key for a partner (a member of the directory)")
    create.add_argument("--partner", required=True,
                        help="the directory member the partner's system acts as")
    create.add_argument("--scopes", required=True,
                        help="comma-separated: submit, transfer, dispatch, deliver")
    create.add_argument("--name", help="the partner's name (default: the member's)")
    revoke = partner_actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    partner_actions.add_parser("list", help="every key, live and revoked")
    partner.set_defaults(func=cmd_partner_key)

    commands.add_parser("cipher-key", help="print a new key for HOSO_CIPHER_KEY (events "
                        "encrypted at rest)").set_defaults(func=cmd_cipher_key)
    serving = commands.add_parser(
        "serving-role", help="(PostgreSQL, as the tables' owner) let ROLE serve and follow the "
        "log: append to the event store and the log, never rewrite them")
    serving.add_argument("role")
    serving.add_argument("--password-stdin", action="store_true",
                         help="set the role's password from the first line of stdin")
    serving.set_defaults(func=cmd_serving_role)
    commands.add_parser("phone-key", help="print a new key for HOSO_PHONE_KEY (the applicants' "
                        "phones in the read models, keyed digests)").set_defaults(
                            func=cmd_phone_key)
    commands.add_parser("receipt-key", help="print a new key for HOSO_RECEIPT_SIGNING_KEY (the "
                        "agency's signature on the promise in the receipt's QR code)").set_defaults(
                            func=cmd_receipt_key)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
