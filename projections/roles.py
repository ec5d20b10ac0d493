"""Least privilege on PostgreSQL: the role that owns the tables migrates them; the role that
serves pages and follows the log may append to the record but never rewrite it.

``hoso migrate`` runs as the **owner** (``HOSO_DATABASE_URL`` naming the owner). ``hoso
serving-role NAME`` (as the owner) makes the **serving role** — ``hoso serve`` and ``hoso
project`` then connect as NAME:

- the record — the event store's tables and every ``log_*`` table (transparency log, its
  settings and checkpoints, and any added later) — SELECT and INSERT only. The event table
  also gets UPDATE, because the library takes an EXCLUSIVE lock on it to keep notification
  ids in commit order and PostgreSQL asks UPDATE, DELETE or TRUNCATE for that lock; a trigger
  refuses every row UPDATE or DELETE by anyone but the owner.
- every other table (read models, tracking positions, sessions, accounts, outbox): SELECT,
  INSERT, UPDATE and DELETE — they are caches or working state, rebuilt or rewritten by
  design.
- never TRUNCATE, and never ownership: ALTER, DROP and DROP TRIGGER belong to the owner, so
  the append-only triggers stay.

Tables created by later migrations are granted by ``hoso migrate`` itself when
``HOSO_SERVING_ROLE`` names the role.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from domain.application import HosoApplication
from projections.store import Dialect, Store


class RoleError(ValueError):
    pass


def record_tables(store: Store, tables: list[str]) -> list[str]:
    """The tables that are a record, not a cache: the event store's and the log's."""
    app = HosoApplication(env=store.eventsourcing_env())
    try:
        events = str(getattr(app.recorder, "events_table_name", ""))
    finally:
        app.close()
    return [t for t in tables if t == events or t.startswith("log_")]


def grant_serving_role(store: Store, role: str, *, password: str | None = None) -> list[str]:
    """Make ``role`` (a login role) able to serve and follow, and no more; the record tables."""
    if store.dialect is not Dialect.POSTGRESQL:
        raise RoleError("roles are PostgreSQL's: SQLite has one file and no roles")
    if not role or role == store.user:
        raise RoleError("the serving role must be another role than the owner's")
    schema = sql.Identifier(store.schema)
    who = sql.Identifier(role)
    with psycopg.connect(store.conninfo(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(who))
        if password is not None:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(who, sql.Literal(password)))
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            (store.schema,)).fetchall()]
        records = record_tables(store, tables)
        with conn.transaction():
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, who))
            conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema, who))
            conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}")
                         .format(schema, who))
            for table in tables:
                name = sql.Identifier(store.schema, table)
                conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(name, who))
                if table in records:
                    conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(name, who))
                else:
                    conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}")
                                 .format(name, who))
            events = [t for t in records if not t.startswith("log_")]
            for table in events:
                _owner_only_changes(conn, store.schema, table)
                conn.execute(sql.SQL("GRANT UPDATE ON {} TO {}").format(
                    sql.Identifier(store.schema, table), who))
    return records


def _owner_only_changes(conn: psycopg.Connection[tuple[object, ...]], schema: str,
                        table: str) -> None:
    """A trigger on the event table: rows are never updated or deleted but by its owner
    (whose own tools — tests of tampering, a repair — stay possible, and whom the log's
    verification watches)."""
    function = sql.Identifier(schema, "hoso_events_owner_only")
    conn.execute(sql.SQL(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID),"
        " 'MEMBER') THEN RAISE EXCEPTION 'the event store is append-only: % refused to %', "
        "TG_OP, current_user; END IF; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$").format(function))
    trigger = sql.Identifier(f"{table}_owner_only"[:63])
    conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
        trigger, sql.Identifier(schema, table)))
    conn.execute(sql.SQL(
        "CREATE TRIGGER {} BEFORE UPDATE OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {}()"
    ).format(trigger, sql.Identifier(schema, table), function))

