"""An in-memory table keeps its nulls on PySpark as on DuckDB (backends._memtables_keep_nulls)."""

from __future__ import annotations

import ibis
import pytest

from carevalue.backends import connect

pytestmark = pytest.mark.spark


def test_a_null_string_of_a_memtable_stays_null_on_spark() -> None:
    pytest.importorskip("pyspark")
    rows = [{"role": "nurse", "minutes": 1.5}, {"role": None, "minutes": None}]
    t = ibis.memtable(rows, schema={"role": "string", "minutes": "float64"})
    expr = t.aggregate(null_roles=t.role.isnull().sum(), null_minutes=t.minutes.isnull().sum(),
                       nan_text=(t.role == "NaN").sum())
    spark = connect(backend="spark").execute(expr).iloc[0].tolist()
    duck = connect(backend="duckdb").execute(expr).iloc[0].tolist()
    assert [int(v) for v in spark] == [int(v) for v in duck] == [1, 1, 0]
