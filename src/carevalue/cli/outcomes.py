"""`carevalue outcomes`: the risk-adjusted provider table of one outcome measure of a condition.

Reads ``outcome_comparison`` written by the outcomes stage of `carevalue run` (or computes the
outcome tables first when the store has none, or with --recompute). Several conditions separated
by commas are compared pooled (e.g. hip and knee replacement complications, as CMS reports them).
Rows of fewer than 11 patients are suppressed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from carevalue.backends import connect
from carevalue.cli import app
from carevalue.cli.output import console, emit
from carevalue.definitions.loader import load
from carevalue.engine import outcomes
from carevalue.engine.privacy import suppress_small_cells

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest/run.")
MASK = ["observed", "expected", "oe", "ci_low", "ci_high", "observed_rate", "adjusted_rate", "estimate",
        "lower", "upper", "oe_lower", "oe_upper", "oe_ratio", "total"]
SHOWN = ["organization_id", "n", "observed", "expected", "statistic", "oe", "ci_low", "ci_high",
         "observed_rate", "adjusted_rate", "crude_flag_95", "flag_95", "flag_998", "srtr_flag"]


def _rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): (float(v) if isinstance(v, float) else v) for k, v in r.items()}
            for r in clean.to_dict(orient="records")]


@app.command("outcomes")
def outcomes_cmd(
    store: Path = STORE,
    condition: str = typer.Option(..., "--condition", help="Condition template id; several ids "
                                  "separated by commas are compared pooled."),
    measure: str = typer.Option(..., "--measure", help="Outcome measure id of the template."),
    time_point: str | None = typer.Option(None, "--time-point", help="Time point label (default: all)."),
    by: str | None = typer.Option(None, "--by", help="'period': the measure by period per provider."),
    period: str = typer.Option("year", "--period", help="year, quarter or month (with --by period)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table rows as JSON."),
    recompute: bool = typer.Option(False, "--recompute", help="Run the outcomes stage again first."),
) -> None:
    """Per-provider outcomes: n, observed, expected, O/E with CI, risk-adjusted rate, flags at 95% and
    99.8%, SRTR flag; the model's c-statistic and calibration below the table."""
    if not store.exists():
        console.print(f"[red]no store at {store}[/red]")
        raise typer.Exit(2)
    lib = load()
    ids = [c.strip() for c in condition.split(",") if c.strip()]
    unknown = [c for c in ids if c not in lib.kind("conditions")]
    if unknown:
        console.print(f"[red]unknown condition {unknown}; known: {sorted(lib.kind('conditions'))}[/red]")
        raise typer.Exit(2)
    tpls = [lib.get("conditions", c) for c in ids]
    known = [{m.id for m in t.outcomes} for t in tpls]
    if any(measure not in k for k in known):
        console.print(f"[red]unknown measure {measure!r}; measures of {ids}: {sorted(set.intersection(*known))}[/red]")
        raise typer.Exit(2)
    con = connect(store)
    try:
        if recompute or not {"outcome_values", "outcome_comparison"} <= set(con.list_tables()):
            for line in outcomes.stage_outcomes(con, lib):
                if not as_json:
                    console.print(line)
        m = next(x for x in tpls[0].outcomes if x.id == measure)
        labels = [time_point] if time_point else [tp.label for tp in m.time_points]
        if by == "period":
            for label in labels:
                trend = outcomes.outcome_trend(con, tpls, measure, label, period)
                trend = suppress_small_cells(trend, "n", MASK)
                emit(_rows(trend), f"{condition} · {measure} · {label} by {period} (crude)", as_json)
            return
        if by is not None:
            console.print(f"[red]--by takes 'period', not {by!r}[/red]")
            raise typer.Exit(2)
        if len(tpls) == 1:
            t = con.table("outcome_comparison")
            table = t.filter((t.condition == ids[0]) & (t.measure == measure)).to_pandas()
        else:
            table = outcomes.compare_measure(con, tpls, measure)
        table = table[table.time_point.isin(labels)]
        for (label, scale), g in table.groupby(["time_point", "scale"], dropna=False, sort=False):
            title = f"{condition} · {measure} · {label}" + (f" · {scale}" if isinstance(scale, str) else "")
            ok = g[g.status == "ok"]
            if ok.empty:
                msg = g.iloc[0]
                rows = [{"status": msg.status, "message": msg.message}]
                emit(rows, title, as_json)
                continue
            shown = suppress_small_cells(ok[SHOWN], "n", MASK)
            emit(_rows(shown), title, as_json)
            if not as_json:
                first = ok.iloc[0]
                console.print(f"model {first.model} on {first.variables or 'no variables'}: c-statistic "
                              f"{first.c_statistic if pd.notna(first.c_statistic) else 'n/a'}, calibration "
                              f"{first.calibration if pd.notna(first.calibration) else 'n/a'} · {first.message}")
    finally:
        con.disconnect()
