"""`carevalue synth`: write a synthetic population with planted truth (FHIR NDJSON + costing CSVs)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.common import JSON
from carevalue.cli.output import console, emit, note


@app.command("synth")
def synth_cmd(
    patients: int = typer.Option(20_000, "--patients", help="Number of patients (at least 1)."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same population)."),
    out: Path = typer.Option(Path("synthetic-population"), "--out",  # noqa: B008
                             help="Folder; source/ and truth/ go inside."),
    workers: int | None = typer.Option(None, "--workers", help="Processes writing NDJSON (default up to 2)."),
    as_json: bool = JSON,
) -> None:
    """Generate the population; `carevalue ingest OUT/source` loads it, OUT/truth holds the planted truth."""
    from carevalue.queries.base import QueryError
    from carevalue.synth import generate

    if patients < 1:
        raise QueryError(f"--patients must be at least 1 (got {patients})")
    if workers is not None and workers < 1:
        raise QueryError(f"--workers must be at least 1 (got {workers})")
    if out.exists() and not out.is_dir():
        raise QueryError(f"--out {out} is a file; give a folder")
    busy = console.status(f"generating {patients:,} patients (seed {seed})", spinner="dots") \
        if console.is_terminal and not as_json else nullcontext()
    with busy:
        summary = generate(patients=patients, seed=seed, out=out, workers=workers)
    counts = summary["resources"]
    if not isinstance(counts, dict):
        raise TypeError("synth summary has no resource counts")
    rows = [{"file": k, "records": v} for k, v in counts.items()]
    emit(rows, f"synthetic population: {patients:,} patients, seed {seed} -> {out}", as_json)
    if not as_json:
        note(f"seconds: {summary['seconds']}  ·  next: `carevalue ingest {out / 'source'} --store carevalue.duckdb`")
