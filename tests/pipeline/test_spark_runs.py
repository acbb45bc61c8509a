"""Spark runs publish atomically, as DuckDB runs do: a run's Parquet goes into a folder of its own and
becomes current with one rename; a stage that fails mid-way leaves the previous run readable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carevalue.backends import spark_session
from carevalue.pipeline import stages
from carevalue.pipeline.spark_runs import ParquetRunStore
from carevalue.synth import generate
from carevalue.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Parquet store (ingest --parquet) with no runs yet."""
    pytest.importorskip("pyspark")
    out = tmp_path_factory.mktemp("spark-runs")
    generate(patients=60, seed=3, out=out / "pop")
    Workspace.open(out / "s.duckdb", must_exist=False).ingest([out / "pop" / "source"], parquet=out / "pq")
    spark_session(tmp_path_factory.mktemp("warehouse"), "carevalue-tests")
    return out / "pq"


def _seen(pq: Path) -> tuple[str, set[str], int]:
    """What a reader sees: the last run in its `runs` table, the tables, the observation periods."""
    ws = Workspace.open(pq, backend="spark")
    runs = ws.con.table("runs").to_pandas().sort_values("started")  # Parquet keeps no row order
    return str(runs[runs.status == "published"].run_id.iloc[-1]), ws.tables(), int(ws.con.table("observation_periods").count().execute())


def test_failing_stage_leaves_previous_run_readable(parquet: Path, monkeypatch: Any) -> None:
    first = Workspace.open(parquet, backend="spark").run(only=["observation"])
    rs = ParquetRunStore(parquet)
    assert first.status == "published" and rs.current_id() == first.run_id
    folder = rs.run_file(first.run_id)
    assert list((folder / "observation_periods").glob("*.parquet"))  # the stage's table, as Parquet
    run_id, tables, periods = _seen(parquet)
    assert run_id == first.run_id and "observation_periods" in tables and periods > 0

    def broken(self: Any, ctx: Any) -> Any:  # fails after the run has written a table
        raise RuntimeError("disk full")

    monkeypatch.setattr(stages.CyclesStage, "run", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        Workspace.open(parquet, backend="spark").run(only=["observation", "cycles"])
    last = Workspace.open(parquet, backend="spark").runs()[-1]
    assert last["status"] == "failed" and "disk full" in last["message"]
    assert not rs.run_file(last["run_id"]).exists()  # the failed run's Parquet is removed
    assert rs.current_id() == first.run_id
    assert _seen(parquet) == (run_id, tables, periods)  # the previous run, whole

    monkeypatch.undo()
    again = Workspace.open(parquet, backend="spark").run(only=["cycles"])
    assert "observation_periods" in again.carried_over
    seen = _seen(parquet)
    assert seen[0] == again.run_id and {"care_cycles", "observation_periods"} <= seen[1] and seen[2] == periods
    assert folder.exists()  # the previous run stays for readers that opened it just before the switch
