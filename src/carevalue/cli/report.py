"""`carevalue report`: write the static HTML report (one self-contained file) for a store."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest/run.")
OUT = typer.Option(Path("report.html"), "--out", help="HTML file to write.")


@app.command("report")
def report_cmd(store: Path = STORE, out: Path = OUT) -> None:
    """Data, care cycles and segments, TDABC cost, risk-adjusted outcomes and value in one HTML file."""
    from carevalue.report import build_report

    if not store.exists():
        console.print(f"[red]no store at {store}[/red]")
        raise typer.Exit(2)
    path = build_report(store, out)
    console.print(f"Report: {path}")
