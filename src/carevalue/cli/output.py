"""Print rows as a rich table, or as JSON with --json: the same rows either way."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
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
        t.add_column(str(col), justify="right" if isinstance(rows[0][col], int | float) else "left",
                     overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v)) for v in r.values()))
    console.print(t)


@contextmanager
def stage_progress(label: str, quiet: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar over named steps; yields the ``on_stage(name, i, n)`` callback."""
    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  disable=quiet, transient=True) as progress:
        task = progress.add_task("", total=None)

        def on_stage(name: str, i: int, n: int) -> None:
            progress.update(task, total=n, completed=i, description=name)

        yield on_stage
