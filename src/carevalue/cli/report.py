"""`carevalue report`: write the static HTML report (one self-contained file) for a store."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.common import CONTENT, STORE, workspace
from carevalue.cli.output import note

OUT = typer.Option(Path("report.html"), "--out", help="HTML file to write.")


@app.command("report")
def report_cmd(store: Path = STORE, out: Path = OUT, content: list[Path] | None = CONTENT) -> None:
    """Data, care cycles and segments, TDABC cost, risk-adjusted outcomes and value in one HTML file."""
    from carevalue.report import build_report

    with workspace(store, content) as ws:
        path = build_report(ws, out)
    note(f"Report: {path}")
