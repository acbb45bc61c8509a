"""Build small costing stores for tests: core tables via Store, engine tables per CONTRACTS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from carevalue.ingest.store import Store

ENGINE_DDL = {
    "care_cycles": """CREATE TABLE care_cycles (cycle_id VARCHAR, patient_id VARCHAR, condition VARCHAR,
        cycle_type VARCHAR, start_ts TIMESTAMP, end_ts TIMESTAMP, trigger_table VARCHAR, trigger_id VARCHAR,
        organization_id VARCHAR, ipu_id VARCHAR, period_label VARCHAR)""",
    "cycle_events": """CREATE TABLE cycle_events (cycle_id VARCHAR, patient_id VARCHAR, condition VARCHAR,
        event_table VARCHAR, event_id VARCHAR, event_ts TIMESTAMP, phase VARCHAR, encounter_id VARCHAR,
        organization_id VARCHAR, practitioner_id VARCHAR, cost_bearing BOOLEAN)""",
    "segments": "CREATE TABLE segments (patient_id VARCHAR, segment VARCHAR, valid_from DATE, valid_to DATE)",
    "cycle_flags": "CREATE TABLE cycle_flags (cycle_id VARCHAR, flag VARCHAR)",
}


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        cols = ", ".join(f'"{c}"' for c in r)
        con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" for _ in r)})', list(r.values()))


def make_store(path: Path, tables: dict[str, list[dict[str, Any]]], engine_tables: tuple[str, ...] = (
        "care_cycles", "cycle_events")) -> Path:
    """Create the store at ``path`` with ``tables`` rows; rows of core tables get source='test'."""
    store = Store(path)
    con = store.con
    for name in engine_tables:
        con.execute(ENGINE_DDL[name])
    for name, rows in tables.items():
        if name not in ENGINE_DDL:
            rows = [{**r, "source": "test"} for r in rows]
        insert(con, name, rows)
    store.close()
    return path


def memory_backend(tables: dict[str, list[dict[str, Any]]],
                   engine_tables: tuple[str, ...] = ("care_cycles", "cycle_events")):  # type: ignore[no-untyped-def]
    """An in-memory Ibis DuckDB backend holding the core tables (fast, for property tests)."""
    import ibis

    from carevalue.engine import costing  # noqa: F401  (applies the duckdb compat shim)
    from carevalue.model import TABLES

    be = ibis.duckdb.connect()
    raw = be.con
    for t in TABLES:
        raw.execute(t.ddl())
    for name in engine_tables:
        raw.execute(ENGINE_DDL[name])
    for name, rows in tables.items():
        if not rows:
            continue
        if name not in ENGINE_DDL:
            rows = [{**r, "source": "test"} for r in rows]
        cols = list(rows[0])
        raw.executemany(
            f'INSERT INTO "{name}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})',
            [[r[c] for c in cols] for r in rows])
    return be
