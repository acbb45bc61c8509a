"""Runs that publish atomically: each run writes its tables into a file of its own, then publishes.

Beside the core store ``S`` (written by ingest) lives the folder ``S.runs/``: one DuckDB file per run
(``<run_id>.duckdb``), ``CURRENT`` naming the last complete run, and ``runs.json``, the run registry
(id, stages, definitions hash, started, finished, status). A reader opens the run named by
``CURRENT`` read-only with the core store attached, so it sees one complete run while another run is
writing; a run that fails or is killed never becomes current and is marked in the registry. One run
at a time: ``run.lock`` is held (``flock``) for the whole run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend

from carevalue.backends import tune_duckdb, write_table
from carevalue.model import ALL_TABLES, TABLES


class RunLocked(RuntimeError):
    """Another run is writing this store."""


@dataclass
class RunRecord:
    run_id: str
    stages: list[str]
    definitions_hash: str
    started: str
    finished: str | None = None
    status: str = "running"  # running, published, failed, interrupted
    message: str = ""
    pid: int = field(default_factory=os.getpid)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def attach_core(con: BaseBackend, core: Path, legacy: bool = False) -> list[str]:
    """Make the core store's tables readable by name in ``con`` (read-only, as temp views).

    With ``legacy`` the measure tables found in the store file itself are readable too: a store
    written before runs existed (or by an engine function directly) is read as it is until its
    first run is published.
    """
    # IF NOT EXISTS: a second reader of the same run file in one process shares its database instance
    con.raw_sql(f"ATTACH IF NOT EXISTS {_sql_str(core)} AS core (READ_ONLY)")
    present = {r[0] for r in con.raw_sql(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'core'").fetchall()}
    names = [t.name for t in (ALL_TABLES if legacy else TABLES) if t.name in present]
    for name in names:
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {_quote(name)} AS SELECT * FROM core.main.{_quote(name)}")
    return names


class RunStore:
    """The runs folder of one DuckDB store."""

    def __init__(self, core: str | Path) -> None:
        self.core = Path(core)
        self.folder = Path(str(self.core) + ".runs")

    # ------------------------------------------------------------------ registry
    @property
    def registry_path(self) -> Path:
        return self.folder / "runs.json"

    def records(self) -> list[RunRecord]:
        """Every run recorded, oldest first; a 'running' run whose process is gone is 'interrupted'."""
        if not self.registry_path.exists():
            return []
        raw = json.loads(self.registry_path.read_text(encoding="utf-8"))
        out = [RunRecord(**r) for r in raw]
        if any(r.status == "running" for r in out) and not self._locked():
            for r in out:
                if r.status == "running":
                    r.status, r.message = "interrupted", "the run ended before publishing (killed or crashed)"
        return out

    def _save(self, records: list[RunRecord]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.registry_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([asdict(r) for r in records], indent=1), encoding="utf-8")
        os.replace(tmp, self.registry_path)

    def current_id(self) -> str | None:
        p = self.folder / "CURRENT"
        if not p.exists():
            return None
        rid = p.read_text(encoding="utf-8").strip()
        return rid if self.run_file(rid).exists() else None

    def run_file(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.duckdb"

    def remove_run(self, run_id: str) -> None:
        """Delete what a run wrote (a failed, interrupted or superseded one)."""
        self.run_file(run_id).unlink(missing_ok=True)
        Path(str(self.run_file(run_id)) + ".wal").unlink(missing_ok=True)

    # ------------------------------------------------------------------ lock
    def _locked(self) -> bool:
        path = self.folder / "run.lock"
        if not path.exists():
            return False
        with open(path, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
        return False

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "run.lock", "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RunLocked(f"another `carevalue run` is writing {self.core}; wait for it to finish") from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ a run
    def begin(self, stages: list[str], definitions_hash: str,
              rebuilds: set[str] | None = None) -> tuple[RunRecord, BaseBackend]:
        """Record a new run (marking interrupted ones) and open its private file; call under lock().

        ``rebuilds`` (given for a run of some stages only: the tables they write): the new file
        starts as a byte copy of the current run's file, much cheaper than copying the tables it
        keeps row by row, and :meth:`carry_over` drops what is rebuilt."""
        records = self.records()
        current = self.current_id()
        for r in records:
            if r.status == "interrupted":
                self.remove_run(r.run_id)
        rec = RunRecord(new_run_id(), stages, definitions_hash, _now())
        self._save([*records, rec])
        self._carried, self._copied = [], False
        if current and rebuilds is not None:
            # the current run was checkpointed when it was published: its file is complete
            shutil.copyfile(self.run_file(current), self.run_file(rec.run_id))
            self._copied = True
        con = ibis.duckdb.connect(str(self.run_file(rec.run_id)))
        tune_duckdb(con, self.core, preserve_insertion_order=False)  # stage writes need no row order
        if self._copied:
            self._carried = [r[0] for r in con.raw_sql(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND table_name <> 'runs'").fetchall()]
        attach_core(con, self.core)
        if current and not self._copied:  # carry the tables this run does not rebuild over
            con.raw_sql(f"ATTACH {_sql_str(self.run_file(current))} AS prev (READ_ONLY)")
            rows = con.raw_sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'prev' "
                               "AND table_name <> 'runs'").fetchall()
            self._carried = [r[0] for r in rows]
        return rec, con

    def carry_over(self, con: BaseBackend, keep: set[str]) -> list[str]:
        """The previous run's tables that are not in ``keep`` (rebuilt by this run), carried into
        this run's file: already there when the file started as a copy (the rebuilt ones and the
        old ``runs`` table are dropped), else copied table by table."""
        done = [n for n in self._carried if n not in keep]
        if self._copied:
            for name in [n for n in self._carried if n in keep] + ["runs"]:
                con.raw_sql(f"DROP TABLE IF EXISTS main.{_quote(name)}")
            return done
        for name in done:
            con.raw_sql(f"CREATE TABLE main.{_quote(name)} AS SELECT * FROM prev.main.{_quote(name)}")
        if self._carried:
            con.raw_sql("DETACH prev")
        return done

    def publish(self, rec: RunRecord, con: BaseBackend) -> None:
        """Record the run in its own ``runs`` table, close it and make it current."""
        history = published_history(self.records(), rec)
        write_table(con, "runs", history_table(history))
        con.raw_sql("CHECKPOINT")
        con.disconnect()
        self._point_current(rec.run_id, history)

    def _point_current(self, run_id: str, history: list[RunRecord]) -> None:
        """Make ``run_id`` current with one rename, save the registry, remove superseded runs."""
        previous = self.current_id()
        tmp = self.folder / f"CURRENT.{os.getpid()}.tmp"
        tmp.write_text(run_id, encoding="utf-8")
        os.replace(tmp, self.folder / "CURRENT")
        self._save(history)
        # Keep the previous run's file for readers that opened it just before the switch.
        for r in history:
            if r.run_id not in (run_id, previous):
                self.remove_run(r.run_id)

    def fail(self, rec: RunRecord, con: BaseBackend | None, message: str) -> None:
        with contextlib.suppress(Exception):
            if con is not None:
                con.disconnect()
        self.remove_run(rec.run_id)
        rec.status, rec.finished, rec.message = "failed", _now(), message
        self._save([r for r in self.records() if r.run_id != rec.run_id] + [rec])

    # ------------------------------------------------------------------ readers
    def open_reader(self) -> BaseBackend:
        """A read-only connection: the current run's tables plus the core tables by name."""
        rid = self.current_id()
        if rid is None:
            con = ibis.duckdb.connect(":memory:")
        else:
            con = ibis.duckdb.connect(str(self.run_file(rid)), read_only=True)
        tune_duckdb(con, self.core)
        attach_core(con, self.core, legacy=rid is None)
        return con


def row_counts(con: BaseBackend, names: list[str]) -> dict[str, Any]:
    return {n: int(con.table(n).count().execute()) for n in names}


def published_history(records: list[RunRecord], rec: RunRecord) -> list[RunRecord]:
    """Mark ``rec`` published now and put it last in the run history (replacing an older copy)."""
    rec.status, rec.finished = "published", _now()
    return [r for r in records if r.run_id != rec.run_id] + [rec]


def history_table(history: list[RunRecord]) -> ibis.Table:
    """The ``runs`` table a run file carries: one row per run, lists joined with commas."""
    return ibis.memtable([{k: (",".join(v) if isinstance(v, list) else v) for k, v in asdict(r).items()}
                          for r in history])
