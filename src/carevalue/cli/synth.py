"""`carevalue synth`: write a synthetic population with planted truth (FHIR NDJSON + costing CSVs)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit


@app.command("synth")
def synth_cmd(
    patients: int = typer.Option(20_000, "--patients", help="Number of patients."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same population)."),
    out: Path = typer.Option(Path("synthetic-population"), "--out",  # noqa: B008
                             help="Folder; source/ and truth/ go inside."),
    workers: int | None = typer.Option(None, "--workers", help="Processes writing NDJSON (default up to 2)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table rows as JSON."),
) -> None:
    """Generate the population; `carevalue ingest OUT/source` loads it, OUT/truth holds the planted truth."""
    from carevalue.synth import generate

    with console.status(f"generating {patients:,} patients (seed {seed})", spinner="dots") if not as_json \
            else nullcontext():
        summary = generate(patients=patients, seed=seed, out=out, workers=workers)
    counts = summary["resources"]
    assert isinstance(counts, dict)
    rows = [{"file": k, "records": v} for k, v in counts.items()]
    emit(rows, f"synthetic population: {patients:,} patients, seed {seed} -> {out}", as_json)
    if not as_json:
        console.print(f"seconds: {summary['seconds']}")
