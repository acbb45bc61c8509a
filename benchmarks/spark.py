"""Spark runs: wall time and Spark jobs per stage of `carevalue run --backend spark` on a Parquet store.

Builds a synthetic population, ingests it with ``--parquet``, then runs the chosen stages on a local
SparkSession and prints one row per stage (seconds, Spark jobs launched, rows written), the totals,
and the Spark SQL settings the session ran with. Compare settings by running it twice, e.g. with
``--conf spark.sql.adaptive.enabled=true`` (the Spark default) against the carevalue local default.

    python benchmarks/spark.py [--patients 300] [--seed 11] [--only STAGE ...] [--conf KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from carevalue.backends import LOCAL_SPARK_SQL, spark_jobs, spark_session
from carevalue.synth import generate
from carevalue.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--only", action="append", default=None, help="a stage to run (repeatable)")
    ap.add_argument("--conf", action="append", default=[], help="a Spark SQL setting KEY=VALUE (repeatable)")
    ap.add_argument("--work", type=Path, default=None, help="folder to build in (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="cv-spark-"))
    parquet = work / "parquet"
    if not parquet.exists():
        generate(patients=args.patients, seed=args.seed, out=work / "pop")
        Workspace.open(work / "s.duckdb", must_exist=False).ingest([work / "pop" / "source"], parquet=parquet)
    t0 = time.perf_counter()
    spark = spark_session(work / "warehouse", "carevalue-bench")
    for kv in args.conf:
        key, _, value = kv.partition("=")
        spark.conf.set(key, value)
    started = time.perf_counter() - t0
    marks: list[tuple[str, float, int]] = []

    def on_stage(name: str, i: int, n: int) -> None:
        marks.append((name, time.perf_counter(), spark_jobs(spark)))

    jobs0, t1 = spark_jobs(spark), time.perf_counter()
    result = Workspace.open(parquet, backend="spark").run(only=args.only, on_stage=on_stage)
    marks.append(("end", time.perf_counter(), spark_jobs(spark)))
    rows = {s.name: sum(s.rows.values()) for s in result.stages}
    print(f"{args.patients} patients, Spark session started in {started:.1f} s")
    print(f"{'stage':<14}{'seconds':>9}{'jobs':>7}{'rows':>10}")
    for (name, t, j), (_, t_next, j_next) in zip(marks, marks[1:], strict=False):
        print(f"{name:<14}{t_next - t:>9.1f}{j_next - j:>7}{rows.get(name, 0):>10,}")
    print(f"{'total':<14}{time.perf_counter() - t1:>9.1f}{spark_jobs(spark) - jobs0:>7}")
    for key in sorted({*LOCAL_SPARK_SQL, *(kv.partition('=')[0] for kv in args.conf)}):
        print(f"  {key} = {spark.conf.get(key)}")


if __name__ == "__main__":
    main()
