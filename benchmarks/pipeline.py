"""Profile the whole pipeline: synth → ingest → every stage, per population size, on DuckDB.

Prints one table per size with wall time, CPU time and peak memory (PSS, the proportional set
size of the process and its parse workers) per step and the rows each stage wrote, then the
scaling ratios between consecutive sizes (1.0 per doubling would be linear).

    python benchmarks/pipeline.py --sizes 20000 100000 [--seed 7] [--work DIR] [--only STAGE ...]
                                  [--reuse-population]

``--patients`` is the same option as ``--sizes``. The scaling table gives wall and CPU ratios: on a
shared machine the CPU ratio moves less with the load.

DuckDB takes its threads, memory limit and spill folder from CAREVALUE_DUCKDB_* (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from carevalue.synth import generate
from carevalue.workspace import Workspace


def _family() -> list[Path]:
    """/proc entries of this process and its children (ingest forks parse workers)."""
    me = Path("/proc/self")
    kids: list[Path] = [me]
    try:
        for task in (me / "task").iterdir():
            kids += [Path("/proc") / pid for pid in (task / "children").read_text(encoding="ascii").split()]
    except OSError:
        pass
    return kids


def _rss_sum_kib(procs: list[Path]) -> int:
    """Summed resident set size (cheap: one line of statm each); an upper bound of summed PSS."""
    page, kib = os.sysconf("SC_PAGE_SIZE") // 1024, 0
    for d in procs:
        try:
            kib += int((d / "statm").read_text(encoding="ascii").split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return kib


def _rss_mib(procs: list[Path] | None = None) -> float:
    """Memory of this process and its children, in MiB: the sum of their proportional set sizes
    (PSS), so pages a forked worker still shares with its parent are counted once, not once per
    process as summed RSS would (RSS where PSS cannot be read)."""
    kib = 0
    for d in procs if procs is not None else _family():
        pss = _pss_kib(d)
        kib += pss if pss is not None else _rss_sum_kib([d])
    return kib / 1024


def _pss_kib(proc: Path) -> int | None:
    try:
        for line in (proc / "smaps_rollup").read_text(encoding="ascii").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its finished children: ingest's parse
    workers are forked processes, whose time ``process_time`` alone would miss."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Sampler:
    """Peak memory (summed PSS) of this process and its children while a step runs.

    Reading smaps_rollup walks a process's page tables: about 85 ms for 8 GiB of small Python
    objects, CPU time charged to this process. So every 200 ms the sampler reads only the cheap
    summed RSS, an upper bound of PSS, and reads PSS only when that bound exceeds the peak so far,
    at most once per twenty times its last cost (the sampler's own share of one core stays ≤ 5 %).
    """

    def __init__(self) -> None:
        self.peak = 0.0
        self.pss_reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        next_read = 0.0
        while not self._stop.wait(0.2):
            procs = _family()
            now = time.perf_counter()
            if _rss_sum_kib(procs) / 1024 > self.peak and now >= next_read:
                self.peak = max(self.peak, _rss_mib(procs))
                self.pss_reads += 1
                next_read = now + 20 * (time.perf_counter() - now)

    def __enter__(self) -> Sampler:
        self.peak = _rss_mib()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


@contextmanager
def measured(rows: list[dict[str, object]], step: str) -> Iterator[Callable[[int], None]]:
    written = {"rows": 0}
    cpu0, t0 = _cpu_s(), time.perf_counter()
    with Sampler() as s:
        yield lambda n: written.__setitem__("rows", n)
    rows.append({"step": step, "wall_s": time.perf_counter() - t0, "cpu_s": _cpu_s() - cpu0,
                 "peak_rss_mib": s.peak, "rows": written["rows"]})
    print(f"  {step} done after {rows[-1]['wall_s']:.1f} s, peak memory (PSS) {s.peak:,.0f} MiB", file=sys.stderr, flush=True)


def profile(patients: int, seed: int, work: Path, only: list[str] | None = None,
            reuse: bool = False) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    pop, store = work / f"pop-{patients}", work / f"s-{patients}.duckdb"
    if reuse and (pop / "source" / "Patient.000.ndjson").exists():
        rows.append({"step": "synth (reused)", "wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mib": _rss_mib(),
                     "rows": patients})
    else:
        with measured(rows, "synth") as wrote:
            generate(patients=patients, seed=seed, out=pop)
            wrote(patients)
    for stale in (store, store.with_name(store.name + ".wal"), store.with_name(store.name + ".runs")):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    ws = Workspace.open(store, must_exist=False)
    with measured(rows, "ingest") as wrote:
        report = ws.ingest([pop / "source"])
        wrote(sum(f.stored for f in report.files))
    # One run, timed stage by stage through the stage hook: each stage ends where the next begins.
    marks: list[tuple[str, float, float, float]] = []
    sampler = Sampler()
    with sampler:
        def hook(name: str, i: int, n: int) -> None:
            if marks:  # progress on stderr, so a long run that is stopped still shows its stages
                print(f"  {marks[-1][0]} done after {time.perf_counter() - marks[-1][1]:.1f} s, "
                      f"peak memory (PSS) {sampler.peak:,.0f} MiB", file=sys.stderr, flush=True)
            marks.append((name, time.perf_counter(), _cpu_s(), sampler.peak))
            sampler.peak = _rss_mib()
        result = ws.run(only=only, on_stage=hook)
        marks.append(("(end)", time.perf_counter(), _cpu_s(), sampler.peak))
    per_stage = {s.name: sum(s.rows.values()) for s in result.stages}
    for (name, t0, c0, _), (_, t1, c1, peak) in zip(marks, marks[1:], strict=False):
        rows.append({"step": f"stage {name}", "wall_s": t1 - t0, "cpu_s": c1 - c0,
                     "peak_rss_mib": peak, "rows": per_stage.get(name, 0)})
    return rows


def _print(patients: int, rows: list[dict[str, object]]) -> None:
    print(f"\n## {patients:,} patients (DuckDB, {Path(tempfile.gettempdir())})")
    print(f"{'step':<24}{'wall s':>10}{'CPU s':>10}{'peak PSS MiB':>14}{'rows':>14}")
    for r in rows:
        print(f"{r['step']:<24}{r['wall_s']:>10.1f}{r['cpu_s']:>10.1f}{r['peak_rss_mib']:>14.0f}{r['rows']:>14,}")
    stages = [r for r in rows if str(r["step"]).startswith("stage")]
    total = sum(float(str(r["wall_s"])) for r in stages)
    cpu = sum(float(str(r["cpu_s"])) for r in stages)
    print(f"{'engine total':<24}{total:>10.1f}{cpu:>10.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", "--patients", dest="patients", type=int, nargs="+", default=[20000],
                    help="population sizes, e.g. --sizes 20000 100000 (ratios between consecutive sizes)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--only", nargs="+", default=None, help="run only these stages (default: all)")
    ap.add_argument("--reuse-population", action="store_true",
                    help="keep a population already written to WORK/pop-N (synth is then not timed)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="carevalue-bench-"))
    results = {}
    for n in args.patients:
        results[n] = profile(n, args.seed, work, args.only, args.reuse_population)
        _print(n, results[n])
    sizes = sorted(results)
    for a, b in zip(sizes, sizes[1:], strict=False):
        ta = {str(r["step"]): (float(r["wall_s"]), float(r["cpu_s"])) for r in results[a]}  # type: ignore[arg-type]
        tb = {str(r["step"]): (float(r["wall_s"]), float(r["cpu_s"])) for r in results[b]}  # type: ignore[arg-type]
        for t in (ta, tb):
            eng = [v for k, v in t.items() if k.startswith("stage")]
            t["engine total"] = (sum(w for w, _ in eng), sum(c for _, c in eng))
        print(f"\n## scaling {b:,} / {a:,} patients (x{b / a:.0f} patients): ratio per step")
        print(f"{'step':<24}{'wall':>10}{'CPU':>10}")
        for step, (w, c) in ta.items():
            if step in tb and w > 0 and c > 0:
                print(f"{step:<24}{tb[step][0] / w:>10.2f}{tb[step][1] / c:>10.2f}")
    print(f"\npeak RSS of the whole process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
