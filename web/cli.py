"""The ``hoso`` command: serve, migrate, demo, rebuild, verify, set-password."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from domain.application import HosoApplication
from domain.demo import DEMO_SIGNING_PASSPHRASE, load_demo
from domain.transparency.checkpoint import NoteVerifier
from projections.checkpoints import check_checkpoints
from projections.follow_lock import LogInUse
from projections.migrate import migrate
from projections.runners import ReadModels
from projections.store import Store, StoreConfigError
from projections.verify import verify
from web.key_vault import open_key_vault

DEMO_PASSWORD = "hoso-demo"


def _store() -> Store:
    try:
        return Store.from_environment()
    except StoreConfigError as error:
        sys.exit(f"hoso: {error}")


def cmd_migrate(args: argparse.Namespace) -> None:
    store = _store()
    applied = migrate(store)
    print(f"{store.describe()}: " + (f"applied {', '.join(applied)}" if applied
                                     else "schema up to date"))


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    print(f"hoso serving {_store().describe()} on http://{args.host}:{args.port}")
    uvicorn.run("web.app:create_app", factory=True, host=args.host, port=args.port,
                proxy_headers=True, log_level="info")


def cmd_demo(args: argparse.Namespace) -> None:
    from web.accounts import open_accounts

    store = _store()
    vault = open_key_vault(store)
    app = HosoApplication(env=store.eventsourcing_env(), key_vault=vault)
    if args.if_empty and app.recorder.max_notification_id():
        print("demo: the store already has dossiers; nothing added")
    else:
        with tqdm(total=args.dossiers, desc="demo dossiers", unit="dossier") as bar:
            load_demo(app, dossiers=args.dossiers, seed=args.seed, progress=bar.update)
        # Catch the read models up so the first page shows everything.
        models = ReadModels(store, app)
        with tqdm(desc="read models", unit="event") as bar:
            models.catch_up(progress=bar.update)
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
    app.close()
    vault.close()


def cmd_rebuild(args: argparse.Namespace) -> None:
    store = _store()
    app = HosoApplication(env=store.eventsourcing_env())
    models = ReadModels(store, app)
    try:
        with tqdm(desc="rebuilding read models", unit="event") as bar:
            applied = models.rebuild(progress=bar.update)
    except LogInUse as busy:
        sys.exit(f"hoso: {busy}")
    finally:
        models.close()
    app.close()
    print(f"rebuilt from zero: {applied} events applied")


def cmd_verify(args: argparse.Namespace) -> None:
    store = _store()
    app = HosoApplication(env=store.eventsourcing_env())
    models = ReadModels(store, app)
    leaves: list[bytes] = []
    try:
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
    finally:
        models.close()
        app.close()
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
    store = _store()
    app = HosoApplication(env=store.eventsourcing_env())
    models = ReadModels(store, app)
    try:
        models.catch_up()
        log = models.transparency()
        if log.signer is None:
            print("no signing key: set HOSO_LOG_SIGNING_KEY", file=sys.stderr)
            sys.exit(2)
        made = log.make_checkpoint(app.clock())
        print(made.note if made else "the log has not grown since the last checkpoint\n", end="")
    finally:
        models.close()
        app.close()


def cmd_set_password(args: argparse.Namespace) -> None:
    from web.accounts import open_accounts

    store = _store()
    app = HosoApplication(env=store.eventsourcing_env())
    if args.user not in app.directory.staff:
        sys.exit(f"hoso: no staff member {args.user!r}")
    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass()
    accounts = open_accounts(store)
    try:
        accounts.set_password(args.user, password)
    except ValueError as error:
        sys.exit(f"hoso: {error}")
    finally:
        accounts.close()
        app.close()
    print(f"password set for {args.user}")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog="hoso", description="Event-sourced tracking of administrative dossiers. "
        "The store is chosen by HOSO_DATABASE_URL (default sqlite:///var/hoso.sqlite3).")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    commands.add_parser("migrate", help="create or update the store's tables").set_defaults(
        func=cmd_migrate)

    demo = commands.add_parser("demo", help="add demo staff accounts and dossiers")
    demo.add_argument("--dossiers", type=int, default=120)
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--if-empty", action="store_true",
                      help="add dossiers only when the store has none")
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

    setpw = commands.add_parser("set-password", help="set a staff member's password")
    setpw.add_argument("user")
    setpw.add_argument("--stdin", action="store_true", help="read the password from stdin")
    setpw.set_defaults(func=cmd_set_password)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
