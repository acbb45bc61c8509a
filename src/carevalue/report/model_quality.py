"""The model-quality page: for every comparison the case-mix model's events, parameters,
c-statistic and calibration, with its status where the data cannot support them, and a
calibration plot (observed vs expected by risk decile) per comparison that has one."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from carevalue.queries import model_quality as mq
from carevalue.queries.outcomes import MEASURE_KEY, measure_order
from carevalue.report.layout import (
    HIDDEN,
    Block,
    Formatter,
    Report,
    Rows,
    Section,
    count,
    is_missing,
    measure_label,
    missing_note,
    ratio,
)
from carevalue.workspace import Workspace

TITLE = "6 · Model quality: can the case-mix models be trusted?"
COLUMNS = ("measure_key", "status", "reason", "model", "adjustment", "events", "parameters",
           "events_per_parameter", "c_statistic", "calibration_intercept", "calibration_slope", "providers", "n",
           "at_risk", "variables", "statistic", "validation", "overdispersion")
#: The reason column wide enough to read, the table free to scroll sideways for the rest.
STYLE = ("<style>#model-quality td:nth-child(3){min-width:18em} #model-quality td:nth-child(1){min-width:11em}"
         " #model-quality td:nth-child(17){min-width:16em} #model-quality td:nth-child(18){min-width:16em}</style>")
HEADERS = {"measure_key": "measure", "n": "cycles (n)", "events": "events (limiting)",
           "events_per_parameter": "EPV", "c_statistic": "c-statistic (95% CI)",
           "calibration_intercept": "calibration intercept", "calibration_slope": "calibration slope",
           "at_risk": "at risk"}
FORMATS: dict[str, Formatter] = {"providers": count, "n": count, "at_risk": count, "events": count, "parameters": count,
                                 "events_per_parameter": lambda v: v if isinstance(v, str) else (
                                     "" if is_missing(v) else f"{float(v):.1f}"),
                                 "calibration_intercept": ratio, "calibration_slope": ratio}
HOW_TO_READ = (
    "One row per comparison (condition × measure × time point × scale). The case-mix model is "
    "fitted only where the data carry enough information: events (limiting) is the smaller of events "
    "and non-events (for continuous measures the patients), EPV the events per case-mix parameter; "
    "below ten events per case-mix parameter, variables are left out (adjustment “reduced case-mix”) or none is kept (“crude”: "
    "expected = the overall rate); with too few events or a single provider the comparison is "
    "“insufficient data”, and a time point beyond the data's follow-up or with fewer than 11 "
    "patients still at risk is “not estimable”. Such rows show their status and reason and no "
    "c-statistic or calibration. The c-statistic is the model's discrimination (0.5 = chance, 1 = "
    "perfect), with its DeLong 95% interval where the validation gives one; calibration intercept "
    "(0 ideal) and slope (1 ideal) come from logistic recalibration on cross-validated predictions "
    "and are not shown when the validation is in-sample (“apparent”), where they are 0 and 1 by "
    "construction. A comparison with 1–10 events, cycles or patients shows <11 and hides (—) its "
    "statistics.")
CALIBRATION_TEXT = (
    "Observed against expected event rate by group of predicted risk, lowest risk first; the diagonal "
    "is perfect calibration. The stored table holds deciles; adjacent deciles are merged (lowest "
    "first) until each point has at least 11 cycles, events and non-events, so no point describes "
    "1–10 events — the label says which deciles a point holds.")


def _c_statistic(r: dict[str, Any]) -> str:
    """'0.67 (0.61–0.73)', '0.67' without an interval, '—' when hidden, 'not reported' when the
    model (e.g. a linear one) has none, '' when the status says no model is supported."""
    c: Any = r.get("c_statistic")
    if r.get("suppressed"):
        return HIDDEN
    if r.get("status") != mq.OK:
        return ""
    if is_missing(c):
        return "not reported"
    lo: Any = r.get("c_low")
    hi: Any = r.get("c_high")
    ci = f" ({float(lo):.2f}–{float(hi):.2f})" if not is_missing(lo) and not is_missing(hi) else ""
    return f"{float(c):.2f}{ci}"


def _calibration(r: dict[str, Any], col: str) -> Any:
    """The value, or 'not reported' where a supported model has none (in-sample or not measured)."""
    v = r.get(col)
    return "not reported" if is_missing(v) and r.get("status") == mq.OK and not r.get("suppressed") else v


def display_rows(rows: Rows) -> Rows:
    """The query's rows with the measure label and the c-statistic with its interval as text."""
    return [{**r, "measure_key": measure_label(r), "c_statistic": _c_statistic(r),
             "calibration_intercept": _calibration(r, "calibration_intercept"),
             "calibration_slope": _calibration(r, "calibration_slope"),
             "variables": (r.get("variables") or "").replace(",", ", ")}
            for r in rows]


def calibration_figure(points: Rows, label: str) -> go.Figure:
    """Observed vs expected event rate per risk group, with the line of perfect calibration."""
    x = [round(float(p["expected_rate"]), 4) for p in points]
    y = [round(float(p["observed_rate"]), 4) for p in points]
    top = max([*x, *y, 0.01]) * 1.1
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", line={"dash": "dot", "color": "grey"},
                             name="perfect", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers+lines+text", text=[str(p["deciles"]) for p in points],
                             textposition="top left", marker={"size": 9, "color": "#1f3a5f"}, name="risk group",
                             hovertemplate="deciles %{text}: expected %{x:.3f}, observed %{y:.3f}<extra></extra>"))
    fig.update_layout(template="plotly_white", title={"text": label, "font": {"size": 12}}, showlegend=False,
                      modebar={"orientation": "v"},
                      width=380, height=340, margin={"l": 55, "r": 15, "t": 45, "b": 45},
                      xaxis={"title": "expected rate", "range": [0, top]},
                      yaxis={"title": "observed rate", "range": [0, top]})
    return fig


def _key(r: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(r.get(k) or "") for k in MEASURE_KEY)


def _condition_block(rep: Report, cond: str, rows: Rows, cal: Rows,
                     order: list[str]) -> Block:
    rank = {m: i for i, m in enumerate(order)}
    rows = sorted(rows, key=lambda r: (rank.get(r["measure"], len(rank)), _key(r)))
    ok = sum(1 for r in rows if r.get("status") == mq.OK)
    b = Block(f"{cond}: {len(rows)} comparisons, {ok} with a supported model")
    b.parts.append(rep.table(f"model-quality-{cond}", display_rows(rows), formats=FORMATS, headers=HEADERS,
                             columns=COLUMNS))
    by_key: dict[tuple[str, ...], Rows] = {}
    for p in cal:
        if not p.get("suppressed"):
            by_key.setdefault(_key(p), []).append(p)
    figs, single = [], 0
    for r in rows:
        pts = by_key.get(_key(r), [])
        if len(pts) >= 2 and not r.get("suppressed"):
            figs.append(rep.figure(f"calibration-{cond}-{measure_label(r)}",
                                   calibration_figure(pts, measure_label(r))))
        elif len(pts) == 1:
            single += 1
    if figs:
        b.parts.append("<div class='figs' style='display:flex;flex-wrap:wrap;gap:6px'>" + "".join(figs) + "</div>")
    if single:
        b.parts.append(f"<p class='intro'>{single:,} supported comparison(s) have too few events for more than "
                       "one calibration point (all deciles merged); no plot is drawn for them.</p>")
    return b


def section(ws: Workspace, rep: Report) -> Section:
    """The model-quality section, or a note naming the command that builds its tables."""
    sec = Section("model-quality", TITLE)
    if note := missing_note(ws, "outcome_comparison"):
        return Section(sec.id, sec.title, False, note)
    rows = ws.ask(mq.model_quality)
    cal = ws.ask(mq.calibration) if missing_note(ws, "outcome_calibration") is None else []
    order = measure_order(ws.library)
    status: dict[str, int] = {}
    for r in rows:
        status[str(r.get("status"))] = status.get(str(r.get("status")), 0) + 1
    tally = ", ".join(f"{n:,} {s}" for s, n in sorted(status.items(), key=lambda x: -x[1]))
    how = Block("How to read", f"{len(rows):,} comparisons: {tally}. {HOW_TO_READ}")
    how.parts.append(STYLE)
    sec.blocks.append(how)
    if cal:
        sec.blocks.append(Block("Calibration plots", CALIBRATION_TEXT))
    for cond in sorted({str(r["condition"]) for r in rows}):
        sec.blocks.append(_condition_block(rep, cond, [r for r in rows if r["condition"] == cond],
                                           [p for p in cal if p["condition"] == cond], order.get(cond, [])))
    return sec
