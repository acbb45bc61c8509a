"""Plotly figures of the dashboard, as JSON the page draws with the packaged plotly.js.

Figures take the rows a page shows and draw only the shown (not suppressed) ones; axis labels get
automatic margins so provider names are never cut. Each figure is written as plotly's own JSON
(traces with their ``type``, the layout with the ``plotly_white`` template expanded) straight from
the rows, without building ``plotly.graph_objects`` figures: their validation took tens of
milliseconds per figure, more than the page's queries (tests/web/test_figures.py checks that
plotly reads every figure back unchanged).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from plotly.io.json import to_json_plotly

PHASE_COLOURS = {
    "monitoring-preventing": "#8da0cb", "diagnosing": "#66c2a5", "preparing": "#a6d854",
    "intervening": "#fc8d62", "recovering-rehabbing": "#e78ac3", "monitoring-managing": "#ffd92f",
}
LAYOUT: dict[str, Any] = {"template": "plotly_white", "height": 380,
                          "margin": {"l": 20, "r": 20, "t": 50, "b": 20},
                          "xaxis": {"automargin": True}, "yaxis": {"automargin": True}}


@cache
def _template() -> dict[str, Any]:
    """The ``plotly_white`` template as plotly.py writes it into a figure's layout (read once)."""
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()  # type: ignore[no-any-return]


def _json(traces: list[dict[str, Any]], layout: dict[str, Any]) -> str:
    """A figure's JSON as ``go.Figure(...).to_json()`` writes it."""
    return str(to_json_plotly({"data": traces, "layout": {**layout, "template": _template()}}))


def _layout(**extra: Any) -> dict[str, Any]:
    base = {k: v for k, v in LAYOUT.items() if k != "template"}
    base.update(extra)
    return base


def _shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("suppressed")]


def cost_bars(costs: list[dict[str, Any]]) -> str | None:
    """TDABC cost per cycle beside charges per cycle, per provider."""
    rows = [r for r in _shown(costs) if r.get("cost_per_cycle") is not None]
    if not rows:
        return None
    orgs = [str(r["organization_id"]) for r in rows]
    traces = [
        {"type": "bar", "name": "TDABC cost per cycle", "x": orgs, "y": [r["cost_per_cycle"] for r in rows],
         "marker": {"color": "#4c72b0"}},
        {"type": "bar", "name": "charges per cycle (not a cost)", "x": orgs,
         "y": [r["charges_per_cycle"] for r in rows], "marker": {"color": "#c0c0c0"}}]
    return _json(traces, _layout(title={"text": "Cost and charges per care cycle"}, barmode="group",
                                 yaxis={"automargin": True, "title": {"text": "per cycle"}}))


def phase_stack(phases: list[dict[str, Any]]) -> str | None:
    """Cost per cycle split by care-cycle phase, one stacked bar per provider."""
    rows = [r for r in _shown(phases) if r.get("cost_per_cycle") is not None]
    if not rows:
        return None
    traces = []
    for phase in dict.fromkeys(r["phase"] for r in rows):
        ps = [r for r in rows if r["phase"] == phase]
        traces.append({"type": "bar", "name": str(phase), "x": [str(r["organization_id"]) for r in ps],
                       "y": [r["cost_per_cycle"] for r in ps],
                       "marker": {"color": PHASE_COLOURS.get(str(phase), "#b3b3b3")}})
    return _json(traces, _layout(title={"text": "Cost per cycle by phase"}, barmode="stack",
                                 yaxis={"automargin": True, "title": {"text": "per cycle"}}))


def forest(rows: list[dict[str, Any]], statistic: str | None) -> str | None:
    """Each provider's risk-adjusted result with its 95% interval and the target line."""
    shown = [r for r in _shown(rows) if r.get("oe") is not None]
    if not shown:
        return None
    ratio = bool(statistic and str(statistic).startswith("O/E"))
    target = 1.0 if ratio else 0.0
    y = [str(r["organization_id"]) for r in shown]
    trace = {"type": "scatter", "x": [r["oe"] for r in shown], "y": y, "mode": "markers",
             "marker": {"size": 10, "color": "#4c72b0"},
             "error_x": {"type": "data", "symmetric": False,
                         "array": [(r["ci_high"] or r["oe"]) - r["oe"] for r in shown],
                         "arrayminus": [r["oe"] - (r["ci_low"] if r["ci_low"] is not None else r["oe"])
                                        for r in shown]},
             "name": "95% interval"}
    target_line = {"type": "line", "x0": target, "x1": target, "xref": "x", "y0": 0, "y1": 1,
                   "yref": "y domain", "line": {"dash": "dash", "color": "#888"}}
    title = f"{'O/E' if ratio else 'O − E'} with 95% interval (target {target:g})"
    return _json([trace], _layout(
        shapes=[target_line], height=max(260, 60 + 40 * len(shown)), title={"text": title},
        xaxis={"automargin": True, "title": {"text": "observed ÷ expected" if ratio else "observed − expected"}}))


DAY_MS = 86_400_000


def timeline(cycles: list[dict[str, Any]]) -> str | None:
    """One patient's care cycles as a Gantt: a bar per phase (first to last event, at least a day)
    and a marker per event, one row per cycle × phase in the template's phase order."""
    from datetime import datetime

    bars: dict[str, dict[str, list[Any]]] = {}
    ev_x, ev_y, ev_text = [], [], []
    rows: list[str] = []
    window: dict[str, list[Any]] = {"y": [], "base": [], "x": [], "text": []}
    for c in cycles:
        # several cycles: each row names its cycle by condition and period (or start), not its long id
        label = f"{c['condition']} {c.get('period_label') or (c.get('start_ts') or '')[:10]} · " if len(cycles) > 1 else ""
        if c.get("start_ts") and c.get("end_ts"):
            start, end = datetime.fromisoformat(c["start_ts"]), datetime.fromisoformat(c["end_ts"])
            rows.append(f"{label}cycle window")
            window["y"].append(f"{label}cycle window")
            window["base"].append(c["start_ts"])
            window["x"].append(max((end - start).total_seconds() * 1000, DAY_MS))
            window["text"].append(f"care cycle {c['cycle_id']}: {start:%Y-%m-%d} to {end:%Y-%m-%d}")
        for ph in c["phases"]:
            if ph["start_ts"] is None:
                continue
            y = f"{label}{ph['phase']}"
            rows.append(y)
            start, end = datetime.fromisoformat(ph["start_ts"]), datetime.fromisoformat(ph["end_ts"])
            b = bars.setdefault(ph["phase"], {"y": [], "base": [], "x": [], "text": []})
            b["y"].append(y)
            b["base"].append(ph["start_ts"])
            b["x"].append(max((end - start).total_seconds() * 1000, DAY_MS))
            b["text"].append(f"{ph['phase']}: {ph['events']} events, {start:%Y-%m-%d} to {end:%Y-%m-%d}")
        for e in c["events"]:
            if e["event_ts"] is None:
                continue
            ev_x.append(e["event_ts"])
            ev_y.append(f"{label}{e['phase'] or 'unassigned'}")
            ev_text.append(f"{e['event_table']} {e['event_id']}<br>{e['event_ts'][:10]}")
    if not rows:
        return None
    traces: list[dict[str, Any]] = []
    if window["y"]:
        traces.append({"type": "bar", "name": "cycle window", "orientation": "h", "hovertext": window["text"],
                       "hoverinfo": "text", "marker": {"color": "#d9d9d9"}, "opacity": 0.8,
                       **{k: window[k] for k in ("y", "x", "base")}})
    for phase, b in bars.items():
        traces.append({"type": "bar", "name": phase, "orientation": "h", "y": b["y"], "x": b["x"],
                       "base": b["base"], "hovertext": b["text"], "hoverinfo": "text",
                       "marker": {"color": PHASE_COLOURS.get(phase, "#b3b3b3")}, "opacity": 0.55})
    traces.append({"type": "scatter", "name": "event", "x": ev_x, "y": ev_y, "mode": "markers",
                   "hovertext": ev_text, "hoverinfo": "text",
                   "marker": {"symbol": "diamond", "size": 9, "color": "#222"}})
    shapes = [{"type": "line", "x0": c["index_ts"], "x1": c["index_ts"], "y0": 0, "y1": 1, "yref": "paper",
               "line": {"dash": "dot", "color": "#555", "width": 1}}
              for c in cycles if c.get("index_ts")]  # the index event the outcome time points count from
    order = list(dict.fromkeys(rows))
    layout = _layout(height=max(220, 90 + 34 * len(order)),
                     yaxis={"automargin": True, "categoryorder": "array", "categoryarray": order[::-1]},
                     xaxis={"automargin": True, "type": "date"}, barmode="overlay",
                     title={"text": "Care cycle by phase (bars: first to last event; diamonds: events; "
                                    "dotted: index event)"})
    if shapes:
        layout["shapes"] = shapes
    return _json(traces, layout)
