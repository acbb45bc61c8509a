"""The report's building blocks: formatters, an HTML table of privacy-safe rows, and the
section / block / report containers every page module fills."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from carevalue.queries.privacy import MARK, keep_large
from carevalue.workspace import MissingTable, Workspace

Formatter = Callable[[Any], str]
Rows = list[dict[str, Any]]
HIDDEN = "—"  # a value hidden because its row describes a small cell


def is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def money(v: Any) -> str:
    return v if isinstance(v, str) else ("" if is_missing(v) else f"{float(v):,.0f}")


def count(v: Any) -> str:
    return v if isinstance(v, str) else ("" if is_missing(v) else f"{int(v):,}")


def ratio(v: Any) -> str:
    return v if isinstance(v, str) else ("" if is_missing(v) else f"{float(v):.2f}")


def pct(v: Any) -> str:
    return v if isinstance(v, str) else ("" if is_missing(v) else f"{float(v):.0%}")


def text(v: Any) -> str:
    return "" if is_missing(v) else str(v)


def html_table(rows: Rows, formats: dict[str, Formatter] | None = None,
               columns: Sequence[str] | None = None, headers: dict[str, str] | None = None) -> str:
    """A plain HTML table of rows already through the privacy module; numbers right-aligned, values
    hidden in a suppressed row shown as a dash."""
    if not rows:
        return "<p class='empty'>No rows.</p>"
    formats, headers = formats or {}, headers or {}
    cols = [c for c in (columns or list(rows[0])) if any(c in r for r in rows)]
    head = "".join(f"<th>{html.escape(headers.get(c, c.replace('_', ' ')))}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v, f = r.get(c), formats.get(c, text)
            s = HIDDEN if r.get("suppressed") and is_missing(v) and c in formats else f(v)
            cls = " class='num'" if f is not text or s == MARK else ""
            cells.append(f"<td{cls}>{html.escape(s)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass
class Block:
    """A titled part of a section: optional intro text, figures and tables, in order."""

    title: str
    intro: str = ""
    parts: list[str] = field(default_factory=list)


@dataclass
class Section:
    id: str
    title: str
    computed: bool = True
    note: str = ""
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    """Everything the template renders; kept so tests can inspect figures and tables."""

    sections: list[Section] = field(default_factory=list)
    figures: dict[str, go.Figure] = field(default_factory=dict)
    tables: dict[str, Rows] = field(default_factory=dict)

    def figure(self, key: str, fig: go.Figure) -> str:
        self.figures[key] = fig
        return "<div class=\"figure\">" + fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"fig-{key}",
            config={"displaylogo": False, "responsive": True}) + "</div>"

    def table(self, key: str, rows: Rows, **kw: Any) -> str:
        self.tables[key] = rows
        return html_table(rows, **kw)


def frame_of(rows: Rows) -> pd.DataFrame:
    return pd.DataFrame(keep_large(rows), columns=list(rows[0]) if rows else None)


def missing_note(ws: Workspace, *tables: str) -> str | None:
    """None when the store has every table, else the message naming the command that builds one."""
    try:
        ws.require(*tables)
    except MissingTable as e:
        return f"Not computed: {e}."
    return None


def measure_label(r: dict[str, Any]) -> str:
    """A readable key for one measure at one time point and scale (display only)."""
    return str(r["measure"]) + (f" @ {r['time_point']}" if r.get("time_point") else "") + (
        f" ({r['scale']})" if r.get("scale") else "")
