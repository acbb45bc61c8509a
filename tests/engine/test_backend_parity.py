"""The engine stages give the same numbers on PySpark as on DuckDB (the architecture's promise).

A small synthetic population is ingested into DuckDB and written as a Parquet store (`ingest
--parquet`); every stage of `carevalue run` runs on DuckDB and as a published Spark run
(`run --backend spark`) from the same definitions, and the tables compare equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from carevalue.backends import spark_jobs, spark_session
from carevalue.model import MEASURE_TABLES, TABLES
from carevalue.synth import generate
from carevalue.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# tables compared row by row: table -> the key columns that order them (None: every column)
COMPARED = {
    "care_cycles": ["cycle_id"],
    "cycle_events": ["cycle_id", "event_table", "event_id"],
    "segments": ["patient_id", "valid_from"],
    "segment_transitions": ["patient_id", "transition_date"],
    "cycle_cost_totals": ["cycle_id"],
    "outcome_values": None,
    "patient_risk_scores": ["patient_id"],
    "prom_scores": ["response_id", "scale"],
}
RTOL = 1e-9  # floats agree to this relative tolerance (sums and values)


def _sorted(df: pd.DataFrame, key: list[str] | None) -> pd.DataFrame:
    """Rows in one order on both backends: by ``key``, else by every column (floats to 6 places)."""
    df = df[sorted(df.columns)].copy()
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]) and getattr(df[c].dt, "tz", None):
            df[c] = df[c].dt.tz_localize(None)
    order = df.apply(lambda col: col.round(6) if pd.api.types.is_float_dtype(col) else col).astype(str)
    return df.loc[order.sort_values(key or list(df.columns)).index].reset_index(drop=True)


def _floats(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]


def _same_rows(name: str, a: pd.DataFrame, b: pd.DataFrame, key: list[str] | None) -> None:
    a, b = _sorted(a, key), _sorted(b, key)
    assert len(a) == len(b), (name, len(a), len(b))
    floats = _floats(a)
    for c in floats:
        assert np.allclose(a[c].astype(float), b[c].astype(float), rtol=RTOL, atol=1e-12, equal_nan=True), (name, c)
    rest = [c for c in a.columns if c not in floats]
    diff = a[rest].astype(str).compare(b[rest].astype(str))
    assert diff.empty, (name, diff.head(20))


def _same_totals(name: str, a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Identical row counts and, per numeric column, sums equal (floats within RTOL)."""
    assert len(a) == len(b), (name, len(a), len(b))
    for c in a.columns:
        if pd.api.types.is_bool_dtype(a[c]) or pd.api.types.is_integer_dtype(a[c]):
            assert int(a[c].fillna(0).sum()) == int(b[c].fillna(0).astype("int64").sum()), (name, c)
        elif pd.api.types.is_float_dtype(a[c]):
            assert np.isclose(a[c].sum(), b[c].astype(float).sum(), rtol=RTOL, atol=1e-9), (name, c)
        else:
            assert a[c].isna().sum() == b[c].isna().sum(), (name, c, "nulls")


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One local SparkSession for the whole test session (starting one costs seconds); not stopped,
    so other Spark tests reuse it."""
    pytest.importorskip("pyspark")
    return spark_session(tmp_path_factory.mktemp("warehouse"), "carevalue-tests")


def test_every_stage_same_on_duckdb_and_pyspark(tmp_path: Path, spark: Any) -> None:
    pop = tmp_path / "pop"
    generate(patients=300, seed=11, out=pop)
    store, parquet = tmp_path / "s.duckdb", tmp_path / "parquet"
    ws = Workspace.open(store, must_exist=False)
    ws.ingest([pop / "source"], parquet=parquet)
    assert {p.name for p in parquet.iterdir()} == {t.name for t in TABLES}

    stages = [s.name for s in ws.run().stages]
    measures = {t.name for t in MEASURE_TABLES}
    want = {t: ws.con.table(t).to_pandas() for t in sorted(ws.tables() & measures)}
    ws.close()
    assert set(COMPARED) <= set(want)
    assert len(want["care_cycles"]) > 50

    jobs = spark_jobs(spark)
    sws = Workspace.open(parquet, backend="spark")
    run = sws.run()
    print(f"spark run: {spark_jobs(spark) - jobs} Spark jobs for {len(run.stages)} stages")
    assert [s.name for s in run.stages] == stages and run.status == "published"
    assert sws.tables() & measures == set(want)
    for name, frame in want.items():  # every table of every stage: counts and sums
        got = sws.con.table(name).to_pandas()[list(frame.columns)]
        _same_totals(name, frame, got)
        if name in COMPARED:
            _same_rows(name, frame, got, COMPARED[name])
