"""The store: one DuckDB file holding the core tables, written by ingest and read through Ibis.

Writes go through :meth:`Store.write_batch`, which replaces everything a source file produced
before (so a re-run is idempotent) inside one transaction (so a crash leaves the previous state).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from carevalue.backends import tune_duckdb
from carevalue.ingest import versions
from carevalue.ingest.batch import MAX_CONTENT, arrow_schema
from carevalue.ingest.staging import Staging
from carevalue.model import TABLES, table

if TYPE_CHECKING:
    from carevalue.ingest.batch import Batch

# Tables whose rows must belong to a patient that is stored (checked per batch).
PATIENT_OWNED = tuple(
    t.name for t in TABLES
    if t.name != "patients" and any(c.name == "patient_id" and c.required for c in t.columns)
)


class Store:
    """A DuckDB file with the common data model created in it."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self.con = duckdb.connect(self.path)
        tune_duckdb(self.con, self.path)
        for t in TABLES:
            self.con.execute(t.ddl())

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self, name: str) -> int:
        row = self.con.execute(f'SELECT count(*) FROM "{table(name).name}"').fetchone()
        return int(row[0]) if row else 0

    def write_batch(self, batch: Batch,
                    raw_lookup: Callable[[set[str]], dict[str, str]] | None = None) -> dict[str, int]:
        """Store one source file's rows and quarantine, replacing what it stored before.

        A record carrying meta.lastUpdated that another source also holds is settled by
        :func:`carevalue.ingest.versions.resolve` (the later version is stored, the other quarantined
        as superseded, both listed in ``record_versions``). Other rows whose key is already stored
        from another source are dropped when identical and quarantined when different; rows of patients that are not stored are quarantined as
        dangling references. A record is stored whole or not at all: when one of its rows is
        quarantined, every row of the same record (same locator) goes too. The whole file is one
        transaction, so a crash leaves the store as it was before the file. ``raw_lookup`` gives
        the raw text of records quarantined here (by locator), which the batch did not keep.
        Returns the file's read/stored/quarantined counts.
        """
        con = self.con
        src = batch.source
        con.execute("BEGIN TRANSACTION")
        stage: Staging | None = None
        try:
            seq = versions.ingest_seq(con, src, batch.sha256)
            # Rows of a source exist only together with its ingest_files row (same transaction).
            if con.execute("SELECT 1 FROM ingest_files WHERE source = ?", [src]).fetchone():
                for t in TABLES:
                    if any(c.name == "source" for c in t.columns):
                        con.execute(f'DELETE FROM "{t.name}" WHERE source = ?', [src])
                con.execute("DELETE FROM quarantine WHERE source = ?", [src])
                con.execute("DELETE FROM ingest_files WHERE source = ?", [src])
            self._insert_quarantine(batch)

            stage = Staging(con, batch)
            held = versions.resolve(con, batch, stage, seq)
            self._resolve_conflicts(stage, src)
            self._check_patients(stage, src)
            versions.record(con, src, held, seq)
            for name in stage.names:
                cols = ", ".join(f'"{c}"' for c in table(name).column_names)
                con.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM "_stage_{name}"')
            stage.drop()
            stage = None

            if raw_lookup is not None:
                self._fill_content(src, raw_lookup)
            q = con.execute(
                "SELECT count(DISTINCT locator) FROM quarantine WHERE source = ?", [src]
            ).fetchone()
            quarantined = int(q[0]) if q else 0
            counts = {"read": batch.read, "stored": batch.read - quarantined, "quarantined": quarantined}
            con.execute(
                "INSERT INTO ingest_files VALUES (?, ?, ?, ?, ?, ?)",
                [src, batch.format, batch.sha256, counts["read"], counts["stored"], quarantined],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            if stage is not None:
                stage.drop()
            raise
        return counts

    def _fill_content(self, src: str, raw_lookup: Callable[[set[str]], dict[str, str]]) -> None:
        missing = {r[0] for r in self.con.execute(
            "SELECT DISTINCT locator FROM quarantine WHERE source = ? AND content IS NULL", [src]).fetchall()}
        if not missing:
            return
        found = raw_lookup(missing)
        if found:
            self.con.executemany("UPDATE quarantine SET content = ? WHERE source = ? AND locator = ? AND content IS NULL",
                                 [[text[:MAX_CONTENT], src, loc] for loc, text in found.items()])

    def _insert_quarantine(self, batch: Batch) -> None:
        if not batch.quarantine_rows:
            return
        schema = arrow_schema("quarantine")
        cols = list(zip(*batch.quarantine_rows, strict=True))
        tbl = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)], schema=schema)
        self.con.register("_q", tbl)
        # The same problem reported twice for one record is one quarantine entry.
        self.con.execute("INSERT INTO quarantine SELECT DISTINCT ON (source, locator, field, reason) * FROM _q")
        self.con.unregister("_q")

    def _move_to_quarantine(self, stage: Staging, name: str, where: str, src: str, field: str,
                            reason: str, detail_sql: str) -> None:
        """Quarantine the records having a staged row of ``name`` matching ``where`` (alias s).

        Every staged row of those records (same locator, any table) is removed from staging.
        """
        con = self.con
        staged = f"_stage_{name}"
        moved = con.execute(f'SELECT count(*) FROM "{staged}" s WHERE {where}').fetchone()
        if not moved or not moved[0]:
            return
        con.execute(
            f"""INSERT INTO quarantine
                SELECT DISTINCT ON (s._locator) ?, s._locator, ?, CAST(s."{table(name).key[0]}" AS VARCHAR),
                       ?, ?, {detail_sql}, NULL
                FROM "{staged}" s WHERE {where}
                AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.source = ? AND q.locator = s._locator
                                AND q.field = ? AND q.reason = ?)""",
            [src, name, field, reason, src, field, reason],
        )
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _gone AS
                        SELECT DISTINCT s._locator FROM "{staged}" s WHERE {where}""")
        stage.remove_locators("SELECT _locator FROM _gone")
        con.execute("DROP TABLE _gone")

    def _resolve_conflicts(self, stage: Staging, src: str) -> None:
        con = self.con
        for name in stage.names:
            t = table(name)
            staged = f"_stage_{name}"
            on = " AND ".join(f's."{k}" = e."{k}"' for k in t.key)
            hits = con.execute(f'SELECT count(*) FROM "{staged}" s JOIN "{name}" e ON {on}').fetchone()
            if not hits or not hits[0]:
                continue
            data_cols = [c for c in t.column_names if c != "source"]
            same = " AND ".join(f's."{c}" IS NOT DISTINCT FROM e."{c}"' for c in data_cols)
            exists_diff = f'EXISTS (SELECT 1 FROM "{name}" e WHERE {on} AND NOT ({same}))'
            self._move_to_quarantine(
                stage, name, exists_diff, src, t.key[-1], "duplicate id with different content",
                f"'{name} ' || CAST(s.\"{t.key[0]}\" AS VARCHAR) || ' is already stored from another source with different content'",
            )
            # An identical row stored from another source: that source keeps it.
            stage.delete(name, f'DELETE FROM "{staged}" s WHERE EXISTS (SELECT 1 FROM "{name}" e WHERE {on})')

    def _check_patients(self, stage: Staging, src: str) -> None:
        for name in stage.names:
            if name not in PATIENT_OWNED:
                continue
            known = 'SELECT patient_id FROM patients'
            if "patients" in stage.names:
                known += ' UNION ALL SELECT patient_id FROM "_stage_patients"'
            where = f"(s.patient_id IS NULL OR s.patient_id NOT IN ({known}))"
            self._move_to_quarantine(
                stage, name, where, src, "patient", "dangling reference",
                "'refers to patient ' || coalesce(s.patient_id, '(none)') || ', which is not in this ingest or the store'",
            )
