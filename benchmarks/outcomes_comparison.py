"""Time the outcomes stage's provider comparison of two code versions on one store, and diff them.

    PYTHONPATH=/work/main/src python benchmarks/outcomes_comparison.py run STORE.duckdb OUT_MAIN
    PYTHONPATH=src python benchmarks/outcomes_comparison.py run STORE.duckdb OUT_NEW
    python benchmarks/outcomes_comparison.py diff OUT_MAIN OUT_NEW

``run`` copies the store's current run, runs ``outcomes.run_comparison`` on the copy and prints its
wall and CPU seconds, the number of Ibis compilations (ibis's ``to_sqlglot``) and the rows
written; ``outcome_comparison`` and ``outcome_calibration`` go to OUT as Parquet. ``diff`` prints,
per table and column, the rows that differ (floats to 1e-9 relative; 0 everywhere = identical).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

TABLES = {"outcome_comparison": ["condition", "measure", "time_point", "scale", "organization_id"],
          "outcome_calibration": ["condition", "measure", "time_point", "scale", "decile"]}


def run(store: str, out: str) -> None:
    import ibis
    from ibis.backends.sql.compilers.base import SQLGlotCompiler

    from carevalue.definitions.loader import load_library
    from carevalue.engine import outcomes
    from carevalue.pipeline.runs import RunStore, attach_core

    core, dest = Path(store), Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    runs = RunStore(core)
    current = runs.current_id()
    if current is None:
        sys.exit(f"{store} has no published run")
    scratch = dest / "scratch.duckdb"
    shutil.copy(runs.run_file(current), scratch)
    con = ibis.duckdb.connect(str(scratch))
    attach_core(con, core)
    compiled = [0]
    original = SQLGlotCompiler.to_sqlglot

    def counting(self, *a, **k):  # type: ignore[no-untyped-def]
        compiled[0] += 1
        return original(self, *a, **k)

    SQLGlotCompiler.to_sqlglot = counting  # type: ignore[method-assign]
    templates = load_library().conditions()
    wall, cpu = time.perf_counter(), time.process_time()
    table = outcomes.run_comparison(con, templates)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for name in TABLES:
        con.table(name).to_pandas().to_parquet(dest / f"{name}.parquet")
    con.disconnect()
    scratch.unlink()
    print(pd.DataFrame([{"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "compilations": compiled[0],
                         "rows": len(table)}]).to_string(index=False))


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    if pd.api.types.is_float_dtype(a):
        return np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-12, equal_nan=True)
    x, y = a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None)
    return (x == y).to_numpy() | (a.isna() & b.isna()).to_numpy()


def diff(left: str, right: str) -> None:
    rows = []
    for name, key in TABLES.items():
        a, b = (pd.read_parquet(Path(d) / f"{name}.parquet") for d in (left, right))
        a, b = (t.sort_values(key, na_position="first").reset_index(drop=True) for t in (a, b))
        if len(a) != len(b) or list(a.columns) != list(b.columns):
            rows.append({"table": name, "column": "(shape)", "rows_differ": abs(len(a) - len(b)) or -1})
            continue
        rows += [{"table": name, "column": c, "rows_differ": int((~_same(a[c], b[c])).sum())} for c in a.columns]
    table = pd.DataFrame(rows)
    print(table[table.rows_differ != 0].to_string(index=False) if (table.rows_differ != 0).any()
          else f"identical: {', '.join(TABLES)} ({len(table)} columns compared)")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("run", "diff"):
        sys.exit(__doc__)
    (run if sys.argv[1] == "run" else diff)(sys.argv[2], sys.argv[3])
