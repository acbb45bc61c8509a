"""`carevalue demo`: synthetic population -> ingest -> engine -> HTML report, saying where output is.

The embedded default: DuckDB and the built-in synthetic population (20k patients, seed 7). Each
step prints its wall time so a slow machine shows where the minutes went.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, stage_progress

OUT = typer.Option(Path("demo-output"), "--out", help="Folder for the population, store and report.")
PATIENTS = typer.Option(20_000, "--patients", help="Size of the synthetic population.")
SEED = typer.Option(7, "--seed", help="Random seed.")


@app.command("demo")
def demo_cmd(out: Path = OUT, patients: int = PATIENTS, seed: int = SEED) -> None:
    """The main job on the embedded default: DuckDB + the built-in synthetic population."""
    from carevalue.cli.ingest import run_ingest
    from carevalue.engine.pipeline import run_all
    from carevalue.report import build_report
    from carevalue.synth import generate

    out.mkdir(parents=True, exist_ok=True)
    store = out / "carevalue.duckdb"
    started = time.perf_counter()

    def step(n: int, what: str) -> float:
        console.print(f"[bold]{n}/4[/bold] {what}")
        return time.perf_counter()

    def took(t: float) -> None:
        console.print(f"      [dim]{time.perf_counter() - t:.0f} s[/dim]")

    t = step(1, f"synthetic population: {patients:,} patients, seed {seed}")
    generate(patients=patients, seed=seed, out=out / "population")
    took(t)
    t = step(2, f"ingest into {store}")
    # A re-run starts from an empty store so counts describe this population only.
    for stale in (store, store.with_name(store.name + ".wal")):
        stale.unlink(missing_ok=True)
    report = run_ingest([out / "population" / "source"], store)
    read = sum(f.read for f in report.files)
    stored = sum(f.stored for f in report.files)
    quarantined = sum(f.quarantined for f in report.files)
    console.print(f"      read {read:,}  stored {stored:,}  quarantined {quarantined:,}")
    took(t)
    t = step(3, "engine (care cycles, segments, costing, outcomes)")
    with stage_progress("engine") as on_stage:
        lines = run_all(store, out, on_stage=on_stage)
    for line in lines:
        console.print(f"      {line}")
    took(t)
    t = step(4, "report")
    html = build_report(store, out / "report.html")
    took(t)
    console.print(f"\n[bold green]Done[/bold green] in {time.perf_counter() - started:.0f} s.")
    console.print(f"Store:  {store.resolve()}")
    console.print(f"Report: {html}")
