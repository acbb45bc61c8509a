"""`carevalue demo`: generate the synthetic population, ingest it, run the engine, say where output is."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for the population, store and report."),
    patients: int = typer.Option(20_000, "--patients", help="Size of the synthetic population."),
    seed: int = typer.Option(7, "--seed", help="Random seed."),
) -> None:
    """The main job on the embedded default: DuckDB + the built-in synthetic population."""
    from carevalue.cli.ingest import run_ingest
    from carevalue.synth import generate

    out.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]1/3[/bold] synthetic population: {patients:,} patients, seed {seed}")
    generate(patients=patients, seed=seed, out=out / "population")
    store = out / "carevalue.duckdb"
    console.print(f"[bold]2/3[/bold] ingest into {store}")
    report = run_ingest([out / "population" / "source"], store)
    read = sum(f.read for f in report.files)
    stored = sum(f.stored for f in report.files)
    quarantined = sum(f.quarantined for f in report.files)
    console.print(f"      read {read:,}  stored {stored:,}  quarantined {quarantined:,}")
    console.print("[bold]3/3[/bold] engine")
    from carevalue.engine.pipeline import run_all

    summary = run_all(store, out)
    for line in summary:
        console.print(f"      {line}")
    console.print(f"\n[bold green]Done.[/bold green] Store: {store.resolve()}")
    console.print(f"Report: {(out / 'report.html').resolve()}")
