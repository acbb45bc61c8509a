"""Print rows as a readable table (80 columns, headers in words), or as ONE JSON document with --json.

The JSON is exactly ``json.dumps`` of what the façade returned (strict: no NaN); the table is the
same rows formatted for reading: counts as integers with thousands separators, rates with three
significant digits, money without cents.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

WORDS = {
    "organization_id": "provider", "patient_id": "patient", "cycle_id": "cycle", "condition_name": "condition name",
    "cycle_type": "type", "patients_moved_in": "moved in", "mean_hcc": "mean HCC", "p90_hcc": "HCC p90",
    "mean_charlson": "mean Charlson", "as_of": "as of", "time_points": "time points", "process_map": "process map",
    "care_team": "care team", "birth_year": "born", "death_date": "died", "event_ts": "when",
    "event_table": "record", "practitioner_id": "clinician", "oe_ratio": "O/E", "money_at_stake": "at stake",
    "oe": "O/E", "cost_per_cycle": "cost/cycle", "unused_capacity_cost": "unused cost", "flag_998": "flag 99.8%",
    "flag_95": "flag 95%", "outcome_patients": "patients", "time_point": "time point", "utilisation": "use",
}
HIDDEN = {"suppressed"}
IDS = {"condition", "segment", "patient_id", "organization_id", "measure", "run_id", "cycle_id", "kind"}
TO_TITLE = ("condition", "measure", "time_point", "currency", "year", "as_of")  # when one value for all rows
PLAIN_INTS = {"birth_year", "year", "tier", "priority", "level", "period"}  # no thousands separator


def header(col: str) -> str:
    return WORDS.get(col, col.replace("_", " "))


def cell(v: Any, col: str = "") -> str:
    """One value as text: integers with separators, floats with digits that make sense, yes/no."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v) if col in PLAIN_INTS else f"{v:,}"
    if isinstance(v, float):
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:.1f}"
        if a >= 1 or a == 0:
            return f"{v:.2f}"
        return f"{v:.3g}"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return f"({len(v)})"
    return str(v)


def print_json(doc: Any) -> None:
    """Exactly one JSON document on stdout (strict: a NaN is a bug, not output)."""
    sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
    sys.stdout.flush()


def table(rows: Sequence[dict[str, Any]], title: str, columns: Sequence[str] | None = None) -> None:
    if not rows:
        console.print(f"{title}: no rows")
        return
    cols = [c for c in (columns or list(rows[0])) if c not in HIDDEN]
    for c in [c for c in cols if c in TO_TITLE]:
        values = {r.get(c) for r in rows}
        if len(rows) > 1 and len(values) == 1 and None not in values:
            cols.remove(c)
            title += f" · {header(c)} {cell(values.pop(), c)}"
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    # ids are kept whole while they fit: leave each other column about 9 characters
    budget = console.width - 9 * sum(c not in IDS for c in cols) - 3 * len(cols)
    for c in cols:
        numeric = any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)
        widest = max(len(cell(r.get(c), c)) for r in rows) if c in IDS else 0
        keep = widest if 0 < widest <= budget else None
        budget -= widest if keep else 0
        t.add_column(header(c), justify="right" if numeric else "left", overflow="fold", min_width=keep)
    for r in rows:
        t.add_row(*(cell(r.get(c), c) for c in cols))
    console.print(t)


def emit(rows: Sequence[dict[str, Any]], title: str, as_json: bool,
         columns: Sequence[str] | None = None) -> None:
    """The rows as JSON (all columns) or as a table (``columns`` only, when given)."""
    if as_json:
        print_json(list(rows))
    else:
        table(rows, title, columns)


def note(text: str) -> None:
    console.print(text, highlight=False)


@contextmanager
def stage_progress(label: str, quiet: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """Progress over named steps; yields the ``on_stage(name, i, n)`` callback.

    On a terminal a progress bar; otherwise (a log, a pipe, CI) one line per step with the elapsed
    time, on stdout — or on stderr when ``quiet`` (stdout then carries the --json document).
    """
    out = errors if quiet else console
    if not quiet and console.is_terminal:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn(f"[bold]{label}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("", total=None)

            def on_bar(name: str, i: int, n: int) -> None:
                progress.update(task, total=n, completed=i, description=name)

            yield on_bar
        return
    start = time.perf_counter()

    def on_line(name: str, i: int, n: int) -> None:
        out.print(f"{label} {i + 1}/{n} {name} (started at {time.perf_counter() - start:.0f} s)",
                  highlight=False, soft_wrap=True)

    yield on_line
    out.print(f"{label} done in {time.perf_counter() - start:.0f} s", highlight=False)
