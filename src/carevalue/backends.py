"""connect(): the Ibis backend every engine stage runs on — DuckDB by default, PySpark at scale."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend


def connect(store: str | Path | None = None, backend: str | None = None, **options: Any) -> BaseBackend:
    """Open the store through Ibis.

    ``backend`` is ``duckdb`` (default; ``store`` is the DuckDB file) or ``pyspark`` (a local or
    configured SparkSession; ``CAREVALUE_BACKEND`` selects it from the environment).
    """
    backend = (backend or os.environ.get("CAREVALUE_BACKEND") or "duckdb").lower()
    if backend == "duckdb":
        return ibis.duckdb.connect(str(store) if store else ":memory:", **options)
    if backend == "pyspark":
        from pyspark.sql import SparkSession

        # Spark's Python workers must use this interpreter (and its packages), not the system one.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

        session = options.pop("session", None) or (
            SparkSession.builder.master(os.environ.get("CAREVALUE_SPARK_MASTER", "local[2]"))
            .appName("carevalue")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        return ibis.pyspark.connect(session, **options)
    raise ValueError(f"unknown backend {backend!r}; use 'duckdb' or 'pyspark'")


def write_table(con: BaseBackend, name: str, expr: ibis.Table) -> ibis.Table:
    """Replace table ``name`` in the store with the result of ``expr`` and return it.

    The drop is issued explicitly because ``create_table(overwrite=True)`` goes through a
    rename-swap that some backend/sqlglot combinations render incorrectly; a plain drop + create
    behaves the same on DuckDB and PySpark.
    """
    con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    return con.create_table(name, expr)
