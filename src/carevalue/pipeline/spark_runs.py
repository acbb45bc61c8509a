"""Spark runs that publish atomically, as DuckDB runs do: each run writes its Parquet into a folder of its own.

A Spark store is a Parquet folder ``P`` holding one folder per core table (``carevalue ingest
--parquet P`` writes it). Beside it lives ``P.runs/`` with the same registry, lock and ``CURRENT``
pointer as a DuckDB store's runs folder, and one folder per run (``<run_id>/<table>/part-*.parquet``):
the run's Spark database is created at that folder, so every stage table is Parquet in it. The run
becomes current with one rename of ``CURRENT``; a run that fails or is killed never does, and its
folder is removed. Readers register the current run's table folders and the core tables as views.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from carevalue.backends import connect, parquet_tables, spark_session, write_table
from carevalue.model import ALL_TABLES, TABLES
from carevalue.pipeline.runs import (
    RunRecord,
    RunStore,
    _now,
    history_table,
    new_run_id,
    published_history,
)

CORE = frozenset(t.name for t in TABLES)


def run_database(run_id: str) -> str:
    """The Spark database (catalogue namespace) a run writes its tables into."""
    return "carevalue_run_" + "".join(c if c.isalnum() else "_" for c in run_id.lower())


# (Spark application, view) -> the Parquet path, inode and mtime the view reads
_SHOWN: dict[tuple[str, str], tuple[str, int, int]] = {}
DECLARED = frozenset({*(t.name for t in ALL_TABLES), "runs"})


def show_views(con: BaseBackend, session: Any, wanted: dict[str, Path], keep: bool = False) -> None:
    """Make ``wanted`` (name -> Parquet folder) the session's views of carevalue tables; unless
    ``keep``, views of other carevalue tables (an earlier run's) are dropped. A view that already
    reads the same unchanged folder stays: registering one reads Parquet footers, a Spark job."""
    app = session.sparkContext.applicationId
    views = {v.name for v in session.catalog.listTables() if v.isTemporary}
    stale = set() if keep else views & DECLARED - set(wanted)
    for name in stale:
        session.catalog.dropTempView(name)
        _SHOWN.pop((app, name), None)
    for name, path in wanted.items():
        st = path.stat()
        key = (str(path.resolve()), st.st_ino, st.st_mtime_ns)
        if name in views and _SHOWN.get((app, name)) == key:
            continue
        con.read_parquet(str(path), table_name=name)
        _SHOWN[(app, name)] = key


def table_folders(folder: Path) -> list[Path]:
    """The table folders Spark wrote into a run folder (one per table, each with Parquet files)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


class ParquetRunStore(RunStore):
    """The runs folder of one Parquet (Spark) store."""

    def __init__(self, core: str | Path, session: Any = None) -> None:
        super().__init__(core)
        self._session = session
        self._carried: list[str] = []
        self._previous: Path | None = None
        self._run_folder = self.folder

    def run_file(self, run_id: str) -> Path:
        return self.folder / run_id

    def remove_run(self, run_id: str) -> None:
        shutil.rmtree(self.run_file(run_id), ignore_errors=True)

    def connect(self, tables: dict[str, Path] | None = None) -> BaseBackend:
        """A connection on the shared SparkSession with the core tables (and ``tables``) in view."""
        if not self.core.is_dir():
            raise FileNotFoundError(f"no Parquet store at {self.core}: write one with "
                                    f"`carevalue ingest PATH --store S.duckdb --parquet {self.core}`")
        self._session = session = self._session or spark_session()
        con = connect(backend="pyspark", session=session)
        session.catalog.setCurrentDatabase("default")
        show_views(con, session, {**parquet_tables(self.core), **(tables or {})})
        return con

    # ------------------------------------------------------------------ a run
    def begin(self, stages: list[str], definitions_hash: str,
              rebuilds: set[str] | None = None) -> tuple[RunRecord, BaseBackend]:
        """Record a new run and create its database at its own folder; call under lock().
        ``rebuilds`` is not needed here: carried tables are copied folder by folder."""
        records = self.records()
        current = self.current_id()
        for r in records:
            if r.status == "interrupted":
                self.remove_run(r.run_id)
        rec = RunRecord(new_id := new_run_id(), stages, definitions_hash, _now())
        self._save([*records, rec])
        con = self.connect()
        self._run_folder = folder = self.run_file(new_id)
        folder.mkdir(parents=True)
        location = str(folder.resolve()).replace("'", "\\'")
        con.raw_sql(f"CREATE DATABASE {run_database(new_id)} LOCATION '{location}'")
        con.raw_sql(f"USE {run_database(new_id)}")
        self._previous = self.run_file(current) if current else None
        self._carried = [p.name for p in table_folders(self._previous) if p.name != "runs"] if self._previous else []
        return rec, con

    def carry_over(self, con: BaseBackend, keep: set[str]) -> list[str]:
        """Copy the previous run's table folders that this run does not rebuild (no Spark job)."""
        done = []
        for name in self._carried:
            if name not in keep and self._previous is not None:
                dest = self._run_folder / name
                shutil.copytree(self._previous / name, dest)
                done.append(name)
        if done:
            show_views(con, self._session, {n: self._run_folder / n for n in done}, keep=True)
        return done

    def publish(self, rec: RunRecord, con: BaseBackend) -> None:
        """Record the run in its own ``runs`` table and make it current with one rename."""
        history = published_history(self.records(), rec)
        write_table(con, "runs", history_table(history))
        con.raw_sql("USE default")
        self._point_current(rec.run_id, history)

    def fail(self, rec: RunRecord, con: BaseBackend | None, message: str) -> None:
        if con is not None:
            with contextlib.suppress(Exception):
                con.raw_sql("USE default")
                con.raw_sql(f"DROP DATABASE IF EXISTS {run_database(rec.run_id)} CASCADE")
        self.remove_run(rec.run_id)
        rec.status, rec.finished, rec.message = "failed", _now(), message
        self._save([r for r in self.records() if r.run_id != rec.run_id] + [rec])

    # ------------------------------------------------------------------ readers
    def open_reader(self) -> BaseBackend:
        """The current run's tables plus the core tables, by name, on the shared SparkSession."""
        rid = self.current_id()
        return self.connect({p.name: p for p in table_folders(self.run_file(rid))} if rid else None)

