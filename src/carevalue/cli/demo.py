"""`carevalue demo`: synthetic population -> ingest -> run -> the report site, saying where output is.

The embedded default: DuckDB and the built-in synthetic population (20k patients, seed 7). Each
step prints its wall time so a slow machine shows where the minutes went.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.common import workspace
from carevalue.cli.output import note, stage_progress

OUT = typer.Option(Path("demo-output"), "--out", help="Folder for the population, store and report.")
PATIENTS = typer.Option(20_000, "--patients", help="Size of the synthetic population.")
SEED = typer.Option(7, "--seed", help="Random seed.")


def _clear(store: Path) -> None:
    """A re-run starts from an empty store (and no runs) so counts describe this population only."""
    import shutil

    for stale in (store, store.with_name(store.name + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(Path(str(store) + ".runs"), ignore_errors=True)


@app.command("demo")
def demo_cmd(out: Path = OUT, patients: int = PATIENTS, seed: int = SEED) -> None:
    """The main job on the embedded default: DuckDB + the built-in synthetic population."""
    from carevalue.queries.base import QueryError
    from carevalue.report import build_site
    from carevalue.synth import generate

    if patients < 1:
        raise QueryError(f"--patients must be at least 1 (got {patients})")
    out.mkdir(parents=True, exist_ok=True)
    store = out / "carevalue.duckdb"
    started = time.perf_counter()

    def step(n: int, what: str) -> float:
        note(f"[bold]{n}/4[/bold] {what}")
        return time.perf_counter()

    def took(t: float) -> None:
        note(f"      [dim]{time.perf_counter() - t:.0f} s[/dim]")

    t = step(1, f"synthetic population: {patients:,} patients, seed {seed}")
    generate(patients=patients, seed=seed, out=out / "population")
    took(t)
    t = step(2, f"ingest into {store}")
    _clear(store)
    ws = workspace(store, must_exist=False)
    report = ws.ingest([out / "population" / "source"])
    read, stored, quarantined = (sum(getattr(f, k) for f in report.files) for k in ("read", "stored", "quarantined"))
    note(f"      read {read:,}  stored {stored:,}  quarantined {quarantined:,}")
    took(t)
    t = step(3, "run (care cycles, segments, costing, risk scores, outcomes, value)")
    with stage_progress("run") as on_stage:
        result = ws.run(on_stage=on_stage)
    for line in result.lines:
        note(f"      {line}")
    took(t)
    t = step(4, "report (static site)")
    html = build_site(ws, out / "report")
    ws.close()
    took(t)
    note(f"\n[bold green]Done[/bold green] in {time.perf_counter() - started:.0f} s.")
    note(f"Store:  {store.resolve()}")
    note(f"Next:   `carevalue list conditions --store {store}`, `carevalue costs --store {store}`, "
         f"`carevalue report --store {store} --out {out / 'report'}` to rebuild the report "
         "(`--out report.html` for one file)")
    note(f"Report: {Path(html).resolve()}  (open it in a browser; no server needed)")
    note(f"Dashboard: `carevalue users add NAME --role analyst --store {store}`, then "
         f"`carevalue serve --store {store}` and open http://127.0.0.1:8000/dashboard/ (it asks you to "
         f"sign in; docs/dashboard.md)")
