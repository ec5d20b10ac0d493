"""Provinces that add up: each province's store publishes the public columns of its review
read model, and one national statistics database subscribes to every province, through
PostgreSQL's own logical replication (no copy loop of ours).

A dossier never leaves its province, so a country is many stores, each with its own log and
checkpoints; the national database holds only what the public statistics page reads
(``ReviewView.public_rows``): no dossier code, no phone hash, no officer. Its hoso serves
``/stats`` and ``/open-data/summary.csv`` over the rows of every province (dossier ids are
random UUIDs, so rows from two provinces never collide).

The publisher needs ``wal_level = logical``; each subscription holds a replication slot on its
province, which keeps WAL there until the national database has taken it (see
docs/operations.md, *Provinces*, for what that costs and what breaks first).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from projections.store import Store

PUBLICATION = "hoso_public_statistics"
# Exactly the columns the public statistics read, and the key that identifies a row.
PUBLIC_COLUMNS = ("dossier_id", "procedure_code", "receiving_unit", "received_at",
                  "first_due_date", "due_date", "paused_working_days", "supplement_requests",
                  "result_ready_at", "withdrawn_at", "satisfaction", "rated_at")
# review_dossier's other NOT NULL columns, which the national copy never receives.
_UNPUBLISHED_REQUIRED = ("code", "channel", "phone_hash")


def publish_statistics(province: Store) -> None:
    """On a province's primary: publish the review model's public columns (idempotent)."""
    with psycopg.connect(province.conninfo(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s",
                        (PUBLICATION,)).fetchone():
            return
        conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}.review_dossier ({})").format(
            sql.Identifier(PUBLICATION), sql.Identifier(province.schema),
            sql.SQL(", ").join(map(sql.Identifier, PUBLIC_COLUMNS))))


def prepare_national(national: Store) -> None:
    """On the national database, after ``hoso migrate``: its review_dossier takes rows that
    carry only the public columns."""
    with psycopg.connect(national.conninfo(), autocommit=True) as conn:
        for column in _UNPUBLISHED_REQUIRED:
            conn.execute(sql.SQL("ALTER TABLE {}.review_dossier ALTER COLUMN {} DROP NOT NULL")
                         .format(sql.Identifier(national.schema), sql.Identifier(column)))


def subscribe_province(national: Store, name: str, province: Store, *,
                       same_cluster: bool = False) -> None:
    """On the national database: follow ``province``'s publication (its existing rows are
    copied first). ``same_cluster``: both databases on one PostgreSQL server, where the slot
    must be made beforehand (CREATE SUBSCRIPTION would wait for itself)."""
    slot = f"hoso_national_{name}"
    if same_cluster:
        with psycopg.connect(province.conninfo(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s",
                                (slot,)).fetchone():
                conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')",
                             (slot,))
    with psycopg.connect(national.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL(
            "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (create_slot = {}, "
            "slot_name = {})").format(
            sql.Identifier(slot), sql.Literal(province.conninfo()), sql.Identifier(PUBLICATION),
            sql.Literal(not same_cluster), sql.Literal(slot)))


def subscription_lag(national: Store) -> dict[str, int]:
    """Per subscription, the bytes of its province's WAL not yet applied here (from the
    province's side: ``pg_replication_slots``); for monitoring and the tests."""
    with psycopg.connect(national.conninfo(), autocommit=True) as conn:
        rows = conn.execute("SELECT subname, subconninfo, subslotname FROM pg_subscription "
                            "WHERE subdbid = (SELECT oid FROM pg_database "
                            "WHERE datname = current_database())").fetchall()
    lag: dict[str, int] = {}
    for name, conninfo, slot in rows:
        with psycopg.connect(conninfo, autocommit=True) as province:
            row = province.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) "
                "FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
        lag[name] = int(row[0]) if row and row[0] is not None else -1
    return lag
