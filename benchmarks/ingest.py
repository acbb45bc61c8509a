"""FHIR NDJSON ingest throughput: carevalue vs DuckDB's own reader and a naive baseline, in one run.

Generates (or takes with --input) bulk-export NDJSON of Patient/Encounter/Condition/Observation/
Procedure, ingests it with carevalue, loads the same files with DuckDB's ``read_ndjson_auto``
(one table per file, no validation: the speed of merely parsing the JSON into a DuckDB file), then
times the naive approach on a sample: parse each resource with `fhir.resources.R4B` models and
INSERT it row by row into DuckDB. Prints resources/s and peak RSS of each.

    .venv/bin/python benchmarks/ingest.py [--resources 200000] [--baseline-sample 5000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import orjson

from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store

TYPES = ("Patient", "Encounter", "Condition", "Observation", "Procedure")


def generate(out: Path, n_resources: int, seed: int = 1) -> int:
    """Write ~n_resources resources as <Type>.000.ndjson; 1 patient : 6 encounters : 2 conditions : 10 observations : 2 procedures."""
    rng = random.Random(seed)
    per_patient = 1 + 6 + 2 + 10 + 2
    n_patients = max(1, n_resources // per_patient)
    out.mkdir(parents=True, exist_ok=True)
    files = {t: (out / f"{t}.000.ndjson").open("wb") for t in TYPES}
    count = 0
    loinc = [("8480-6", "Systolic blood pressure", "mm[Hg]"), ("29463-7", "Body weight", "kg"),
             ("4548-4", "Hemoglobin A1c", "%"), ("39156-5", "BMI", "kg/m2")]
    snomed = [("44054006", "Diabetes mellitus type 2"), ("38341003", "Hypertension"),
              ("239872002", "Osteoarthritis of hip"), ("84114007", "Heart failure")]
    for p in range(n_patients):
        pid = f"p{p:07d}"
        year = rng.randint(1930, 2005)
        files["Patient"].write(orjson.dumps({
            "resourceType": "Patient", "id": pid,
            "identifier": [{"system": "https://example.org/mrn", "value": pid}],
            "gender": rng.choice(("male", "female")), "birthDate": f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            "address": [{"city": "Springfield", "state": "MA", "postalCode": "01101"}],
        }) + b"\n")
        count += 1
        for e in range(6):
            eid = f"{pid}-e{e}"
            day = f"20{10 + e}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            start, end = f"{day}T09:00:00-05:00", f"{day}T09:30:00-05:00"
            files["Encounter"].write(orjson.dumps({
                "resourceType": "Encounter", "id": eid, "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185349003", "display": "Encounter for check up"}]}],
                "subject": {"reference": f"Patient/{pid}"}, "period": {"start": start, "end": end},
                "serviceProvider": {"reference": "Organization?identifier=https://github.com/synthetichealth/synthea|org-1"},
                "participant": [{"individual": {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999999999"}}],
            }) + b"\n")
            count += 1
            if e < 2:
                code, display = rng.choice(snomed)
                files["Condition"].write(orjson.dumps({
                    "resourceType": "Condition", "id": f"{eid}-c",
                    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]},
                    "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/{eid}"},
                    "onsetDateTime": start, "recordedDate": start,
                }) + b"\n")
                files["Procedure"].write(orjson.dumps({
                    "resourceType": "Procedure", "id": f"{eid}-p", "status": "completed",
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "430193006", "display": "Medication reconciliation"}]},
                    "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/{eid}"},
                    "performedPeriod": {"start": start, "end": end},
                }) + b"\n")
                count += 2
            for o in range(10 // 6 + (1 if e < 10 % 6 else 0)):
                code, display, unit = rng.choice(loinc)
                files["Observation"].write(orjson.dumps({
                    "resourceType": "Observation", "id": f"{eid}-o{o}", "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
                    "subject": {"reference": f"Patient/{pid}"}, "encounter": {"reference": f"Encounter/{eid}"},
                    "effectiveDateTime": start,
                    "valueQuantity": {"value": round(rng.uniform(5, 150), 1), "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
                }) + b"\n")
                count += 1
    for fh in files.values():
        fh.close()
    return count


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def carevalue_run(folder: Path, store_path: Path, workers: int) -> tuple[int, float, float]:
    """Wall seconds and CPU seconds of this process plus its worker processes."""
    import pyarrow as pa

    pa.array([1])  # first use imports pyarrow's pandas shim: a one-off, not per-resource work
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    with Store(store_path) as store:
        report = ingest([folder], store, workers=workers)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0 + _children_cpu() - k0
    assert all(f.read == f.stored + f.quarantined for f in report.files)
    return sum(f.stored for f in report.files), seconds, cpu


def duckdb_run(folder: Path, store_path: Path) -> tuple[int, float, float]:
    """DuckDB's read_ndjson_auto into a table per file (same DuckDB settings as the store).

    A file whose later lines have keys its sample did not show fails with the default sample; it is
    read again with the whole file as sample (``sample_size=-1``), and only that read is timed.
    """
    from carevalue.backends import tune_duckdb

    con = duckdb.connect(str(store_path))
    tune_duckdb(con, store_path)
    n, seconds, cpu = 0, 0.0, 0.0
    for i, f in enumerate(sorted(folder.glob("*.ndjson*"))):
        for options in ("", ", sample_size = -1"):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_ndjson_auto(?{options})", [str(f)])
            except duckdb.InvalidInputException:
                continue
            seconds, cpu = seconds + time.perf_counter() - t0, cpu + time.process_time() - c0
            break
        row = con.execute(f"SELECT count(*) FROM t{i}").fetchone()
        n += int(row[0]) if row else 0
    con.close()
    return n, seconds, cpu


def _peak_rss_mib() -> tuple[float, float]:
    """Peak RSS of this process and of the largest finished child process (an ingest worker), MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return own / 1024, kids / 1024


def baseline_run(folder: Path, sample: int) -> tuple[int, float, float]:
    """fhir.resources R4B model per resource + one INSERT per row (a typical first implementation)."""
    from fhir.resources.R4B import get_fhir_model_class

    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE resources (id VARCHAR, type VARCHAR, patient VARCHAR, code VARCHAR, ts VARCHAR, value DOUBLE)")
    per_type = max(1, sample // len(TYPES))
    lines: list[bytes] = []
    for t in TYPES:
        with (folder / f"{t}.000.ndjson").open("rb") as fh:
            lines += [ln for _, ln in zip(range(per_type), fh, strict=False)]
    for t in TYPES:  # import each model module before timing
        get_fhir_model_class(t)
    t0, c0 = time.perf_counter(), time.process_time()
    for line in lines:
        data = orjson.loads(line)
        model = get_fhir_model_class(data["resourceType"]).model_validate(data)
        subject = getattr(model, "subject", None)
        code = getattr(model, "code", None)
        value = getattr(model, "valueQuantity", None)
        period = getattr(model, "period", None)
        con.execute("INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?)", [
            getattr(model, "id", None), data["resourceType"], subject.reference if subject else None,
            code.coding[0].code if code and code.coding else None,
            str(period.start) if period else None, float(value.value) if value else None])
    return len(lines), time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=200_000)
    ap.add_argument("--baseline-sample", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parse workers of the second run")
    ap.add_argument("--input", type=Path, help="existing NDJSON folder instead of generated data")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="carevalue-bench-"))
    try:
        folder = args.input or work / "ndjson"
        if args.input is None:
            t0 = time.perf_counter()
            n = generate(folder, args.resources)
            print(f"generated {n:,} resources in {time.perf_counter() - t0:.1f}s")
        n_dk, s_dk, c_dk = duckdb_run(folder, work / "auto.duckdb")
        rate_dk = n_dk / s_dk
        rows = []
        for workers in sorted({1, args.workers}):
            n_cv, s_cv, c_cv = carevalue_run(folder, work / f"bench{workers}.duckdb", workers)
            what = "1 process" if workers == 1 else f"{workers} parse workers"
            rows.append((f"carevalue ingest, {what} (checked, mapped)", n_cv, s_cv, n_cv / s_cv, n_cv / c_cv,
                         n_cv / s_cv / rate_dk))
        rss_cv, rss_workers = _peak_rss_mib()
        n_bl, s_bl, c_bl = baseline_run(folder, args.baseline_sample)
        rate_bl = n_bl / s_bl
        rows += [
            ("DuckDB read_ndjson_auto, table per file (no checks)", n_dk, s_dk, rate_dk, n_dk / c_dk, 1.0),
            ("naive: fhir.resources R4B + row-by-row INSERT (sample)", n_bl, s_bl, rate_bl, n_bl / c_bl,
             rate_bl / rate_dk),
        ]
        print(f"\n{'method':<58} {'resources':>10} {'seconds':>9} {'resources/s':>12} {'per CPU-s':>10} {'ratio':>7}")
        for name, n, s, r, rc, ratio in rows:
            print(f"{name:<58} {n:>10,} {s:>9.2f} {r:>12,.0f} {rc:>10,.0f} {ratio:>6.2f}x")
        print(f"(ratio = wall-clock resources/s over read_ndjson_auto's; per CPU-s counts every thread and worker "
              f"process; peak RSS {rss_cv:,.0f} MiB (writer), {rss_workers:,.0f} MiB (largest worker); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
