"""`carevalue outcomes | value`: the risk-adjusted provider comparison of one measure, and value
(outcome beside cost per cycle) per provider, from the last published run."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.common import CONTENT, JSON, STORE, workspace
from carevalue.cli.output import emit


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
    require_measure(ws.library, condition, measure, time_point)
    rows = ws.outcomes(condition, measure, time_point)
    emit(rows, f"{condition} · {measure}" + (f" · {time_point}" if time_point else ""), as_json)


@app.command("value")
def value_cmd(
    condition: str | None = typer.Option(None, "--condition", help="Condition template id (default: all)."),
    store: Path = STORE, content: list[Path] | None = CONTENT, as_json: bool = JSON,
) -> None:
    """Value per provider: the risk-adjusted outcome with its interval beside the cost per cycle."""
    from carevalue.queries.catalog import require_condition

    ws = workspace(store, content)
    if condition is not None:
        require_condition(ws.library, condition)
    emit(ws.value(condition), "Value: outcome beside cost per cycle", as_json)
