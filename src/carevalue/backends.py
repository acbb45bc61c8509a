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
        session = options.pop("session", None) or spark_session()
        return ibis.pyspark.connect(session, **options)
    raise ValueError(f"unknown backend {backend!r}; use 'duckdb' or 'pyspark'")


def spark_session(warehouse_dir: str | Path | None = None, app_name: str = "carevalue") -> Any:
    """A local (or ``CAREVALUE_SPARK_MASTER``) SparkSession set up for carevalue: UTC, no UI."""
    from pyspark.sql import SparkSession

    # Spark's Python workers must use this interpreter (and its packages), not the system one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(os.environ.get("CAREVALUE_SPARK_MASTER", "local[2]"))
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
    )
    if warehouse_dir is not None:
        builder = builder.config("spark.sql.warehouse.dir", str(warehouse_dir))
    return builder.getOrCreate()


def write_table(con: BaseBackend, name: str, expr: ibis.Table) -> ibis.Table:
    """Replace table ``name`` in the store with the result of ``expr`` and return it.

    The drop is issued explicitly because ``create_table(overwrite=True)`` goes through a
    rename-swap that some backend/sqlglot combinations render incorrectly; a plain drop + create
    behaves the same on DuckDB and PySpark.
    """
    con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    return con.create_table(name, expr)


def export_parquet(store: str | Path, out_dir: str | Path, tables: list[str] | None = None) -> list[Path]:
    """Write tables of a DuckDB store as Parquet files (one per table): the extract format and
    the hand-over to a Spark cluster."""
    import duckdb

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with duckdb.connect(str(store), read_only=True) as con:
        names = tables or [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1").fetchall()]
        for name in names:
            target = out / f"{name}.parquet"
            con.execute(f"COPY \"{name}\" TO '{target}' (FORMAT parquet)")
            written.append(target)
    return written


def register_parquet(con: BaseBackend, folder: str | Path) -> list[str]:
    """Make every ``<table>.parquet`` in ``folder`` readable as ``con.table(<table>)``."""
    names = []
    for f in sorted(Path(folder).glob("*.parquet")):
        con.read_parquet(str(f), table_name=f.stem)
        names.append(f.stem)
    return names
