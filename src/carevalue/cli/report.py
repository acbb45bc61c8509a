"""`carevalue report`: write the static report for a store — a self-contained site in a folder
(index, a page per topic, condition and segment, methods), or one HTML file when --out ends in .html."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.common import CONTENT, STORE, workspace
from carevalue.cli.output import note

OUT = typer.Option(Path("report"), "--out", help=(
    "Folder for the site (index.html, one page per condition and segment, methods.html, plotly.min.js); "
    "a path ending in .html writes the single-file report instead."))


def is_single_file(out: Path) -> bool:
    """--out names one HTML file (the single-file report) rather than the site's folder."""
    return out.suffix.lower() in (".html", ".htm")


@app.command("report")
def report_cmd(store: Path = STORE, out: Path = OUT, content: list[Path] | None = CONTENT) -> None:
    """Data, care cycles and segments, TDABC cost, risk-adjusted outcomes and value as a static site
    (or one HTML file); opens from disk with no server and no network."""
    from carevalue.report import build_report, build_site

    with workspace(store, content) as ws:
        path = build_report(ws, out) if is_single_file(out) else build_site(ws, out)
    note(f"Report: {path}")
