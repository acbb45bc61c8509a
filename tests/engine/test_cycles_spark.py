"""The same cycle and segment stages on PySpark give the same tables as on DuckDB.

Starting Spark takes a minute, so this runs only with CAREVALUE_TEST_SPARK=1 (marker ``spark``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles, segments
from carevalue.model import TABLES
from carevalue.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("CAREVALUE_TEST_SPARK") != "1",
                                 reason="set CAREVALUE_TEST_SPARK=1 to run the PySpark comparison")]
LIB = load()


def _spark_views(spark, store: Path) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import types as st

    kinds = {"VARCHAR": st.StringType(), "TIMESTAMP": st.TimestampType(), "DATE": st.DateType(),
             "DOUBLE": st.DoubleType(), "BIGINT": st.LongType(), "BOOLEAN": st.BooleanType()}
    with duckdb.connect(str(store), read_only=True) as src:
        for t in TABLES:
            rows = src.execute(f'SELECT * FROM "{t.name}"').fetchall()
            schema = st.StructType([st.StructField(c.name, kinds[c.type]) for c in t.columns])
            spark.createDataFrame(rows, schema=schema).createOrReplaceTempView(t.name)


def test_cycles_and_segments_same_on_spark(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession
    from test_cycles import SNOMED, hip_patient, put  # type: ignore[import-not-found]

    store = tmp_path / "s.duckdb"
    with Store(store) as s:
        hip_patient(s)
        put(s, "conditions", condition_id="p1-dm", patient_id="p1", code_system=SNOMED, code="44054006",
            onset_ts="2022-06-01 00:00")
    templates = [LIB.get("conditions", "hip-osteoarthritis"), LIB.get("conditions", "type-2-diabetes")]
    ref = tmp_path / "ref.duckdb"
    shutil.copy(store, ref)
    dcon = connect(ref)
    cycles.run(dcon, templates)
    segments.run(dcon, list(LIB.kind("segments").values()), LIB.kind("value-sets"))
    want = {t: dcon.table(t).to_pandas() for t in ("care_cycles", "cycle_events", "segments")}
    dcon.disconnect()

    spark = (SparkSession.builder.master("local[2]").config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.warehouse.dir", str(tmp_path / "warehouse")).getOrCreate())
    _spark_views(spark, store)
    scon = connect(backend="pyspark", session=spark)
    cycles.run(scon, templates)
    segments.run(scon, list(LIB.kind("segments").values()), LIB.kind("value-sets"))
    got = {t: scon.table(t).to_pandas() for t in want}
    keys = {"care_cycles": ["cycle_id"], "cycle_events": ["cycle_id", "event_table", "event_id"],
            "segments": ["patient_id", "valid_from"]}
    for t, k in keys.items():
        a = want[t].sort_values(k).reset_index(drop=True).astype(str)
        b = got[t][list(want[t].columns)].sort_values(k).reset_index(drop=True).astype(str)
        assert a.equals(b), (t, a, b)
