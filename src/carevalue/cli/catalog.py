"""`carevalue list conditions|measures|providers|patients|segments`: what exists, names beside ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from carevalue.cli import app
from carevalue.cli.common import CONTENT, JSON, STORE, workspace
from carevalue.cli.output import emit

WHAT = typer.Argument(..., help="conditions, measures, providers, patients or segments.")


@app.command("list")
def list_cmd(what: str = WHAT, store: Path = STORE, content: list[Path] | None = CONTENT,
             condition: str | None = typer.Option(None, "--condition", help="measures: of this condition only."),
             limit: int = typer.Option(20, "--limit", help="patients: how many to list."),
             as_json: bool = JSON) -> None:
    """List definitions (and, once the store is run, how many cycles and patients each has)."""
    from carevalue.queries.catalog import QUERIES, STORE_ONLY, require
    from carevalue.workspace import Workspace

    kind = require(what, {k: k for k in QUERIES}, "list")
    kw: dict[str, Any] = {}
    if kind == "measures":
        kw["condition"] = condition
    if kind == "patients":
        kw["limit"] = limit
    if kind in STORE_ONLY or store.exists():
        rows = workspace(store, content).ask(QUERIES[kind], **kw)
    else:  # definitions only: no store needed
        rows = QUERIES[kind](None, Workspace(None, list(content or [])).library, **kw)
    title = kind.capitalize() + (f" of {condition}" if kind == "measures" and condition else "")
    emit(rows, title + ("" if store.exists() else f" (definitions only: no store at {store})"),
         as_json, columns=_columns(kind, rows, condition))


def _columns(kind: str, rows: list[dict[str, Any]], condition: str | None) -> list[str] | None:
    if kind == "measures":
        return ["measure", "name", "tier", "time_points"] if condition else \
            ["condition", "measure", "name", "tier", "time_points"]
    if kind == "conditions":
        return [c for c in ("condition", "name", "cycle_type", "measures", "cycles", "patients") if c in rows[0]] \
            if rows else None
    if kind == "providers":
        return [c for c in ("organization_id", "name", "type", "cycles", "patients") if c in rows[0]] \
            if rows else None
    return None
