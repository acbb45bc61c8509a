"""`carevalue ingest`: load FHIR R4 / Synthea CSV / carevalue costing files into the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from carevalue.cli import app
from carevalue.cli.common import JSON, STORE, workspace
from carevalue.cli.output import console, emit, note

PARQUET = typer.Option(None, "--parquet", help="Also write the core tables to this folder as a Parquet "
                       "store (one folder of Parquet files per table) for `carevalue run --backend spark`.")


def _rows(report: Any) -> list[dict[str, Any]]:
    return [{"source": f.source, "read": f.read, "stored": f.stored, "quarantined": f.quarantined,
             "reasons": "; ".join(f"{k}: {v}" for k, v in f.reasons.items())} for f in report.files]


@app.command("ingest")
def ingest_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders: FHIR NDJSON/Bundles, Synthea CSV."),
    store: Path = STORE,
    report_json: Path | None = typer.Option(None, "--report-json", help="Write the per-file report as JSON."),
    parquet: Path | None = PARQUET,
    as_json: bool = JSON,
) -> None:
    """Read every record; store it or quarantine it with a reason. Re-running is idempotent."""
    from carevalue.queries.base import QueryError

    for p in paths:
        if not p.exists():
            raise QueryError(f"no such file or folder: {p}")
    ws = workspace(store, must_exist=False, backend="duckdb")
    if as_json or not console.is_terminal:
        report = ws.ingest(paths, parquet=parquet)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]ingest"), BarColumn(), TextColumn("{task.completed}/{task.total} files"),
                      TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("", total=None)

            def on_file(src: Any, i: int, n: int) -> None:
                progress.update(task, total=n, completed=i, description=src.label)

            report = ws.ingest(paths, on_file, parquet=parquet)
    if not report.files:
        found = "; ".join(f"{s}: {why}" for s, why in report.skipped[:5]) or "no files at all"
        raise QueryError(f"nothing to ingest in {', '.join(map(str, paths))}: no FHIR NDJSON/Bundle, Synthea "
                         f"CSV or carevalue costing file found ({found})")
    if report_json:
        report_json.write_text(json.dumps(report.as_json(), indent=1))
    rows = _rows(report)
    emit(rows, f"Ingest into {store}", as_json, columns=["source", "read", "stored", "quarantined", "reasons"])
    if not as_json:
        for s, why in report.skipped:
            console.print(f"[yellow]skipped[/yellow] {s}: {why}", highlight=False)
        tot = [sum(getattr(f, k) for f in report.files) for k in ("read", "stored", "quarantined")]
        note(f"total: read {tot[0]:,}  stored {tot[1]:,}  quarantined {tot[2]:,}")
        for line in report.lines():
            console.print(f"[yellow]implausible[/yellow] {line}", highlight=False)
        if parquet is not None:
            note(f"Parquet store for Spark runs: {parquet} (`carevalue run --backend spark --store {parquet}`)")


@app.command("export-parquet")
def export_parquet_cmd(store: Path = STORE, out: Path = typer.Option(..., "--out", help="The Parquet store "
                       "folder to write (each core table a folder of Parquet files); replaced table by table."),
                       as_json: bool = JSON) -> None:
    """Write the core tables of a DuckDB store as a Parquet store, the input of `carevalue run --backend spark`."""
    written = workspace(store, backend="duckdb").export_parquet(out)
    rows = [{"table": p.name, "files": len(list(p.glob("*.parquet"))),
             "bytes": sum(f.stat().st_size for f in p.glob("*.parquet"))} for p in written]
    emit(rows, f"Parquet store {out}", as_json, columns=["table", "files", "bytes"])
