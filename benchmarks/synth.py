"""Throughput of the synthetic population generator (issue 3 target: 1M patients <= 10 min, <= 12 GiB).

Prints, per population size, seconds, patients/s, resources/s (FHIR resources + CSV rows) and the
ratio to the target rate (1,000,000 patients / 600 s = 1,667 patients/s), then extrapolates 1M
linearly from the largest size measured. `--million` also measures 1M directly (~several minutes).
Usage: .venv/bin/python benchmarks/synth.py [--sizes 20000,200000] [--million] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from carevalue.synth import generate

TARGET_RATE = 1_000_000 / 600


def _peak_gib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024 / 1024  # ru_maxrss is KiB on Linux


def measure(patients: int, workers: int | None) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        t = time.perf_counter()
        summary = generate(patients=patients, seed=7, out=out, workers=workers)
        secs = time.perf_counter() - t
        counts = summary["resources"]
        assert isinstance(counts, dict)
        n_res = sum(int(v) for v in counts.values())
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e9
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"patients": patients, "seconds": secs, "resources": n_res, "patients_s": patients / secs,
            "resources_s": n_res / secs, "ratio": patients / secs / TARGET_RATE, "gb": size, "peak_gib": _peak_gib()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,200000")
    ap.add_argument("--million", action="store_true")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    rows = [measure(n, args.workers) for n in sizes]
    print(f"{'patients':>10} {'seconds':>8} {'records':>11} {'patients/s':>11} {'records/s':>10} "
          f"{'x target':>8} {'output GB':>9} {'peak GiB':>8}")
    for r in rows:
        print(f"{r['patients']:>10,.0f} {r['seconds']:>8.1f} {r['resources']:>11,.0f} {r['patients_s']:>11,.0f} "
              f"{r['resources_s']:>10,.0f} {r['ratio']:>8.2f} {r['gb']:>9.2f} {r['peak_gib']:>8.2f}")
    big = rows[-1]
    if big["patients"] < 1_000_000:
        est = 1_000_000 / big["patients_s"]
        print(f"1,000,000 patients extrapolated from {big['patients']:,.0f}: {est:,.0f} s "
              f"(target 600 s; peak memory grows ~linearly: ~{big['peak_gib'] * 1e6 / big['patients']:.1f} GiB)")


if __name__ == "__main__":
    main()
