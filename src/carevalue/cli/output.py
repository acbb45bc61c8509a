"""Print rows as a rich table, or as JSON with --json: the same rows either way."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()


def emit(rows: Sequence[dict[str, Any]], title: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(list(rows), default=str, indent=1))
        return
    t = Table(title=title)
    if not rows:
        console.print(f"{title}: no rows")
        return
    for col in rows[0]:
        t.add_column(str(col), justify="right" if isinstance(rows[0][col], int | float) else "left")
    for r in rows:
        t.add_row(*("" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v)) for v in r.values()))
    console.print(t)
