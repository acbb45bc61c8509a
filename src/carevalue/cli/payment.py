"""`carevalue payment`: revenue and margin per provider under fee-for-service, the bundle, a
time-based payment, condition capitation and a CMS episode model, on the same care cycles."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit


@app.command("payment")
def payment_cmd(
    store: Path = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest/run."),
    condition: str = typer.Option(None, "--condition", help="Only this condition or segment."),
    margin: float = typer.Option(None, "--margin", help="Bundle margin over expected cost (fraction)."),
    warranty_years: float = typer.Option(None, "--warranty-years", help="Override the bundles' warranty length."),
    stop_loss: float = typer.Option(None, "--stop-loss", help="Bundle outlier threshold (FFS-equivalent spending)."),
    track: str = typer.Option(None, "--track", help="Episode-model track, e.g. track-1."),
    episode_model: str = typer.Option("cms-team", "--episode-model", help="cms-team or cms-cjr."),
    reference_price: bool = typer.Option(False, "--reference-price", help="Pay the published bundle price."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Simulate every payment model on the store's cycles and print the per-provider comparison."""
    from carevalue.backends import connect
    from carevalue.definitions.loader import load
    from carevalue.engine.payment.run import simulate_store, tables
    from carevalue.engine.payment.simulate import Options
    from carevalue.pipeline.payment_stage import run_payment
    from carevalue.queries import payment as q

    if not store.exists():
        console.print(f"[red]no store at {store}[/red]")
        raise typer.Exit(2)
    lib = load()
    opt = Options(margin=margin, warranty_years=warranty_years, stop_loss_threshold=stop_loss,
                  use_reference_price=reference_price, episode_track=track)
    con = connect(store)
    try:
        if "cycle_cost_totals" not in set(con.list_tables()):
            console.print("[red]the store has no costs yet: run `carevalue run --store ...` first[/red]")
            raise typer.Exit(2)
        if episode_model == "cms-team":
            run_payment(con, lib, opt)
        else:
            import ibis

            from carevalue.backends import write_table
            for name, frame in tables(simulate_store(con, lib, opt, episode_model_id=episode_model)).items():
                write_table(con, name, ibis.memtable(frame.astype(object).where(frame.notna(), None)))
        rows = q.provider_comparison(con, lib, condition=condition)
        prices = q.bundle_prices(con, lib)
        recs = q.episode_reconciliation(con, lib)
    finally:
        con.disconnect()
    if as_json:
        print(json.dumps({"providers": rows, "bundle_prices": prices, "episode_reconciliation": recs},
                         default=str, indent=1))
        return
    emit(prices, "Proposed bundle prices (expected cost + warranty reserve + margin)", False)
    emit(recs, f"Episode-model reconciliation ({episode_model})", False)
    keep = ("condition", "organization_id", "patients", "cycles", "ffs_margin_per_cycle", "bundle_margin_per_cycle",
            "tb_margin_per_cycle", "capitation_margin_per_cycle", "episode_margin_per_cycle")
    emit([{k: r[k] for k in keep} for r in rows],
         "Margin per cycle by provider (bundle conditions: eligible cycles; --json for revenue)", False)
