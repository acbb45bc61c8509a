"""Before/after wall time of the outcome values step (outcome_values, outcome_evidence,
casemix_values) per written table, on the 2-patient YAML measure-case bed and on synthetic
populations, for two code trees (``--before`` and ``--after`` source folders), one after the other.

    /work/main/.venv/bin/python benchmarks/outcomes.py --before /work/main/src --after src \\
        --patients 2000 [--patients 20000] [--work /tmp/outcomes-bench]

Each store is prepared once with the ``--before`` tree (ingest, then the stages before outcomes;
benchmarks/outcomes_setbased.py prep), then timed with each tree; the row sets are diffed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOL = HERE / "outcomes_setbased.py"
BED_CASE = HERE.parent / "tests" / "cases" / "hip-death-within-90-days.yaml"


def _py(src: str, *args: str, capture: bool = False) -> str:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, *args], env=env, check=True, text=True,
                         stdout=subprocess.PIPE if capture else None)
    return out.stdout or ""


def _bed_core(src: str, work: Path) -> Path:
    core = work / "bed.duckdb"
    if not core.exists():
        code = (f"import sys; sys.path.insert(0, {str(HERE.parent / 'tests')!r})\n"
                "import yaml; from pathlib import Path\nfrom fhir_bed import FhirBed\n"
                "from test_measure_cases import _build\nfrom carevalue.workspace import Workspace\n"
                f"case = yaml.safe_load(Path({str(BED_CASE)!r}).read_text())\n"
                f"bed = FhirBed(Path({str(work / 'bed')!r})); _build(bed, case['given'])\n"
                f"Workspace.open({str(core)!r}, must_exist=False).ingest([bed.write()])\n")
        (work / "bed").mkdir(parents=True, exist_ok=True)
        _py(src, "-c", code)
    return core


def _synth_core(src: str, work: Path, n: int) -> Path:
    core = work / f"synth{n}.duckdb"
    if not core.exists():
        cli = str(Path(sys.executable).parent / "carevalue")
        env = {**os.environ, "PYTHONPATH": src}
        subprocess.run([cli, "synth", "--patients", str(n), "--seed", "7", "--out", str(work / f"synth{n}")],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([cli, "ingest", str(work / f"synth{n}" / "source"), "--store", str(core)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
    return core


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--patients", type=int, action="append", default=[])
    ap.add_argument("--work", default="/tmp/outcomes-bench")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    stores = [("2-patient bed", _bed_core(a.before, work))]
    stores += [(f"{n:,} patients", _synth_core(a.before, work, n)) for n in a.patients]
    for label, core in stores:
        flat = core.with_suffix(".flat.duckdb")
        if not flat.exists():
            _py(a.before, str(TOOL), "prep", str(core), str(flat))
        res = {}
        for side, src in (("before", a.before), ("after", a.after)):
            res[side] = json.loads(_py(src, str(TOOL), "values", str(flat), str(work / f"{core.stem}.{side}"),
                                       capture=True))
        print(f"\n{label}: total {res['before']['total_s']} s -> {res['after']['total_s']} s; "
              f"compilations (to_sqlglot) {res['before']['compilations']} -> {res['after']['compilations']}, "
              f"{res['before'].get('compile_s')} s -> {res['after'].get('compile_s')} s compiling")
        names = list(dict.fromkeys([*res["before"]["write_s"], *res["after"]["write_s"]]))
        for n in names:
            b, f = res["before"]["write_s"].get(n, "-"), res["after"]["write_s"].get(n, "-")
            print(f"  {n:<36} {b!s:>8} {f!s:>8}")
        subprocess.run([sys.executable, str(TOOL), "diff", str(work / f"{core.stem}.before"),
                        str(work / f"{core.stem}.after")], check=False)


if __name__ == "__main__":
    main()
