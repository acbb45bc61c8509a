"""Benchmark: CMS-HCC V24 scores for a large population, carevalue's backend join vs hccpy's
per-patient ``HCCEngine.profile`` loop (the named baseline), side by side in one run.

Patients get 0-15 ICD-10 codes drawn from the V24 mapping (half as the condition's own code, half
as a second coding behind SNOMED CT), random ages and sexes, the default segments (CNA from 65,
CND below). hccpy is timed on a random sample (its rate is per patient and does not depend on the
population size) and its scores are checked equal to the backend's on that sample.

Both sides are timed in the same run and cold: carevalue's time is the whole ``hcc.run`` with the
package's reference-table caches cleared first (reading the shipped CSVs, building the bit tables
and the query, running it, writing ``patient_risk_scores``); hccpy's includes building its
``HCCEngine`` (reading its tables). The fixed cost of a run (reference tables plus building and
compiling the query, which do not depend on the number of patients) is printed separately.

    .venv/bin/python benchmarks/risk.py [--patients 200000] [--sample 10000] [--threads 2] [--store s.duckdb]

``--store`` keeps the generated population in that file and reuses it when it exists (the hccpy
sample is then read back from it: the same codes, ages and sexes). The CPU time is the process's
user + system time (all threads), printed beside the wall time with the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa

from carevalue.backends import connect
from carevalue.definitions.loader import load as load_definitions
from carevalue.engine.record_filter import counting
from carevalue.engine.riskscores import hcc, hccmask, reference
from carevalue.engine.riskscores.crosswalk import from_library
from carevalue.ingest.store import Store

warnings.filterwarnings("ignore")
AS_OF = date(2024, 6, 30)
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"


def population(n: int, seed: int) -> tuple[list[tuple[str, int, str, list[str]]], dict[str, pa.Table]]:
    rng = random.Random(seed)
    codes = sorted({r["icd10"] for r in reference.arrow("cms_hcc_v24", "dx_to_hcc").to_pylist()})
    people = []
    pats: dict[str, list[object]] = {"patient_id": [], "birth_date": [], "sex": [], "source": []}
    cond: dict[str, list[object]] = {k: [] for k in ("condition_id", "patient_id", "code_system", "code", "source")}
    cod: dict[str, list[object]] = {k: [] for k in ("record_table", "record_id", "seq", "code_system", "code", "source")}
    for i in range(n):
        pid = f"p{i:07d}"
        age = rng.randint(20, 100)
        sex = rng.choice(("male", "female"))
        dx = [rng.choice(codes) for _ in range(rng.randint(0, 15))]
        people.append((pid, age, sex, dx))
        pats["patient_id"].append(pid)
        pats["birth_date"].append(date(AS_OF.year - age, 1, 15))
        pats["sex"].append(sex)
        pats["source"].append("bench")
        for j, c in enumerate(dx):
            cid = f"{pid}-{j}"
            own = rng.random() < 0.5
            cond["condition_id"].append(cid)
            cond["patient_id"].append(pid)
            cond["code_system"].append(ICD10 if own else SNOMED)
            cond["code"].append(c if own else "44054006")
            cond["source"].append("bench")
            if not own:
                for k, v in (("record_table", "conditions"), ("record_id", cid), ("seq", 2),
                             ("code_system", ICD10), ("code", c), ("source", "bench")):
                    cod[k].append(v)
    return people, {"patients": pa.table(pats), "conditions": pa.table(cond), "codings": pa.table(cod)}


def stored_population(con: object, n: int) -> list[tuple[str, int, str, list[str]]]:
    """The hccpy inputs (id, age, sex, ICD-10 codes) of a population written by this script."""
    rows = con.raw_sql(  # type: ignore[attr-defined]
        f"""SELECT p.patient_id, {AS_OF.year} - year(p.birth_date), p.sex,
                   list(coalesce(k.code, c.code) ORDER BY c.condition_id) FILTER (WHERE c.condition_id IS NOT NULL)
            FROM patients p LEFT JOIN conditions c USING (patient_id)
            LEFT JOIN codings k ON k.record_id = c.condition_id
            GROUP BY ALL ORDER BY 1""").fetchall()
    if len(rows) != n:
        raise SystemExit(f"the store holds {len(rows):,} patients, not {n:,}")
    return [(pid, age, sex, dx or []) for pid, age, sex, dx in rows]


def clear_caches() -> None:
    """Forget every reference table and derived bit table read so far, so the run starts cold."""
    for module in (reference, hccmask):
        for value in vars(module).values():
            if hasattr(value, "cache_clear"):
                value.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=200_000)
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", help="keep the population in this DuckDB file (reused when it exists)")
    args = ap.parse_args()

    import pandas  # noqa: F401  (library imports ibis makes on first use; not part of the timing)
    import pyarrow.dataset  # noqa: F401
    from hccpy.hcc import HCCEngine  # dev extra: the reference implementation

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.store) if args.store else Path(tmp) / "bench.duckdb"
        if path.exists():
            con0 = connect(path)
            people = stored_population(con0, args.patients)
            con0.disconnect()
            print(f"reused {path}: {args.patients:,} patients")
        else:
            people, tables = population(args.patients, args.seed)
            with Store(path) as s:
                for name, batch in tables.items():  # noqa: B007 (batch is read by the SQL below)
                    s.con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM batch')
            print(f"generated {args.patients:,} patients, {tables['conditions'].num_rows:,} conditions "
                  f"({tables['codings'].num_rows:,} ICD-10 as second coding) in {time.perf_counter() - t0:.1f}s")
            del tables

        con = connect(path)
        con.raw_sql(f"SET threads = {args.threads}")
        con.raw_sql("SET enable_progress_bar = false")
        lib = load_definitions()
        rules = lib.get("record-rules", "default")
        clear_caches()
        t, c = time.perf_counter(), time.process_time()
        hcc.run(con, AS_OF, rules=rules, crosswalk=from_library(lib), lookback_days=None)
        backend_s, backend_cpu = time.perf_counter() - t, time.process_time() - c
        scores = dict(con.raw_sql("SELECT patient_id, score FROM patient_risk_scores").fetchall())
        # The part of a run that does not grow with the patients: reference tables, building and
        # compiling the query (timed again, cold, without running it).
        clear_caches()
        t, c = time.perf_counter(), time.process_time()
        codings = con.table("codings")
        expr = hcc.hcc_scores(counting(con, "conditions", rules), codings, counting(con, "patients", rules),
                              AS_OF, lookback_days=None, crosswalk=from_library(lib))
        ibis.to_sql(expr, dialect="duckdb")
        fixed_s, fixed_cpu = time.perf_counter() - t, time.process_time() - c

        sample = random.Random(args.seed + 1).sample(people, min(args.sample, len(people)))
        t, c = time.perf_counter(), time.process_time()
        engine = HCCEngine("24")
        ref = {pid: engine.profile(dx, age=age, sex=sex, elig="CNA" if age >= 65 else "CND",
                                   orec="0" if age >= 65 else "1")["risk_score"]
               for pid, age, sex, dx in sample}
        hccpy_s, hccpy_cpu = time.perf_counter() - t, time.process_time() - c
        con.disconnect()

    mismatches = sum(abs(scores[p] - r) > 1e-9 for p, r in ref.items())
    backend_rate = args.patients / backend_s
    hccpy_rate = len(sample) / hccpy_s
    # CPU time (all threads) beside wall time: on a shared machine the wall ratio moves with the load.
    cpu_ratio = (args.patients / backend_cpu) / (len(sample) / hccpy_cpu)
    print(f"\n{'method':<34}{'patients':>10}{'seconds':>10}{'CPU s':>9}{'patients/s':>14}{'ratio':>9}"
          f"{'CPU ratio':>11}")
    print(f"{'hccpy profile() loop (baseline)':<34}{len(sample):>10,}{hccpy_s:>10.2f}{hccpy_cpu:>9.2f}"
          f"{hccpy_rate:>14,.0f}{1:>9.1f}{1:>11.1f}")
    print(f"{'carevalue backend join (DuckDB)':<34}{args.patients:>10,}{backend_s:>10.2f}{backend_cpu:>9.2f}"
          f"{backend_rate:>14,.0f}{backend_rate / hccpy_rate:>9.1f}{cpu_ratio:>11.1f}")
    print(f"\nscores compared on the hccpy sample: {len(ref):,}; differing by > 1e-9: {mismatches}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"backend threads: {args.threads}; backend time includes reading the reference tables and the "
          "store and writing patient_risk_scores")
    print(f"fixed cost per run (reference tables, building and compiling the query): {fixed_s:.2f}s wall, "
          f"{fixed_cpu:.2f}s CPU; "
          f"hccpy time includes building its HCCEngine")


if __name__ == "__main__":
    main()
