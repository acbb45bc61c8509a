"""`carevalue costs | capacity | cost-opportunities`: TDABC read-outs of the last published run.

Each command is one call into the workspace; the costing tables are built by `carevalue run`
(stage costing), never here.
"""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.common import CONTENT, JSON, STORE, asked, workspace
from carevalue.cli.output import emit, note

CONDITION = typer.Option(None, "--condition", help="Condition template id (`carevalue list conditions`).")


@app.command("costs")
def costs_cmd(store: Path = STORE, condition: str | None = CONDITION, content: list[Path] | None = CONTENT,
              as_json: bool = JSON) -> None:
    """Mean TDABC cost per care cycle by provider and condition (charges beside it, never used)."""
    from carevalue.queries.catalog import require_condition_or_segment

    ws = workspace(store, content)
    rows = asked(lambda: ws.costs(condition),
                 lambda: condition is None or require_condition_or_segment(ws.library, condition))
    emit(rows, "Cost per care cycle by provider (TDABC; charges in --json, never used)", as_json,
         columns=["condition", "facility", "patients", "cycles", "cost_per_cycle", "currency"])


@app.command("capacity")
def capacity_cmd(store: Path = STORE, content: list[Path] | None = CONTENT, as_json: bool = JSON) -> None:
    """Used vs practical capacity per resource group, with the cost of unused capacity."""
    rows = workspace(store, content).capacity()
    emit(rows, "Capacity use by facility and role", as_json,
         columns=["year", "facility", "role", "patients", "utilisation", "unused_capacity_cost", "currency"])


@app.command("cost-opportunities")
def opportunities_cmd(store: Path = STORE, top: int = typer.Option(10, "--top", help="Largest N by money at stake."),
                      content: list[Path] | None = CONTENT, as_json: bool = JSON) -> None:
    """Cost-reduction opportunities with the money at stake and why."""
    from carevalue.queries.base import QueryError

    if top < 1:
        raise QueryError(f"--top must be a positive number of rows (got {top})")
    rows = workspace(store, content).cost_opportunities(top=top)
    numbered = [{"no": i + 1, **r} for i, r in enumerate(rows)]
    emit(rows if as_json else numbered, f"Cost-reduction opportunities (top {top})", as_json,
         columns=["no", "kind", "period", "facility", "condition", "money_at_stake", "currency"])
    if not as_json:
        for r in numbered:
            note(f"{r['no']}. {r.get('explanation') or ''}")
