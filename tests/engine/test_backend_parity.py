"""The engine stages give the same numbers on PySpark as on DuckDB (the architecture's promise).

A small synthetic population is ingested into DuckDB; its core tables go to Spark as Parquet, and
every stage of `carevalue run` runs on both backends from the same definitions.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from carevalue.backends import connect, export_parquet, register_parquet, spark_session
from carevalue.model import TABLES
from carevalue.synth import generate
from carevalue.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# table -> key columns and the numeric columns compared to 1e-6
COMPARED = {
    "care_cycles": (["cycle_id"], []),
    "cycle_events": (["cycle_id", "event_table", "event_id"], []),
    "segments": (["patient_id", "valid_from"], []),
    "segment_transitions": (["patient_id", "transition_date"], []),
    "cycle_cost_totals": (["cycle_id"], None),
    "outcome_values": (None, None),
    "patient_risk_scores": (["patient_id"], None),
    "prom_scores": (["response_id", "scale"], None),
}


def _normalise(df: pd.DataFrame, key: list[str] | None) -> pd.DataFrame:
    df = df[sorted(df.columns)]
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            df[c] = df[c].round(6)
        elif pd.api.types.is_datetime64_any_dtype(df[c]):
            df[c] = pd.to_datetime(df[c]).dt.tz_localize(None) if getattr(df[c].dt, "tz", None) else df[c]
    df = df.astype(str)
    return df.sort_values(key or list(df.columns)).reset_index(drop=True)


def test_every_stage_same_on_duckdb_and_pyspark(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    pop = tmp_path / "pop"
    generate(patients=300, seed=11, out=pop)
    store = tmp_path / "s.duckdb"
    ws = Workspace.open(store, must_exist=False)
    ws.ingest([pop / "source"])
    core = export_parquet(store, tmp_path / "parquet", [t.name for t in TABLES])
    assert len(core) == len(TABLES)

    stages = [s.name for s in ws.run().stages]
    have = ws.tables()
    want = {t: ws.con.table(t).to_pandas() for t in COMPARED if t in have}
    ws.close()
    assert {"care_cycles", "cycle_events", "segments", "cycle_cost_totals"} <= set(want)
    assert len(want["care_cycles"]) > 50

    spark = spark_session(tmp_path / "warehouse", "carevalue-parity")
    try:
        scon = connect(backend="pyspark", session=spark)
        register_parquet(scon, tmp_path / "parquet")
        assert [s.name for s in Workspace.on_connection(scon).run().stages] == stages
        for name, frame in want.items():
            key = COMPARED[name][0]
            got = scon.table(name).to_pandas()[list(frame.columns)]
            a, b = _normalise(frame, key), _normalise(got, key)
            assert len(a) == len(b), (name, len(a), len(b))
            diff = a.compare(b) if a.shape == b.shape else None
            assert diff is None or diff.empty, (name, diff.head(20) if diff is not None else None)
    finally:
        spark.stop()
