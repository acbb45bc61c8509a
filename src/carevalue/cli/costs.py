"""`carevalue costs | capacity | cost-opportunities`: TDABC read-outs from the store.

The costing tables are computed by the costing stage (engine/costing.run_costing); when the store
does not hold them yet, or with --recompute, the stage runs first.
"""

from __future__ import annotations

from pathlib import Path

import typer
from ibis.backends import BaseBackend

from carevalue.backends import connect
from carevalue.cli import app
from carevalue.cli.output import console, emit
from carevalue.engine.costing import (
    OUTPUT_TABLES,
    minutes_coverage,
    provider_costs,
    resource_utilisation,
    rows_of,
)

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest/run.")
JSON = typer.Option(False, "--json", help="Print the table rows as JSON.")
RECOMPUTE = typer.Option(False, "--recompute", help="Run the costing stage again before printing.")


def _costed(store: Path, recompute: bool, quiet: bool) -> BaseBackend:
    if not store.exists():
        console.print(f"[red]no store at {store}[/red]")
        raise typer.Exit(2)
    con = connect(store)
    if recompute or not set(OUTPUT_TABLES) <= set(con.list_tables()):
        from carevalue.definitions.loader import load
        from carevalue.engine.costing_run import run_costing

        lib = load()
        counts = run_costing(con, lib.process_maps(), lib.costing_policy(), lib.get("record-rules", "default"))
        if not quiet:
            console.print("costing: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return con


@app.command("costs")
def costs_cmd(store: Path = STORE, condition: str | None = typer.Option(
        None, "--condition", help="Condition template or segment id."),
        as_json: bool = JSON, recompute: bool = RECOMPUTE) -> None:
    """Cost per care cycle by provider (TDABC), with a per-phase breakdown and charges beside it."""
    con = _costed(store, recompute, as_json)
    rows = provider_costs(con, condition)
    emit(rows, "Mean cost per cycle by provider (TDABC; charges shown beside, never used)", as_json)
    if not as_json:
        cov = {r["minutes_source"]: r["minutes_share"] for r in minutes_coverage(con)}
        console.print("minutes: " + ", ".join(f"{k} {v:.1%}" for k, v in sorted(cov.items())))


@app.command("capacity")
def capacity_cmd(store: Path = STORE, organization: str | None = typer.Option(
        None, "--organization", help="Only this facility."),
        as_json: bool = JSON, recompute: bool = RECOMPUTE) -> None:
    """Used vs practical capacity per resource and year, with the cost of unused capacity."""
    con = _costed(store, recompute, as_json)
    emit(resource_utilisation(con, organization), "Capacity use per resource", as_json)


@app.command("cost-opportunities")
def opportunities_cmd(store: Path = STORE, kind: str | None = typer.Option(
        None, "--kind", help="unused-capacity, skill-mismatch, expensive-setting, cycle-time-wait, low-value"),
        top: int = typer.Option(30, "--top", help="Largest N by money at stake."),
        as_json: bool = JSON, recompute: bool = RECOMPUTE) -> None:
    """Cost-reduction opportunities with the money at stake and why."""
    con = _costed(store, recompute, as_json)
    t = con.table("cost_opportunities")
    if kind:
        t = t.filter(t.kind == kind)
    t = t.order_by(t.money_at_stake.desc()).limit(top)
    emit(rows_of(t.select("kind", "period", "period_coverage", "organization_id", "condition", "step_code",
                          "money_at_stake", "explanation")),
         "Cost-reduction opportunities", as_json)
