"""connect(): the Ibis backend every engine stage runs on — DuckDB by default, PySpark at scale."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend


def _physical_memory() -> int | None:
    """Bytes of RAM on this machine (or its cgroup limit when lower), or None when unknown."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        if limit.isdigit():
            total = min(total, int(limit))
    return total


def duckdb_settings(store: str | Path | None = None, preserve_insertion_order: bool = True) -> dict[str, str]:
    """The DuckDB settings for a connection to ``store``: threads, memory limit, spill folder.

    Each comes from the environment when set — ``CAREVALUE_DUCKDB_THREADS`` (a number),
    ``CAREVALUE_DUCKDB_MEMORY_LIMIT`` (a DuckDB size such as ``8GiB``), ``CAREVALUE_DUCKDB_TEMP_DIR``
    (a folder) — else defaults to every core, a third of the machine's memory (8 GiB on 24 GiB,
    so DuckDB, the Python process and ingest's parse workers beside it stay within half the
    machine: measured at 1M patients in docs/scaling.md) and the folder ``<store>.tmp`` beside the
    store, so a large join spills to disk instead of failing.
    ``preserve_insertion_order=False`` lets DuckDB write tables without keeping row order (less
    memory on large writes); stage writes need no order, so the run connection passes it.
    """
    env = os.environ.get
    out: dict[str, str] = {}
    threads = env("CAREVALUE_DUCKDB_THREADS") or str(os.cpu_count() or 1)
    if not threads.isdigit() or int(threads) < 1:
        raise ValueError(f"CAREVALUE_DUCKDB_THREADS must be a positive whole number, not {threads!r}")
    out["threads"] = threads
    memory = env("CAREVALUE_DUCKDB_MEMORY_LIMIT")
    if not memory and (ram := _physical_memory()):
        memory = f"{ram // 3 // 2**20}MiB"
    if memory:
        out["memory_limit"] = memory
    temp = env("CAREVALUE_DUCKDB_TEMP_DIR")
    if not temp and store not in (None, "", ":memory:"):
        temp = str(Path(str(store)).with_name(Path(str(store)).name + ".tmp"))
    if temp:
        out["temp_directory"] = temp
    out["preserve_insertion_order"] = "true" if preserve_insertion_order else "false"
    return out


def tune_duckdb(con: Any, store: str | Path | None = None, preserve_insertion_order: bool = True) -> dict[str, str]:
    """Apply :func:`duckdb_settings` to an open DuckDB connection (Ibis or the duckdb module's).

    Settings are applied with ``SET`` rather than as connect-time configuration, so two connections
    to one file in a process never disagree about their configuration.
    """
    settings = duckdb_settings(store, preserve_insertion_order)
    run = con.raw_sql if hasattr(con, "raw_sql") else con.execute
    for key, value in settings.items():
        run(f"SET {key} = '{value.replace(chr(39), chr(39) * 2)}'")
    return settings


SPARK_NAMES = ("spark", "pyspark")


def backend_name(backend: str | None = None) -> str:
    """``duckdb`` or ``pyspark``: ``backend`` or ``CAREVALUE_BACKEND`` (``spark`` is accepted for PySpark)."""
    name = (backend or os.environ.get("CAREVALUE_BACKEND") or "duckdb").lower()
    if name in SPARK_NAMES:
        return "pyspark"
    if name != "duckdb":
        raise ValueError(f"unknown backend {name!r}; use 'duckdb' or 'spark'")
    return name


def connect(store: str | Path | None = None, backend: str | None = None, **options: Any) -> BaseBackend:
    """Open the store through Ibis.

    ``backend`` is ``duckdb`` (default; ``store`` is the DuckDB file, tuned by
    :func:`duckdb_settings`) or ``spark``/``pyspark`` (a local or configured SparkSession;
    ``CAREVALUE_BACKEND`` selects it from the environment).
    """
    backend = backend_name(backend)
    if backend == "duckdb":
        con = ibis.duckdb.connect(str(store) if store else ":memory:", **options)
        tune_duckdb(con, store)
        return con
    session = options.pop("session", None) or spark_session()
    con = ibis.pyspark.connect(session, **options)
    _memtables_keep_nulls(con)
    return con


def _memtables_keep_nulls(con: Any) -> None:
    """Make PySpark keep a null string of an in-memory table null.

    Ibis 12 hands PySpark an in-memory table as a pandas frame, where a missing string is the float
    NaN, and ``createDataFrame`` turns that into the text ``'NaN'``, so a template's absent value
    (e.g. a process step with no least-cost role) was a non-null string on Spark and null on DuckDB.
    PySpark 4 takes Arrow directly, which keeps nulls as nulls."""
    from ibis.backends.pyspark import PySparkSchema
    from pyspark.sql.types import StructType

    def register(op: Any) -> None:
        schema = PySparkSchema.from_ibis(op.schema)
        if any(dtype.is_decimal() for dtype in op.schema.values()) or not isinstance(schema, StructType):
            return original(op)  # Ibis's own path (it maps decimals itself)
        con._session.createDataFrame(op.data.to_pyarrow(op.schema), schema=schema).createOrReplaceTempView(op.name)
        return None

    original = con._register_in_memory_table
    con._register_in_memory_table = register


# SQL settings for a Spark we start ourselves (local mode). A small run's time goes to planning the
# stages' large queries and to fixed costs per job, not to data: adaptive execution re-plans the
# query after every shuffle stage and runs each stage and broadcast as a job of its own, and
# constraint propagation is known to grow fast with the size of a plan. None changes a result.
# A cluster's own settings (spark-submit --conf, Databricks) are left as they are.
LOCAL_SPARK_SQL = {
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.sql.constraintPropagation.enabled": "false",
}


def spark_session(warehouse_dir: str | Path | None = None, app_name: str = "carevalue") -> Any:
    """The SparkSession carevalue runs on: the one ``spark-submit``/Databricks started, else a local one.

    A local session (``CAREVALUE_SPARK_MASTER``, default ``local[2]``) gets :data:`LOCAL_SPARK_SQL`
    where the configuration does not set them (``CAREVALUE_SPARK_SHUFFLE_PARTITIONS`` overrides the
    partitions); every session computes in UTC, as the DuckDB backend does.
    """
    from pyspark.sql import SparkSession

    # Spark's Python workers must use this interpreter (and its packages), not the system one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    ours = SparkSession.getActiveSession() is None and "PYSPARK_GATEWAY_PORT" not in os.environ
    builder = SparkSession.builder.appName(app_name)
    if ours or "CAREVALUE_SPARK_MASTER" in os.environ:
        builder = (builder.master(os.environ.get("CAREVALUE_SPARK_MASTER", "local[2]"))
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false"))
    if warehouse_dir is not None:
        builder = builder.config("spark.sql.warehouse.dir", str(warehouse_dir))
    session = builder.getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    if ours:
        given = session.sparkContext.getConf()
        wanted = dict(LOCAL_SPARK_SQL)
        if parts := os.environ.get("CAREVALUE_SPARK_SHUFFLE_PARTITIONS"):
            wanted["spark.sql.shuffle.partitions"] = parts
        for key, value in wanted.items():
            if not given.contains(key) or key.endswith("shuffle.partitions") and parts:
                session.conf.set(key, value)
    return session


def spark_jobs(session: Any) -> int:
    """How many Spark jobs the session has launched so far (job ids count up from 0)."""
    ids = session.sparkContext.statusTracker().getJobIdsForGroup(None)
    return max(ids) + 1 if ids else 0


def write_table(con: BaseBackend, name: str, expr: ibis.Table) -> ibis.Table:
    """Replace table ``name`` in the store with the result of ``expr`` and return it.

    The drop is issued explicitly because ``create_table(overwrite=True)`` goes through a
    rename-swap that some backend/sqlglot combinations render incorrectly; a plain drop + create
    behaves the same on DuckDB and PySpark.
    """
    con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    return con.create_table(name, expr)


def export_parquet(store: str | Path, out_dir: str | Path, tables: list[str] | None = None,
                   file_size: str = "128MB") -> list[Path]:
    """Write tables of a DuckDB store as Parquet: one folder per table (``<out>/<table>/part-N.parquet``,
    files of about ``file_size``), the core of a Spark store and the extract format. ``tables``
    (default: every table) that the store lacks are skipped.

    Each table is written into a scratch folder and renamed into place, so a table's folder is always
    one complete export; a ``<table>.parquet`` file of an older export is replaced.
    """
    import shutil

    import duckdb

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with duckdb.connect(str(store), read_only=True) as con:
        present = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1").fetchall()]
        names = [n for n in tables if n in present] if tables else present
        for name in names:
            target, scratch = out / name, out / f".{name}.{os.getpid()}.tmp"
            shutil.rmtree(scratch, ignore_errors=True)
            size = file_size.replace("'", "")
            con.execute(f"COPY \"{name}\" TO '{str(scratch).replace(chr(39), chr(39) * 2)}' "
                        f"(FORMAT parquet, FILE_SIZE_BYTES '{size}', FILENAME_PATTERN 'part-{{i}}')")
            old = out / f".{name}.{os.getpid()}.old"
            if target.exists():
                target.rename(old)
            scratch.rename(target)
            shutil.rmtree(old, ignore_errors=True)
            (out / f"{name}.parquet").unlink(missing_ok=True)
            written.append(target)
    return written


def parquet_tables(folder: str | Path) -> dict[str, Path]:
    """The tables of a Parquet folder by name: each ``<table>/`` folder of Parquet files (as
    :func:`export_parquet` and Spark write them) or ``<table>.parquet`` file."""
    out: dict[str, Path] = {}
    for f in sorted(Path(folder).iterdir()):
        if f.name.startswith((".", "_")):
            continue
        if f.is_dir() and any(f.glob("*.parquet")):
            out[f.name] = f
        elif f.suffix == ".parquet" and f.is_file():
            out[f.stem] = f
    return out


def register_parquet(con: BaseBackend, folder: str | Path) -> list[str]:
    """Make every table of a Parquet folder (:func:`parquet_tables`) readable as ``con.table(<table>)``."""
    tables = parquet_tables(folder)
    for name, path in tables.items():
        con.read_parquet(str(path), table_name=name)
    return list(tables)
