"""`carevalue outcomes | value`: the risk-adjusted provider comparison of one measure, and value
(outcome beside cost per cycle) per provider, from the last published run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from carevalue.cli import app
from carevalue.cli.common import CONTENT, JSON, STORE, asked, workspace
from carevalue.cli.output import cell, emit, note, print_json, table


@app.command("outcomes")
def outcomes_cmd(
    condition: str = typer.Option(..., "--condition", help="Condition template id (`carevalue list conditions`)."),
    measure: str = typer.Option(..., "--measure", help="Outcome measure id (`carevalue list measures`)."),
    time_point: str | None = typer.Option(None, "--time-point", help="Time point label (default: all)."),
    store: Path = STORE, content: list[Path] | None = CONTENT, as_json: bool = JSON,
) -> None:
    """Per-provider outcomes: patients, observed, expected, O/E with its interval and flags (small cells hidden)."""
    from carevalue.queries.catalog import require_measure

    ws = workspace(store, content)
    rows = asked(lambda: ws.outcomes(condition, measure, time_point),
                 lambda: require_measure(ws.library, condition, measure, time_point))
    title = f"{condition} · {measure}" + (f" · {time_point}" if time_point else "")
    if as_json:
        print_json(rows)
        return
    ok = [r for r in rows if r.get("status") == "ok"]
    shown = [{**r, "interval": _interval(r)} for r in ok]
    table(shown, f"{title} (O/E with its interval; cells under 11 patients hidden)",
          ["time_point", "facility", "n", "observed", "expected", "oe", "interval", "flag_998"])
    seen = set()
    for r in rows:
        key = (r.get("time_point"), r.get("status"), r.get("message"))
        if key in seen:
            continue
        seen.add(key)
        model = f"{r.get('model') or '-'} on {r.get('variables') or 'no variables'}"
        quality = f"c-statistic {cell(r.get('c_statistic'))}, calibration {cell(r.get('calibration'))}" \
            if r.get("status") == "ok" else r.get("status")
        note(f"{r.get('time_point')}: {model}; {quality} · {r.get('message') or ''}")


def _interval(r: dict[str, Any]) -> str:
    lo, hi = r.get("ci_low"), r.get("ci_high")
    return "" if lo is None or hi is None else f"{cell(lo)}–{cell(hi)}"


@app.command("value")
def value_cmd(
    condition: str | None = typer.Option(None, "--condition", help="Condition template id (default: all)."),
    store: Path = STORE, content: list[Path] | None = CONTENT, as_json: bool = JSON,
) -> None:
    """Value per provider: the risk-adjusted outcome with its interval beside the cost per cycle."""
    from carevalue.queries.catalog import require_condition

    ws = workspace(store, content)
    rows = asked(lambda: ws.value(condition), lambda: condition is None or require_condition(ws.library, condition))
    emit(rows, "Value: risk-adjusted outcome (O/E) beside cost per cycle", as_json,
         columns=["condition", "measure", "facility", "outcome_patients", "oe", "flag_998", "cost_per_cycle"])
