"""Plotly figures for the report, drawn from query rows that are already small-cell safe.

Callers pass frames with suppressed rows removed (queries.privacy.keep_large); the figures only draw.
Values are passed as plain lists so the HTML holds readable JSON numbers, not binary arrays.
"""

from __future__ import annotations

import dataclasses

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


def funnel_figure(fun: Funnel, title: str) -> go.Figure:
    """The engine's funnel figure (points already limited to providers safe to show)."""
    shown = dataclasses.replace(fun, points=fun.points.astype({"precision": float, "value": float}))
    fig = shown.figure(title=title)
    for tr in fig.data:
        tr.x = _l(pd.Series(tr.x)) if tr.x is not None else None
        tr.y = _l(pd.Series(tr.y)) if tr.y is not None else None
    fig.update_layout(**LAYOUT)
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
