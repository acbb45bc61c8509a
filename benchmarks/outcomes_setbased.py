"""Compare the outcome values stage of two code versions on the same store, and time it.

    # once per store: run the stages before outcomes into a flat DuckDB file
    PYTHONPATH=/work/main/src python benchmarks/outcomes_setbased.py prep CORE.duckdb FLAT.duckdb
    # per code version: write outcome_values / outcome_evidence / casemix_values as Parquet
    PYTHONPATH=/work/main/src python benchmarks/outcomes_setbased.py values FLAT.duckdb OUT_MAIN
    PYTHONPATH=src python benchmarks/outcomes_setbased.py values FLAT.duckdb OUT_NEW
    python benchmarks/outcomes_setbased.py diff OUT_MAIN OUT_NEW

``values`` prints the wall time of each written table, the number of Ibis compilations (calls of
ibis's ``to_sqlglot``) and the seconds spent in them; ``diff`` prints, per table, rows only in one side (0 = identical
row sets; floats compared rounded to 9 decimals).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

TABLES = ("outcome_values", "outcome_evidence", "casemix_values")


def prep(core: str, flat: str) -> None:
    import ibis

    from carevalue.workspace import Workspace

    shutil.copy(core, flat)
    con = ibis.duckdb.connect(flat)
    Workspace.on_connection(con).run(["observation", "cycles", "proms"])
    con.disconnect()


def _count_compilations() -> dict[str, float]:
    from ibis.backends.sql.compilers.base import SQLGlotCompiler

    calls: dict[str, float] = {"to_sqlglot": 0, "compile_s": 0.0}
    orig = SQLGlotCompiler.to_sqlglot

    def counted(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["to_sqlglot"] += 1
        t = time.perf_counter()
        try:
            return orig(self, *a, **k)
        finally:
            calls["compile_s"] += time.perf_counter() - t

    SQLGlotCompiler.to_sqlglot = counted  # type: ignore[method-assign]
    return calls


def values(flat: str, out: str) -> None:
    import ibis

    import carevalue.backends as backends
    from carevalue.definitions.loader import load_library
    from carevalue.engine import outcomes
    from carevalue.engine.riskscores.crosswalk import code_map, from_library

    calls = _count_compilations()
    times: dict[str, float] = {}
    orig = backends.write_table

    def timed(con, name, expr):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        r = orig(con, name, expr)
        times[name] = times.get(name, 0.0) + time.perf_counter() - t
        return r

    backends.write_table = timed  # type: ignore[assignment]
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("carevalue.engine") and getattr(mod, "write_table", None) is orig:
            mod.write_table = timed  # type: ignore[attr-defined]
    tmp = Path(tempfile.mkdtemp()) / "store.duckdb"
    shutil.copy(flat, tmp)
    con = ibis.duckdb.connect(str(tmp))
    lib = load_library()
    t0 = time.perf_counter()
    counts = outcomes.run_values(con, lib.conditions(), lib.kind("value-sets"), lib.get("record-rules", "default"),
                                 code_map(from_library(lib)))
    total = time.perf_counter() - t0
    Path(out).mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        con.raw_sql(f"COPY {name} TO '{Path(out) / name}.parquet' (FORMAT parquet)")
    print(json.dumps({"total_s": round(total, 2), "compilations": calls["to_sqlglot"],
                      "compile_s": round(calls["compile_s"], 2), "counts": counts,
                      "write_s": {k: round(v, 2) for k, v in times.items()}}, indent=1))
    con.disconnect()
    shutil.rmtree(tmp.parent)


def diff(a: str, b: str) -> int:
    import pandas as pd

    bad = 0
    for name in TABLES:
        x, y = pd.read_parquet(Path(a) / f"{name}.parquet"), pd.read_parquet(Path(b) / f"{name}.parquet")
        if list(x.columns) != list(y.columns) or list(map(str, x.dtypes)) != list(map(str, y.dtypes)):
            print(f"{name}: columns/types differ\n  {dict(x.dtypes)}\n  {dict(y.dtypes)}")
            bad += 1
            continue
        for f in (x, y):
            for c in f.columns:
                if f[c].dtype.kind == "f":
                    f[c] = f[c].round(9)
        cols = list(x.columns)
        xa, ya = x.astype(str), y.astype(str)
        xc = xa.groupby(cols, dropna=False).size().rename("_a").reset_index()
        yc = ya.groupby(cols, dropna=False).size().rename("_b").reset_index()
        m = xc.merge(yc, on=cols, how="outer")
        m = m.fillna({"_a": 0, "_b": 0})
        only_a = int((m._a - m._b).clip(lower=0).sum())
        only_b = int((m._b - m._a).clip(lower=0).sum())
        print(f"{name}: rows {len(x)} vs {len(y)}; only in first {only_a}, only in second {only_b}")
        if only_a or only_b:
            print(m[m._a != m._b].head(10).to_string())
        bad += only_a + only_b
    return bad


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "prep":
        prep(*args)
    elif cmd == "values":
        values(*args)
    else:
        sys.exit(1 if diff(*args) else 0)
