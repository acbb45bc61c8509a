"""Run the chosen stages in order on one connection, checking what each reads and writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.model import TABLES
from carevalue.pipeline.runs import RunRecord, RunStore
from carevalue.pipeline.stage import Stage, StageContext, StageError, StageResult, check_columns
from carevalue.pipeline.stages import chosen, producer

OnStage = Callable[[str, int, int], None]


@dataclass
class RunResult:
    run_id: str
    status: str
    stages: list[StageResult] = field(default_factory=list)
    carried_over: list[str] = field(default_factory=list)
    definitions_hash: str = ""

    @property
    def lines(self) -> list[str]:
        return [line for s in self.stages for line in s.lines]

    def as_dict(self) -> dict[str, object]:
        return {"run_id": self.run_id, "status": self.status, "definitions_hash": self.definitions_hash,
                "carried_over": list(self.carried_over), "stages": [s.as_dict() for s in self.stages]}


def definitions_hash(lib: Library) -> str:
    """The definitions version a run records (a hash of every loaded definition)."""
    return lib.digest()


def _check_inputs(stage: Stage, have: set[str]) -> None:
    core = {t.name for t in TABLES}
    missing = [t for t in stage.reads if t not in have and t not in core]
    if missing:
        makers = sorted({producer(t) or "ingest" for t in missing})
        raise StageError(f"stage {stage.name} needs {', '.join(missing)}, which no run has built yet: "
                         f"run `carevalue run --only {' --only '.join(makers)}` (or a full `carevalue run`)")


def _check_outputs(stage: Stage, con: BaseBackend, before: set[str]) -> None:
    have = set(con.list_tables())
    for name in stage.writes:
        if name not in have:
            raise StageError(f"stage {stage.name} declares it writes {name} but did not")
        check_columns(name, list(con.table(name).columns))
    stray = [t for t in have - before - set(stage.writes) if not t.startswith(("_", "ibis_"))]
    if stray:
        raise StageError(f"stage {stage.name} wrote undeclared table(s) {', '.join(sorted(stray))}")


def execute(con: BaseBackend, lib: Library, run_id: str, stages: list[Stage],
            on_stage: OnStage | None = None) -> list[StageResult]:
    """Run ``stages`` in order on ``con``; any failure raises (a stage never skips silently)."""
    ctx = StageContext(con, lib, run_id)
    results = []
    for i, stage in enumerate(stages):
        if on_stage:
            on_stage(stage.name, i, len(stages))
        before = set(con.list_tables())
        _check_inputs(stage, before)
        results.append(stage.run(ctx))
        _check_outputs(stage, con, before)
    for t in con.list_tables():
        if t.startswith("_"):  # a stage's scratch tables are not published
            con.raw_sql(f"DROP TABLE IF EXISTS {t}")
    return results


def run_store(core: Path, lib: Library, only: list[str] | None = None,
              on_stage: OnStage | None = None) -> RunResult:
    """A run on a DuckDB store: written aside, published atomically, marked failed on error."""
    return _published(RunStore(core), lib, only, on_stage)


def run_parquet_store(core: Path, lib: Library, only: list[str] | None = None,
                      on_stage: OnStage | None = None, session: Any = None) -> RunResult:
    """A run on Spark over a Parquet store: every table written as Parquet into the run's own folder,
    published atomically like a DuckDB run (see :mod:`carevalue.pipeline.spark_runs`)."""
    from carevalue.pipeline.spark_runs import ParquetRunStore

    return _published(ParquetRunStore(core, session), lib, only, on_stage)


def _published(rs: RunStore, lib: Library, only: list[str] | None, on_stage: OnStage | None) -> RunResult:
    stages = chosen(only)
    dhash = definitions_hash(lib)
    with rs.lock():
        writes = {t for s in stages for t in s.writes}
        partial = only is not None and len(stages) < len(chosen(None))
        rec, con = rs.begin([s.name for s in stages], dhash, writes if partial else None)
        try:
            carried = rs.carry_over(con, writes)
            results = execute(con, lib, rec.run_id, stages, on_stage)
            rs.publish(rec, con)
        except BaseException as e:
            rs.fail(rec, con, f"{type(e).__name__}: {e}")
            raise
    return RunResult(rec.run_id, "published", results, carried, dhash)


def run_connection(con: BaseBackend, lib: Library, only: list[str] | None = None,
                   on_stage: OnStage | None = None) -> RunResult:
    """A run on an open connection (PySpark, tests): tables are written in place, nothing published."""
    stages = chosen(only)
    rec = RunRecord("in-place", [s.name for s in stages], definitions_hash(lib), "")
    results = execute(con, lib, rec.run_id, stages, on_stage)
    return RunResult(rec.run_id, "written", results, [], rec.definitions_hash)
