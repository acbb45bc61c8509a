"""Plotly figures for the report, drawn from query rows that are already small-cell safe.

Callers pass frames with suppressed rows removed (queries.privacy.keep_large); the figures only draw.
Values are passed as plain lists so the HTML holds readable JSON numbers, not binary arrays.
"""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import plotly.graph_objects as go

from carevalue.engine.risk.funnel import Funnel

PHASE_COLOURS = {
    "monitoring-preventing": "#8da0cb", "diagnosing": "#66c2a5", "preparing": "#a6d854",
    "intervening": "#fc8d62", "recovering-rehabbing": "#e78ac3", "monitoring-managing": "#ffd92f",
    "unassigned": "#b3b3b3",
}
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "height": 420}


def _l(s: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in s.tolist()]


def cycles_by_facility(df: pd.DataFrame) -> go.Figure:
    """Stacked bars: care cycles per condition, one colour per facility."""
    fig = go.Figure()
    for fac, g in df.groupby("facility", sort=True):
        fig.add_trace(go.Bar(x=_l(g["condition"]), y=_l(g["cycles"]), name=str(fac)))
    fig.update_layout(barmode="stack", title="Care cycles per condition and facility",
                      yaxis_title="care cycles", **LAYOUT)
    return fig


def segment_bars(df: pd.DataFrame, as_of: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=_l(df["segment"]), y=_l(df["patients"]), marker_color="#4c72b0"))
    fig.update_layout(title=f"Patients per primary-care segment on {as_of}", yaxis_title="patients",
                      **LAYOUT)
    return fig


def transition_heatmap(df: pd.DataFrame) -> go.Figure:
    """Segment transitions from (rows) -> to (columns); suppressed pairs are blank."""
    segs = sorted(set(df["from_segment"]) | set(df["to_segment"]))
    m = df.pivot_table(index="from_segment", columns="to_segment", values="transitions",
                       aggfunc="sum").reindex(index=segs, columns=segs)
    z = [[None if pd.isna(v) else float(v) for v in row] for row in m.to_numpy()]
    fig = go.Figure(go.Heatmap(z=z, x=segs, y=segs, colorscale="Blues", texttemplate="%{z:,.0f}",
                               hovertemplate="%{y} → %{x}: %{z:,.0f}<extra></extra>"))
    fig.update_layout(title="Segment transitions (from row to column)", xaxis_title="to",
                      yaxis_title="from", **LAYOUT)
    return fig


def cost_by_provider(df: pd.DataFrame, condition: str, phases: list[str], currency: str) -> go.Figure:
    """Stacked bars of mean TDABC cost per cycle by phase for each provider, charges beside."""
    fig = go.Figure()
    labels = _l(df["facility"])
    for p in (p for p in phases if p in df.columns):
        fig.add_trace(go.Bar(x=labels, y=_l(df[p].astype(float).fillna(0.0).round(2)), name=p,
                             marker_color=PHASE_COLOURS.get(p)))
    fig.add_trace(go.Scatter(x=labels, y=_l(df["charges_per_cycle"].astype(float).round(2)),
                             mode="markers", marker={"symbol": "diamond", "size": 12, "color": "black"},
                             name="charges per cycle (not cost)"))
    fig.update_layout(barmode="stack", title=f"{condition}: mean cost per cycle by provider and phase",
                      yaxis_title=f"cost per cycle ({currency})", **LAYOUT)
    return fig


def phase_waterfall(df: pd.DataFrame, condition: str, currency: str) -> go.Figure:
    """Waterfall: mean cost per cycle added by each care-cycle phase, ending at the total, every bar
    labelled with its own amount (the total bar with the total, not the step)."""
    phases = df[df["kind"] == "phase"]
    total = float(df.loc[df["kind"] == "total", "cost_per_cycle"].iloc[0])
    x = [*_l(phases["phase"]), "total"]
    y = [*_l(phases["cost_per_cycle"].astype(float).round(2)), round(total, 2)]
    labels = [f"{v:,.0f}" for v in y]
    fig = go.Figure(go.Waterfall(x=x, y=y, measure=["relative"] * len(phases) + ["total"],
                                 text=labels, textposition="outside"))
    fig.update_layout(title=f"{condition}: cost per cycle by phase (all providers, {currency})",
                      yaxis_title=f"cost per cycle ({currency})", **LAYOUT)
    return fig


def utilisation(df: pd.DataFrame, year: int) -> go.Figure:
    """Used vs practical capacity minutes per facility and role."""
    labels = [f"{f} · {r}" for f, r in zip(df["facility"], df["role"], strict=True)]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=labels, x=_l(df["practical_capacity_minutes"].round(0)), orientation="h",
                         name="practical capacity (min)", marker_color="#cccccc"))
    fig.add_trace(go.Bar(y=labels, x=_l(df["used_minutes"].round(0)), orientation="h",
                         name="used (min)", marker_color="#4c72b0"))
    layout = dict(LAYOUT, height=max(420, 18 * len(labels) + 120),
                  margin={"l": 320, "r": 20, "t": 50, "b": 50})
    fig.update_layout(barmode="overlay", title=f"Resource utilisation {year}: used vs practical capacity",
                      xaxis_title="minutes", yaxis={"autorange": "reversed"}, **layout)
    return fig


def label_positions(x: list[float], y: list[float]) -> list[str]:
    """Text positions beside points: right of each, and above or below by turns where points sit
    close together (within 30% of the x range and 8% of the y scale), so neighbouring labels do not
    overlap."""
    if not x:
        return []
    span_x = (max(x) - min(x)) or 1.0
    scale_y = max(max(y) - min(y), max(abs(v) for v in y)) or 1.0
    out = ["middle right"] * len(x)
    placed: list[int] = []
    for i in sorted(range(len(x)), key=lambda k: (x[k], y[k])):
        near = [j for j in placed if abs(x[i] - x[j]) < 0.3 * span_x and abs(y[i] - y[j]) < 0.08 * scale_y]
        if near:
            j = near[-1]
            if out[j] == "middle right":
                out[j] = "top right" if y[j] >= y[i] else "bottom right"
            out[i] = "bottom right" if out[j] == "top right" else "top right"
        placed.append(i)
    return out


def wrap_title(text: str, width: int = 45) -> str:
    """An axis title broken into lines of about ``width`` characters (plotly does not wrap)."""
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}".strip()
    return "<br>".join([*lines, cur])


def funnel_figure(fun: Funnel, title: str, names: dict[str, str] | None = None) -> go.Figure:
    """The engine's funnel figure (points already limited to providers safe to show), each point
    labelled with its provider's name (``names``: id → name) beside it and on hover; labels are
    not clipped by the axes and the margins grow to hold them."""
    shown = dataclasses.replace(fun, points=fun.points.astype({"precision": float, "value": float}))
    fig = shown.figure(title=title)
    for tr in fig.data:
        tr.x = _l(pd.Series(tr.x)) if tr.x is not None else None
        tr.y = _l(pd.Series(tr.y)) if tr.y is not None else None
    pts = fig.data[-1]
    labels = [(names or {}).get(str(p), str(p)) for p in shown.points["provider"]]
    pts.update(mode="markers+text", text=labels, textposition=label_positions(
                   shown.points["precision"].tolist(), shown.points["value"].tolist()), cliponaxis=False,
               marker={"size": 9, "color": "#4c72b0"},
               hovertemplate="%{text}<br>expected %{x:,.1f}<br>O/E %{y:.2f}<extra></extra>")
    right = min(260, 20 + 7 * max((len(t) for t in labels), default=0))
    layout = {**LAYOUT, "margin": {"l": 60, "r": right, "t": 50, "b": 60}}
    fig.update_layout(xaxis={"automargin": True}, yaxis={"automargin": True}, **layout)
    return fig


def value_scatter(df: pd.DataFrame, condition: str, measure: str, currency: str) -> go.Figure:
    """Risk-adjusted outcome (O/E, 1 = as expected) against mean cost per cycle, one point per provider."""
    oe, lo, hi = (df[c].astype(float) for c in ("oe", "ci_low", "ci_high"))
    err = {"type": "data", "symmetric": False, "array": _l((hi - oe).round(3)),
           "arrayminus": _l((oe - lo).round(3))}
    fig = go.Figure(go.Scatter(
        x=_l(df["cost_per_cycle"].astype(float).round(2)), y=_l(oe.round(3)), error_y=err,
        mode="markers+text", text=_l(df["facility"]), textposition="top center", marker={"size": 11}))
    fig.add_hline(y=1.0, line_dash="dot", line_color="grey")
    fig.update_layout(title=f"{condition}: {measure} O/E vs cost per cycle",
                      xaxis_title=f"mean cost per cycle ({currency})",
                      yaxis_title=f"{measure}: observed / expected", **LAYOUT)
    return fig


def frontier_providers(points: pd.DataFrame, higher_better: bool) -> list[str]:
    """The providers on the value frontier: none cheaper has an outcome as good or better."""
    best: float | None = None
    out = []
    ordered = points.sort_values(["cost", "outcome"], ascending=[True, not higher_better])
    for provider, outcome in zip(ordered["provider"].tolist(), ordered["outcome"].astype(float).tolist(), strict=True):
        if best is None or (outcome > best if higher_better else outcome < best):
            out.append(str(provider))
            best = outcome
    return out


def value_frontier(points: pd.DataFrame, title: str, outcome_label: str, currency: str,
                   higher_better: bool) -> go.Figure:
    """Risk-adjusted outcome against cost per cycle, one bubble per provider (area = patients), the
    efficient frontier joined by a line; labels are placed beside the points with automatic margins."""
    on = frontier_providers(points, higher_better)
    size = points["patients"].astype(float)
    ref = 2.0 * float(size.max()) / (36.0 ** 2) if len(size) and size.max() > 0 else 1.0
    fig = go.Figure(go.Scatter(
        x=_l(points["cost"].astype(float).round(2)), y=_l(points["outcome"].astype(float).round(4)),
        mode="markers+text", text=_l(points["provider"]), textposition="middle right", cliponaxis=False,
        marker={"size": _l(size), "sizemode": "area", "sizeref": ref, "sizemin": 6,
                "color": ["#2f7d32" if p in on else "#4c72b0" for p in points["provider"]],
                "line": {"width": 1, "color": "#333"}},
        customdata=_l(points["patients"]), name="provider (green: on the frontier)",
        hovertemplate="%{text}<br>cost %{x:,.0f}<br>outcome %{y}<br>patients %{customdata}<extra></extra>"))
    front = points.set_index("provider").loc[on].sort_values("cost")
    if len(front) >= 2:
        fig.add_trace(go.Scatter(x=_l(front["cost"].astype(float).round(2)), y=_l(front["outcome"].astype(float).round(4)),
                                 mode="lines", line={"dash": "dash", "color": "#2f7d32"}, name="value frontier"))
    layout = {**LAYOUT, "margin": {"l": 70, "r": 120, "t": 60, "b": 60}}
    fig.update_layout(title=title, xaxis_title=f"mean TDABC cost per cycle ({currency})",
                      yaxis_title=wrap_title(outcome_label + (" (higher is better)" if higher_better
                                                              else " (lower is better)")),
                      xaxis={"automargin": True}, yaxis={"automargin": True}, showlegend=True, **layout)
    return fig


def cusum_figure(chart: pd.DataFrame, title: str, h: float) -> go.Figure:
    """Risk-adjusted Bernoulli CUSUM per provider over its cycles in time order, with the signal line h."""
    fig = go.Figure()
    for prov, g in chart.groupby("provider", sort=True):
        fig.add_trace(go.Scatter(x=_l(g["sequence"]), y=_l(g["cusum"].round(3)), mode="lines", name=str(prov)))
        sig = g[g["signal"]]
        if len(sig):
            fig.add_trace(go.Scatter(x=_l(sig["sequence"]), y=_l(sig["cusum"].round(3)), mode="markers",
                                     marker={"symbol": "x", "size": 10, "color": "#b00"},
                                     name=f"{prov}: signal", showlegend=False))
    fig.add_hline(y=h, line_dash="dot", line_color="#b00")
    fig.update_layout(title=title, xaxis_title="care cycles in time order", yaxis_title="CUSUM (log-likelihood ratio)",
                      **LAYOUT)
    return fig


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def html_safe_js(js: str) -> str:
    """Script text an HTML parser accepts: the control characters plotly.js carries raw inside its
    string literals (e.g. the PNG signature's \\x1a) written as ``\\xHH`` escapes, which JavaScript
    reads as the same character (a raw control character is an HTML parse error)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", js)
