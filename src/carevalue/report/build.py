"""Build the static HTML report: one self-contained file (plotly.js inline once, no CDN).

Numbers come from engine read-outs (engine/readouts.py, engine/costing.py, engine/risk); this
module only suppresses small cells, formats and lays out. Sections whose tables are absent say
"not computed" instead of failing.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import plotly.graph_objects as go
import plotly.offline

from carevalue import __version__
from carevalue.backends import connect
from carevalue.engine import readouts as ro
from carevalue.report import figures
from carevalue.report.suppression import MARK, THRESHOLD, keep_large, suppress_small_cells

Formatter = Callable[[Any], str]


def money(v: Any) -> str:
    return v if isinstance(v, str) else ("" if _missing(v) else f"{float(v):,.0f}")


def count(v: Any) -> str:
    return v if isinstance(v, str) else ("" if _missing(v) else f"{int(v):,}")


def ratio(v: Any) -> str:
    return v if isinstance(v, str) else ("" if _missing(v) else f"{float(v):.2f}")


def pct(v: Any) -> str:
    return v if isinstance(v, str) else ("" if _missing(v) else f"{float(v):.0%}")


def text(v: Any) -> str:
    return "" if _missing(v) else str(v)


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v)) or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def html_table(df: pd.DataFrame, formats: dict[str, Formatter] | None = None,
               columns: Sequence[str] | None = None, headers: dict[str, str] | None = None) -> str:
    """A plain HTML table of already-suppressed rows; numbers right-aligned."""
    if df.empty:
        return "<p class='empty'>No rows.</p>"
    formats, headers = formats or {}, headers or {}
    cols = [c for c in (columns or df.columns) if c in df.columns]
    head = "".join(f"<th>{html.escape(headers.get(c, c))}</th>" for c in cols)
    body = []
    for row in df[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, row, strict=True):
            f = formats.get(c, text)
            s = f(v)
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
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def figure(self, key: str, fig: go.Figure) -> str:
        self.figures[key] = fig
        return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{key}",
                           config={"displaylogo": False, "responsive": True})

    def table(self, key: str, df: pd.DataFrame, **kw: Any) -> str:
        self.tables[key] = df
        return html_table(df, **kw)


# --------------------------------------------------------------------------- sections
def data_section(con: Any, rep: Report) -> Section:
    sec = Section("data", "1 · Data: ingest reconciliation and quarantine")
    if not ro.has_tables(con, ["ingest_files", "quarantine"]):
        return Section(sec.id, sec.title, False, "No ingest bookkeeping in this store.")
    rec = ro.ingest_reconciliation(con)
    tot = rec[["read", "stored", "quarantined"]].sum()
    intro = (f"{len(rec):,} source files; {int(tot['read']):,} records read, {int(tot['stored']):,} stored, "
             f"{int(tot['quarantined']):,} quarantined. Every file reconciles (read = stored + quarantined): "
             f"{'yes' if rec['reconciled'].all() else 'NO — see rows marked False'}. "
             "These are counts of records, not of patients.")
    b = Block("Reconciliation per source file", intro)
    b.parts.append(rep.table("ingest", rec, formats={"read": count, "stored": count, "quarantined": count}))
    sec.blocks.append(b)
    q = ro.quarantine_reasons(con)
    b2 = Block("Quarantine reasons", "Records that could not be stored, by reason; each keeps its raw content "
               "and a detail message in the quarantine table.")
    b2.parts.append(rep.table("quarantine", q, formats={"records": count}) if not q.empty
                    else "<p>Nothing was quarantined.</p>")
    sec.blocks.append(b2)
    return sec


def organise_section(con: Any, rep: Report) -> Section:
    sec = Section("organise", "2 · Organize around the patient")
    if not ro.has_tables(con, ["care_cycles"]):
        sec.computed, sec.note = False, "Care cycles not computed (run `carevalue run`)."
    else:
        cyc = ro.cycles_by_condition_facility(con)
        b = Block("Care cycles per condition and facility",
                  "A care cycle is one patient's full cycle of care for one condition (acute: from the "
                  "trigger event's window; chronic: one cycle per 12-month period), attributed to a facility.")
        b.parts.append(rep.figure("cycles", figures.cycles_by_facility(keep_large(cyc))))
        b.parts.append(rep.table("cycles", suppress_small_cells(cyc, value_cols=["cycles"]),
                                 formats={"cycles": count, "patients": count},
                                 columns=["condition", "cycle_type", "facility", "cycles", "patients"]))
        sec.blocks.append(b)
    if ro.has_tables(con, ["segments", "segment_transitions"]):
        as_of = ro.data_as_of(con) or dt.date.today().isoformat()
        seg = ro.segment_counts(con, as_of)
        b = Block("Primary-care segments",
                  f"Each patient's segment on {as_of} (the last encounter date in the data); "
                  "first matching rule wins.")
        b.parts.append(rep.figure("segments", figures.segment_bars(keep_large(seg), as_of)))
        b.parts.append(rep.table("segments", suppress_small_cells(seg), formats={"patients": count}))
        sec.blocks.append(b)
        tr = ro.segment_transition_counts(con)
        b = Block("Segment transitions", "Moves between segments over the whole history, with the patients who "
                  "made each move. Pairs describing fewer than 11 patients are blank in the chart.")
        b.parts.append(rep.figure("transitions", figures.transition_heatmap(keep_large(tr))))
        b.parts.append(rep.table("transitions", suppress_small_cells(tr),
                                 formats={"transitions": count, "patients": count}))
        sec.blocks.append(b)
    elif sec.computed:
        sec.blocks.append(Block("Primary-care segments", "Segments not computed."))
    return sec


def cost_section(con: Any, rep: Report) -> Section:
    sec = Section("cost", "3 · Cost (time-driven activity-based costing)")
    need = ["cycle_cost_totals", "cycle_costs", "capacity_use", "cost_opportunities", "activity_costs"]
    if not ro.has_tables(con, need):
        return Section(sec.id, sec.title, False, "Costing not computed (run `carevalue run`).")
    pc = ro.provider_cost_table(con)
    phases = ro.phase_columns(pc)
    value_cols = ["cycles", "cost_per_cycle", "labour_per_cycle", "consumables_per_cycle",
                  "charges_per_cycle", "recorded_share", *phases]
    fm: dict[str, Formatter] = {c: money for c in value_cols}
    fm.update(cycles=count, patients=count, recorded_share=pct)
    sec.blocks.append(Block(
        "How to read", "Cost = Σ minutes × capacity cost rate of each resource + consumables at acquisition "
        "cost, over every cost-bearing event of the cycle. Charges (what was billed) are shown beside costs "
        "and are never used to derive them. Mean per cycle; a provider with fewer than 11 patients for a "
        "condition shows <11 and is left out of the charts."))
    kinds = {"acute": 0, "chronic": 1, "segment": 2}
    conds = sorted(pc["condition"].unique(),
                   key=lambda c: (kinds.get(pc.loc[pc["condition"] == c, "cycle_type"].iloc[0], 3), c))
    for cond in conds:
        g = pc[pc["condition"] == cond].sort_values("cost_per_cycle")
        b = Block(f"{cond}: cost per cycle by provider")
        big = keep_large(g)
        if not big.empty:
            b.parts.append(rep.figure(f"cost-{cond}", figures.cost_by_provider(big, str(cond), phases)))
        b.parts.append(rep.table(f"cost-{cond}", suppress_small_cells(g, value_cols=value_cols), formats=fm,
                                 columns=["facility", "patients", "cycles", "cost_per_cycle", "charges_per_cycle",
                                          "labour_per_cycle", "consumables_per_cycle", "recorded_share",
                                          *phases]))
        wf, n = ro.waterfall(con, str(cond))
        if not wf.empty and n >= THRESHOLD:
            b.parts.append(rep.figure(f"waterfall-{cond}", figures.phase_waterfall(wf, str(cond))))
        elif not wf.empty:
            b.parts.append(f"<p>Waterfall suppressed: {html.escape(MARK)} patients.</p>")
        sec.blocks.append(b)
    ut, year = ro.utilisation_by_facility_role(con)
    b = Block("Resource utilisation", "Minutes used vs practical capacity (capacity supplied after breaks, "
              "training and admin) per facility and role, for the last full year of data; the chart shows the 40 "
              "costliest. Unused capacity is paid for and not used.")
    if year is not None:
        chart = keep_large(ut).nlargest(40, "capacity_cost")
        b.parts.append(rep.figure("utilisation", figures.utilisation(chart, year)))
        b.parts.append(rep.table(
            "utilisation", suppress_small_cells(ut, value_cols=["used_minutes", "utilisation",
                                                                "unused_capacity_cost", "patients"]),
            formats={"resources": count, "used_minutes": count, "practical_capacity_minutes": count,
                     "capacity_cost": money, "unused_capacity_cost": money, "utilisation": pct,
                     "patients": count},
            columns=["facility", "role", "resources", "patients", "used_minutes", "practical_capacity_minutes",
                     "utilisation", "capacity_cost", "unused_capacity_cost"]))
    else:
        b.parts.append("<p>No dated activity.</p>")
    sec.blocks.append(b)
    tot = ro.opportunity_totals(con)
    top = ro.top_opportunities(con)
    b = Block("Cost-reduction opportunities", "Money at stake per kind, and the five largest opportunities of each kind. "
              "Unused capacity is a resource-level fact; the others describe a provider's patients for a "
              "condition and are suppressed when those are fewer than 11.")
    b.parts.append(rep.table("opportunity-kinds", tot, formats={"opportunities": count, "money_at_stake": money}))
    b.parts.append(rep.table(
        "opportunities", suppress_small_cells(top, value_cols=["count", "minutes", "money_at_stake",
                                                               "explanation"]),
        formats={"count": count, "minutes": count, "money_at_stake": money},
        columns=["kind", "facility", "condition", "step_code", "count", "minutes", "money_at_stake",
                 "explanation"]))
    sec.blocks.append(b)
    return sec


def _measure_info() -> tuple[dict[str, list[str]], dict[tuple[str, str], Any]]:
    from carevalue.definitions.loader import load

    order: dict[str, list[str]] = {}
    info: dict[tuple[str, str], Any] = {}
    for cid, tpl in load().kind("conditions").items():
        ms = sorted(tpl.outcomes, key=lambda m: (m.tier, m.level))
        order[cid] = [m.id for m in ms]
        info.update({(cid, m.id): m for m in ms})
    return order, info


SMALL_IN_TEXT = re.compile(r"\b([0-9]|10) (patients?|cycles?|events?|providers?)\b")


def _sanitise(message: Any) -> str:
    """A status message with any count of 1-10 patients/cycles/events replaced by <11."""
    return SMALL_IN_TEXT.sub(lambda m: f"{MARK} {m.group(2)}" if m.group(1) != "0" else m.group(0),
                             text(message))


def outcomes_sections(con: Any, rep: Report) -> list[Section]:
    out = Section("outcomes", "4 · Outcomes (risk-adjusted)")
    value = Section("value", "5 · Value: outcomes beside cost")
    if not ro.has_tables(con, ["outcome_comparison"]):
        out.computed, out.note = False, ("Outcomes not computed: the store has no outcome_comparison "
                                         "table (run the outcomes stage).")
        value.computed, value.note = False, "Not computed: needs outcomes (outcome_comparison) and costs."
        if ro.has_tables(con, ["prom_scores"]):
            out.blocks.append(_prom_block(con, rep))
        return [out, value]
    comp = ro.outcome_comparison(con)
    order, info = _measure_info()
    head = ro.headline_measures(comp, order)
    out.blocks.append(Block(
        "How to read", "Per provider after case-mix adjustment: for events (deaths, complications, "
        "readmissions) observed / expected events, O/E, 1 = as expected; for continuous measures (PROM "
        "scores, clinical values, length of stay) observed minus expected mean, O-E, 0 = as expected; "
        "each with its confidence interval. n counts care cycles (a chronic patient has one a year); "
        "patients counts people, and suppression uses it. Flags: outside the funnel's 95% / 99.8% control limits "
        "(overdispersion-corrected), the registry Bayesian flag, and the crude (unadjusted) flag beside "
        "them. Providers with fewer than 11 patients show <11 and are left out of the charts."))
    status = comp[comp["provider"].isna()].copy()
    prov = comp[comp["provider"].notna()]
    flag_cols = [c for c in ("flag_95", "flag_99_8", "srtr_flag", "crude_flag_99_8") if c in comp.columns]
    num = [c for c in ("n", "observed", "expected", "oe_ratio", "oe_lower", "oe_upper", "adjusted_rate")
           if c in comp.columns]
    fm: dict[str, Formatter] = {c: ratio for c in num}
    fm.update(n=count, patients=count)
    for (cond, key), gm in prov.groupby(["condition", "measure_key"], sort=True):
        meas = str(gm["measure"].iloc[0])
        m = info.get((str(cond), meas))
        title = f"{cond}: {m.title if m else meas} — {key}"
        first = gm.iloc[0]
        intro = (f"Tier {m.tier}, {m.direction}. " if m else "") + (
            f"Statistic: {text(first.get('statistic'))}; model {text(first.get('model'))}"
            + (f", c-statistic {ratio(first.get('c_statistic'))}" if not _missing(first.get("c_statistic")) else "")
            + ".")
        b = Block(title, intro)
        disp = ro.with_facility_names(con, gm, "provider").sort_values("provider")
        b.parts.append(rep.table(f"outcome-{cond}-{key}",
                                 suppress_small_cells(disp, "patients", value_cols=[*num, *flag_cols]),
                                 formats=fm, columns=["facility", "patients", *num, *flag_cols]))
        if head.get(str(cond)) == key:
            from carevalue.engine.risk.funnel import funnel

            cnt = gm[["provider", "n", "observed", "expected"]].dropna()
            fun = funnel(cnt, "ratio")
            keep = keep_large(gm, "patients")["provider"].tolist()
            b.parts.append(rep.figure(f"funnel-{cond}",
                                      figures.funnel_figure(fun, keep, f"{cond}: {key} — funnel plot (O/E)")))
        out.blocks.append(b)
    if not status.empty:
        status["message"] = status["message"].map(_sanitise)
        b = Block("Measures not compared", "Measure-level status from the outcomes engine (e.g. no events, "
                  "a model that cannot be fitted).")
        b.parts.append(rep.table("outcome-status", status, columns=["condition", "measure_key", "model",
                                                                    "status", "message"]))
        out.blocks.append(b)
    if ro.has_tables(con, ["outcome_values"]):
        ov = ro.outcome_value_summary(con)
        b = Block("Outcome values recorded", "Per condition, measure and time point: values computed, "
                  "patients, mean value, events.")
        b.parts.append(rep.table("outcome-values", suppress_small_cells(ov), formats={
            "values": count, "patients": count, "mean_value": ratio, "events": count}))
        out.blocks.append(b)
    if ro.has_tables(con, ["prom_scores"]):
        out.blocks.append(_prom_block(con, rep))
    pts = ro.value_points(con, comp, head)
    if pts.empty:
        value.computed, value.note = False, "Not computed: no provider has both a headline O/E and a cost."
        return [out, value]
    value.blocks.append(Block("How to read", "Each point is a provider: its risk-adjusted headline outcome "
                              "(O/E of the counted events, 1 = as expected, below 1 = fewer events than "
                              "expected) against its mean TDABC cost per cycle. Points describing fewer than "
                              "11 patients are left out."))
    for cond_v, g in pts.groupby("condition", sort=True):
        cond = str(cond_v)
        key = head[cond]
        b = Block(f"{cond}: {key} vs cost per cycle")
        big = keep_large(g)
        if not big.empty:
            b.parts.append(rep.figure(f"value-{cond}", figures.value_scatter(big, str(cond), key)))
        b.parts.append(rep.table(f"value-{cond}", suppress_small_cells(
            g, value_cols=[c for c in ("n", "oe_ratio", "oe_lower", "oe_upper", "adjusted_rate",
                                       "cost_per_cycle", "flag_99_8") if c in g.columns]),
            formats={"patients": count, "n": count, "oe_ratio": ratio, "oe_lower": ratio,
                     "oe_upper": ratio, "adjusted_rate": ratio, "cost_per_cycle": money},
            columns=["facility", "patients", "oe_ratio", "oe_lower", "oe_upper", "cost_per_cycle",
                     "flag_99_8"]))
        value.blocks.append(b)
    return [out, value]


def _prom_block(con: Any, rep: Report) -> Block:
    ps = ro.prom_summary(con)
    b = Block("PROM scores", "Scored questionnaires per instrument (published scoring algorithms).")
    b.parts.append(rep.table("prom-scores", suppress_small_cells(ps),
                             formats={"scores": count, "patients": count, "mean_score": ratio})
                   if not ps.empty else "<p>No PROM scores.</p>")
    return b


# --------------------------------------------------------------------------- render
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("carevalue.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html"]))


def assemble(store_path: str | Path) -> Report:
    """Read the store and lay out every section (no file written)."""
    con = connect(store_path)
    rep = Report()
    try:
        rep.sections += [data_section(con, rep), organise_section(con, rep), cost_section(con, rep)]
        rep.sections += outcomes_sections(con, rep)
    finally:
        con.disconnect()
    return rep


def render(rep: Report, store_name: str) -> str:
    """The HTML page for an assembled report."""
    return _env().get_template("report.html.j2").render(
        sections=rep.sections, plotly_js=plotly.offline.get_plotlyjs(), version=__version__,
        store=store_name, generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        threshold=THRESHOLD)


def build_report(store_path: str | Path, out_html: str | Path) -> Path:
    """Write the self-contained HTML report for a store; returns its absolute path."""
    page = render(assemble(store_path), Path(store_path).name)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out.resolve()
