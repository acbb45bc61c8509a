"""`carevalue ingest`: load FHIR R4 / Synthea CSV / carevalue costing files into the store."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from carevalue.cli import app
from carevalue.cli.output import console, emit
from carevalue.ingest.run import IngestReport, ingest
from carevalue.ingest.store import Store


def run_ingest(paths: list[Path], store_path: Path, quiet: bool = False) -> IngestReport:
    with Store(store_path) as store, Progress(
        TextColumn("[bold]ingest"), BarColumn(), TextColumn("{task.completed}/{task.total} files"),
        TextColumn("{task.description}"), TimeElapsedColumn(), console=console, disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def on_file(src, i, n):  # type: ignore[no-untyped-def]
            progress.update(task, total=n, completed=i, description=src.label)

        report = ingest(paths, store, on_file)
        progress.update(task, completed=len(report.files))
    return report


@app.command("ingest")
def ingest_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders: FHIR NDJSON/Bundles, Synthea CSV."),
    store: Path = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB file to write."),
    report_json: Path | None = typer.Option(None, "--report-json", help="Write the per-file report as JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print the table rows as JSON."),
) -> None:
    """Read every record; store it or quarantine it with a reason. Re-running is idempotent."""
    try:
        report = run_ingest(paths, store, quiet=as_json)
    except FileNotFoundError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    rows = [{"source": f.source, "read": f.read, "stored": f.stored, "quarantined": f.quarantined,
             "reasons": "; ".join(f"{k}: {v}" for k, v in f.reasons.items())} for f in report.files]
    emit(rows, f"Ingest into {store}", as_json)
    if report_json:
        report_json.write_text(json.dumps(report.as_json(), indent=1))
    if not as_json:
        for s, why in report.skipped:
            console.print(f"[yellow]skipped[/yellow] {s}: {why}")
        tot = [sum(getattr(f, k) for f in report.files) for k in ("read", "stored", "quarantined")]
        console.print(f"total: read {tot[0]:,}  stored {tot[1]:,}  quarantined {tot[2]:,}")
        for line in report.lines():
            console.print(f"[yellow]implausible[/yellow] {line}")
