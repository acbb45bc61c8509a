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
    (a folder) — else defaults to every core, half the machine's memory (12 GiB on 24 GiB) and the
    folder ``<store>.tmp`` beside the store, so a large join spills to disk instead of failing.
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
        memory = f"{ram // 2 // 2**20}MiB"
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


def connect(store: str | Path | None = None, backend: str | None = None, **options: Any) -> BaseBackend:
    """Open the store through Ibis.

    ``backend`` is ``duckdb`` (default; ``store`` is the DuckDB file, tuned by
    :func:`duckdb_settings`) or ``pyspark`` (a local or configured SparkSession;
    ``CAREVALUE_BACKEND`` selects it from the environment).
    """
    backend = (backend or os.environ.get("CAREVALUE_BACKEND") or "duckdb").lower()
    if backend == "duckdb":
        con = ibis.duckdb.connect(str(store) if store else ":memory:", **options)
        tune_duckdb(con, store)
        return con
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
