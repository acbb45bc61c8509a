"""The façade: one store, one definitions library, runs and the queries every interface asks.

CLI, report, dashboard and API open a :class:`Workspace` and make one call each. Interfaces never
run a stage implicitly: a query whose table no run has built raises :class:`MissingTable`, naming
the command that builds it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from carevalue.backends import backend_name
from carevalue.definitions.loader import Library, load_library
from carevalue.pipeline.orchestrate import (
    OnStage,
    RunResult,
    run_connection,
    run_parquet_store,
    run_store,
)
from carevalue.pipeline.runs import RunStore
from carevalue.pipeline.stages import producer


class WorkspaceError(RuntimeError):
    """Something a person must fix (no store, wrong backend, locked store); the message says what."""


class MissingTable(WorkspaceError):
    def __init__(self, table: str) -> None:
        stage = producer(table)
        how = (f"`carevalue run --store ...` (stage {stage})" if stage
               else "`carevalue ingest ... --store ...`")
        super().__init__(f"the store has no {table} table yet: run {how} first")
        self.table = table


class Workspace:
    """A store with its definitions library: a DuckDB file by default, or with the ``spark`` backend
    (``--backend spark`` or ``CAREVALUE_BACKEND=spark``) a Parquet folder that Spark runs read and write."""

    def __init__(self, store: str | Path | None, content: Sequence[str | Path] = (),
                 backend: str | None = None, con: BaseBackend | None = None) -> None:
        self.store = Path(store) if store is not None else None
        self.content = [Path(c) for c in content]
        try:
            self.backend = backend_name(backend)
        except ValueError as e:
            raise WorkspaceError(str(e)) from None
        self._con = con  # an open connection given by the caller (PySpark session, tests)
        self._reader: BaseBackend | None = None
        self._library: Library | None = None

    @classmethod
    def open(cls, store: str | Path, content: Sequence[str | Path] = (), backend: str | None = None,
             must_exist: bool = True) -> Workspace:
        """Open an existing store; ``must_exist=False`` for ingest, which creates it."""
        path = Path(store)
        if must_exist and not path.exists():
            raise WorkspaceError(f"no store at {path}: create one with `carevalue ingest PATH --store {path}`")
        if not must_exist and not path.parent.exists():
            raise WorkspaceError(f"folder {path.parent} does not exist: create it first or choose another --store")
        ws = cls(path, content, backend)
        if must_exist and ws.spark and not path.is_dir():
            raise WorkspaceError(f"the spark backend reads a Parquet store (a folder), and {path} is a file: "
                                 f"write one with `carevalue export-parquet --store {path} --out DIR`, "
                                 f"then `carevalue run --backend spark --store DIR`")
        return ws

    @property
    def spark(self) -> bool:
        """Whether this workspace runs on Spark (its store is then a Parquet folder)."""
        return self.backend == "pyspark"

    @classmethod
    def on_connection(cls, con: BaseBackend, content: Sequence[str | Path] = ()) -> Workspace:
        """A workspace over an open connection (e.g. PySpark with registered core tables)."""
        return cls(None, content, con.name, con)

    # ------------------------------------------------------------------ definitions
    @property
    def library(self) -> Library:
        """The packaged content plus any ``content`` folders (later ones override by id), loaded once."""
        if self._library is None:
            self._library = load_library(self.content)
        return self._library

    # ------------------------------------------------------------------ ingest
    def ingest(self, paths: Sequence[str | Path],
               on_file: Callable[[Any, int, int], None] | None = None, parquet: str | Path | None = None) -> Any:
        """Read every data file under ``paths`` into the core store (each file one transaction); with
        ``parquet``, also write the core tables there as a Parquet store for Spark runs."""
        from carevalue.ingest.run import ingest
        from carevalue.ingest.store import Store

        if self.store is None or self.spark:
            raise WorkspaceError("ingest writes a DuckDB store: give its path as --store (and --parquet DIR "
                                 "for the Parquet store a Spark run reads)")
        self.close()
        with Store(self.store) as store:
            report = ingest([Path(p) for p in paths], store, on_file)
        if parquet is not None:
            self.export_parquet(parquet)
        return report

    def export_parquet(self, out: str | Path) -> list[Path]:
        """Write the core tables as a Parquet store (one folder of Parquet files per table)."""
        from carevalue.backends import export_parquet
        from carevalue.model import TABLES

        if self.store is None or not self.store.is_file():
            raise WorkspaceError(f"no DuckDB store at {self.store}: ingest into one first")
        self.close()
        return export_parquet(self.store, out, [t.name for t in TABLES])

    # ------------------------------------------------------------------ runs
    def run(self, only: list[str] | None = None, on_stage: OnStage | None = None) -> RunResult:
        """Run the stages (all, or ``only`` those named) and publish them as one run."""
        lib = self.library
        if self._con is not None:
            return run_connection(self._con, lib, only, on_stage)
        if self.store is None:
            raise WorkspaceError("no store")
        self.close()
        if self.spark:
            return run_parquet_store(self.store, lib, only, on_stage)
        return run_store(self.store, lib, only, on_stage)

    def runs(self) -> list[dict[str, Any]]:
        """Every run recorded on this store, oldest first, with its status."""
        if self.store is None:
            return []
        return [asdict(r) for r in RunStore(self.store).records()]

    # ------------------------------------------------------------------ reading
    @property
    def con(self) -> BaseBackend:
        """The read connection: the last published run's tables and the core tables, by name."""
        if self._con is not None:
            return self._con
        if self._reader is None:
            if self.store is None:
                raise WorkspaceError("no store")
            if self.spark:
                from carevalue.pipeline.spark_runs import ParquetRunStore

                self._reader = ParquetRunStore(self.store).open_reader()
            else:
                self._reader = RunStore(self.store).open_reader()
        return self._reader

    def tables(self) -> set[str]:
        return set(self.con.list_tables())

    def require(self, *tables: str) -> None:
        have = self.tables()
        for t in tables:
            if t not in have:
                raise MissingTable(t)

    def ask(self, query: Callable[..., Any], /, **kw: Any) -> Any:
        """Answer one query: check the tables it needs, then call it with the connection and library."""
        self.require(*getattr(query, "needs", ()))
        return query(self.con, self.library, **kw)

    def close(self) -> None:
        if self._reader is not None:
            if not self.spark:  # a Spark reader shares the process's SparkSession: it stays up
                with contextlib.suppress(Exception):
                    self._reader.disconnect()
            self._reader = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[BaseBackend]:
        try:
            yield self.con
        finally:
            self.close()

    # ------------------------------------------------------------------ the named queries
    def cycles(self, patient: str) -> list[dict[str, Any]]:
        from carevalue.queries.cycles import patient_cycles

        return self.ask(patient_cycles, patient=patient)  # type: ignore[no-any-return]

    def segments(self, on: str | None = None) -> list[dict[str, Any]]:
        from carevalue.queries.segments import segment_counts

        return self.ask(segment_counts, on=on)  # type: ignore[no-any-return]

    def costs(self, condition: str | None = None) -> list[dict[str, Any]]:
        from carevalue.queries.costs import provider_costs

        return self.ask(provider_costs, condition=condition)  # type: ignore[no-any-return]

    def capacity(self) -> list[dict[str, Any]]:
        from carevalue.queries.costs import capacity

        return self.ask(capacity)  # type: ignore[no-any-return]

    def cost_opportunities(self, top: int = 10) -> list[dict[str, Any]]:
        from carevalue.queries.costs import opportunities

        return self.ask(opportunities, top=top)  # type: ignore[no-any-return]

    def outcomes(self, condition: str, measure: str, time_point: str | None = None) -> list[dict[str, Any]]:
        from carevalue.queries.outcomes import comparison

        return self.ask(comparison, condition=condition, measure=measure,  # type: ignore[no-any-return]
                        time_point=time_point)

    def value(self, condition: str | None = None) -> list[dict[str, Any]]:
        from carevalue.queries.value import value_rows

        return self.ask(value_rows, condition=condition)  # type: ignore[no-any-return]

    def risk_scores(self) -> list[dict[str, Any]]:
        from carevalue.queries.riskscores import by_segment

        return self.ask(by_segment)  # type: ignore[no-any-return]
