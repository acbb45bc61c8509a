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
    no_facility: bool = typer.Option(False, "--no-facility", help="Fee-for-service pays the claim charges only (no MS-DRG/APC)."),
    prom_contingent: bool = typer.Option(False, "--prom-contingent", help="Apply the bundles' PROM-contingent terms (withhold / bonus)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Revenue and margin per provider under every payment model, from the last run's payment
    tables; with --margin/--warranty-years/--stop-loss/--track/--episode-model/--reference-price the
    simulation is redone in memory with those terms (the store is not changed)."""
    from carevalue.engine.payment.simulate import Options
    from carevalue.queries import payment as q
    from carevalue.workspace import Workspace, WorkspaceError

    try:
        with Workspace.open(store) as ws:
            what_if = any(v is not None for v in (margin, warranty_years, stop_loss, track)) or \
                reference_price or no_facility or prom_contingent or episode_model != "cms-team"
            if what_if:
                opt = Options(margin=margin, warranty_years=warranty_years, stop_loss_threshold=stop_loss,
                              use_reference_price=reference_price, episode_track=track,
                              facility_payments=not no_facility, prom_contingent=prom_contingent or None)
                out = ws.ask(q.what_if, options=opt, episode_model=episode_model, condition=condition)
                rows, prices, recs = out["providers"], out["bundle_prices"], out["episode_reconciliation"]
                comp, split = out["complication_margins"], out["margin_split"]
            else:
                rows = ws.ask(q.provider_comparison, condition=condition)
                comp = ws.ask(q.complication_margins)
                split = ws.ask(q.margin_split)
                prices = ws.ask(q.bundle_prices)
                recs = ws.ask(q.episode_reconciliation)
    except WorkspaceError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"providers": rows, "bundle_prices": prices, "episode_reconciliation": recs,
                          "complication_margins": comp, "margin_split": split},
                         default=str, indent=1))
        return
    emit(prices, "Proposed bundle prices (expected cost + warranty reserve + margin)", False)
    emit(recs, f"Episode-model reconciliation ({episode_model})", False)
    keep = ("condition", "organization_id", "patients", "cycles", "ffs_margin_per_cycle", "bundle_margin_per_cycle",
            "tb_margin_per_cycle", "capitation_margin_per_cycle", "episode_margin_per_cycle", "pac_margin_per_cycle",
            "warranty_price_margin_per_cycle")
    emit([{k: r.get(k) for k in keep} for r in rows],
         "Margin per cycle by provider (bundle conditions: eligible cycles; --json for revenue)", False)
    emit([{k: r.get(k) for k in ("bundle_id", "complication", "patients", "cycles", "cost_per_cycle",
                                 "ffs_paid_per_cycle", "ffs_margin_per_cycle", "bundle_paid_per_cycle",
                                 "bundle_margin_per_cycle")} for r in comp],
         "Eligible bundle cycles with (1) and without (0) a complication: payment and margin per cycle", False)
    emit([{k: r.get(k) for k in ("bundle_id", "organization_id", "model", "patients", "cycles",
                                 "cycles_with_complication_care", "index_margin", "complication_revenue",
                                 "complication_cost", "complication_margin", "margin")} for r in split],
         "Margin per eligible cycle split into index care and complication care (pac = PAC-allowance case rate, "
         "warranty_price = fixed price with complication care)", False)
