"""`carevalue risk-scores`: CMS-HCC and Charlson scores summarised by primary-care segment."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit


@app.command("risk-scores")
def risk_scores_cmd(
    store: Path = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest/run."),
    recompute: bool = typer.Option(False, "--recompute", help="Run the risk-scores stage again first."),
    as_json: bool = typer.Option(False, "--json", help="Print the table rows as JSON."),
) -> None:
    """Patients, mean and 90th-percentile CMS-HCC score and mean Charlson index per segment.

    Segments with fewer than 11 patients are suppressed. The scores come from the risk-scores
    stage of `carevalue run` (computed here when the store does not have them yet).
    """
    from carevalue.backends import connect
    from carevalue.definitions.loader import load
    from carevalue.engine.pipeline import stage_risk_scores
    from carevalue.engine.privacy import suppress_small_cells
    from carevalue.engine.riskscores.summary import (
        LOW_CODING_COVERAGE,
        icd10_coverage,
        risk_by_segment,
    )

    if not store.exists():
        console.print(f"[red]no store at {store}[/red]")
        raise typer.Exit(2)
    con = connect(store)
    try:
        tables = set(con.list_tables())
        if "segments" not in tables:
            console.print("[red]the store has no segments table yet: run `carevalue run --store ...` first[/red]")
            raise typer.Exit(2)
        if recompute or not {"patient_risk_scores", "patient_charlson"} <= tables:
            stage_risk_scores(con, load())
        frame = risk_by_segment(con).to_pandas()
        as_of = con.table("patient_risk_scores").as_of.max().execute()
        from carevalue.engine.riskscores.crosswalk import from_library

        lib = load()
        coverage = icd10_coverage(con, as_of.date() if hasattr(as_of, "date") else as_of,
                                  rules=lib.get("record-rules", "default"), crosswalk=from_library(lib)).to_pandas()
    finally:
        con.disconnect()
    frame = suppress_small_cells(frame, "patients", ["mean_hcc", "p90_hcc", "mean_charlson"])
    rows = [{str(k): (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
            for r in frame.to_dict(orient="records")]
    emit(rows, "Risk scores by primary-care segment (CMS-HCC V24, Charlson)", as_json)
    low = coverage[coverage.low_coverage & (coverage.patients >= 11)]
    if len(low):
        names = ", ".join(f"{r.segment} {r.any_share:.0%}" for r in low.itertuples())
        typer.echo(f"warning: fewer than {LOW_CODING_COVERAGE:.0%} of patients have any ICD-10 diagnosis (own or "
                   f"mapped from SNOMED CT) in: {names}; their scores are mostly demographic", err=True)
