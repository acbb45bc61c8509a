"""Synthea CSV ingest throughput: carevalue vs two baselines, side by side in one run.

Builds a large export by copying a real Synthea sample K times with rewritten ids (every UUID gets
a copy-specific first block, so references stay consistent), then times:
  * carevalue: `ingest()` into a fresh DuckDB store (parse, validate, map, quarantine, write);
  * naive: csv.DictReader + one DuckDB INSERT per row, on a sample of rows (no validation);
  * bulk copy: DuckDB read_csv of every file into a VARCHAR table (no mapping, no validation) —
    the floor for simply moving the bytes.

    .venv/bin/python benchmarks/ingest_synthea_csv.py [--sample ../shared/data/synthea-csv/unmc-crane-v3.0]
        [--copies 6] [--baseline-rows 500]
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
import time
from pathlib import Path

import duckdb

from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store

UUID = re.compile(r"\b[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")


def build(sample: Path, copies: int, out: Path) -> int:
    """Write ``copies`` id-rewritten copies of every file of ``sample`` into ``out``; rows written."""
    out.mkdir(parents=True)
    rows = 0
    for f in sorted(sample.glob("*.csv")):
        text = f.read_text(encoding="utf-8-sig")
        header, _, body = text.partition("\n")
        parts = [header + "\n"]
        for k in range(copies):
            parts.append(UUID.sub(lambda m, k=k: f"{k:08x}{m.group(1)}", body))  # type: ignore[misc]
            if not parts[-1].endswith("\n"):
                parts[-1] += "\n"
        (out / f.name).write_text("".join(parts))
        with (out / f.name).open(newline="") as fh:
            rows += sum(1 for r in csv.reader(fh) if r) - 1
    return rows


def naive(folder: Path, limit: int) -> tuple[int, float]:
    con = duckdb.connect()
    n = 0
    t = time.perf_counter()
    for f in sorted(folder.glob("*.csv")):
        with f.open(newline="") as fh:
            reader = csv.DictReader(fh)
            cols = reader.fieldnames or []
            columns = ", ".join(f'"{c}" VARCHAR' for c in cols)
            con.execute(f'CREATE TABLE "{f.stem}" ({columns})')
            sql = f'INSERT INTO "{f.stem}" VALUES ({", ".join("?" for _ in cols)})'
            for i, row in enumerate(reader):
                if i >= limit:
                    break
                con.execute(sql, [row[c] for c in cols])
                n += 1
    return n, time.perf_counter() - t


def bulk_copy(folder: Path) -> float:
    con = duckdb.connect()
    t = time.perf_counter()
    for f in sorted(folder.glob("*.csv")):
        con.execute(f"CREATE TABLE \"{f.stem}\" AS SELECT * FROM read_csv('{f}', all_varchar = true)")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=Path,
                    default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "synthea-csv" / "unmc-crane-v3.0")
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--baseline-rows", type=int, default=500, help="rows per file for the naive baseline")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        rows = build(args.sample.resolve(), args.copies, folder)
        with Store(Path(tmp) / "s.duckdb") as store:
            t = time.perf_counter()
            report = ingest([folder], store)
            dt = time.perf_counter() - t
        stored = sum(f.stored for f in report.files)
        quarantined = sum(f.quarantined for f in report.files)
        n_naive, dt_naive = naive(folder, args.baseline_rows)
        dt_copy = bulk_copy(folder)
    ours = rows / dt
    base = n_naive / dt_naive
    copy = rows / dt_copy
    print(f"export: {rows:,} rows in {len(report.files)} files ({args.copies} copies of {args.sample.name}); "
          f"stored {stored:,}, quarantined {quarantined:,}")
    print(f"{'method':<46}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'carevalue ×':>13}")
    print(f"{'carevalue ingest (validate, map, store)':<46}{rows:>10,}{dt:>10.2f}{ours:>12,.0f}{1:>13.2f}")
    print(f"{'naive: DictReader + INSERT per row (sample)':<46}{n_naive:>10,}{dt_naive:>10.2f}{base:>12,.0f}{ours / base:>13.2f}")
    print(f"{'bulk copy: DuckDB read_csv, all VARCHAR':<46}{rows:>10,}{dt_copy:>10.2f}{copy:>12,.0f}{ours / copy:>13.2f}")


if __name__ == "__main__":
    main()
