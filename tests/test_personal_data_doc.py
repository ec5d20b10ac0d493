"""Issue 17, item 10: docs/personal-data.md lists exactly the tables of the schema, on both
stores — a table added without saying what personal data it holds fails here."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg

from projections.store import Dialect, Store

DOC = Path(__file__).resolve().parent.parent / "docs" / "personal-data.md"


def documented_tables() -> set[str]:
    """The backticked names in the first column of the document's table."""
    names: set[str] = set()
    for line in DOC.read_text().splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 2:
            names |= set(re.findall(r"`([a-z_0-9]+)`", cells[1]))
    return names


def schema_tables(store: Store) -> set[str]:
    if store.dialect is Dialect.SQLITE:
        with sqlite3.connect(str(store.sqlite_path)) as conn:
            return {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    with psycopg.connect(store.conninfo()) as conn:
        return {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (store.schema,))}


def test_the_personal_data_list_names_every_table_of_the_schema(store: Store) -> None:
    tables = schema_tables(store)
    assert tables - documented_tables() == set(), (
        "say in docs/personal-data.md what personal data these tables hold, and how they rest")


def test_the_personal_data_list_names_no_table_that_does_not_exist(store: Store) -> None:
    # Checked per store: a name must be a table of this store or belong to the other one.
    other = {"stored_events", "stored_snapshots", "sqlite_sequence"} \
        if store.dialect is Dialect.POSTGRESQL else {"hoso_events", "hoso_snapshots"}
    assert documented_tables() - schema_tables(store) - other == set()
