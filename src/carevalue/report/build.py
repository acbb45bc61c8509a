"""Build the static HTML report from a :class:`Workspace`: one self-contained file (plotly.js inline).

Every number comes from a query in ``carevalue.queries`` (already through the privacy module); this
module only formats and lays out. A section whose tables no run has built says which command
builds them.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import plotly.offline

from carevalue import __version__
from carevalue.queries import costs, data, organise, outcomes, value
from carevalue.queries.privacy import MARK, THRESHOLD
from carevalue.report import figures
from carevalue.report import model_quality as model_quality_page
from carevalue.report import network as network_page
from carevalue.report import payment as payment_page
from carevalue.report import scorecard as scorecard_page
from carevalue.report.layout import (  # noqa: F401  (html_table, money, pct, HIDDEN: re-exported)
    HIDDEN,
    Block,
    Formatter,
    Report,
    Rows,
    Section,
    count,
    html_table,
    measure_label,
    money,
    pct,
    ratio,
    text,
)
from carevalue.report.layout import frame_of as _frame
from carevalue.report.layout import is_missing as _missing
from carevalue.report.layout import missing_note as _missing_note
from carevalue.workspace import Workspace


# --------------------------------------------------------------------------- 1 · data
def data_section(ws: Workspace, rep: Report) -> Section:
    sec = Section("data", "1 · Data: ingest reconciliation and quarantine")
    if note := _missing_note(ws, "ingest_files", "quarantine"):
        return Section(sec.id, sec.title, False, note)
    rec = ws.ask(data.reconciliation)
    tot = {k: sum(int(r[k] or 0) for r in rec) for k in ("read", "stored", "quarantined")}
    ok = all(r["reconciled"] for r in rec)
    b = Block("Reconciliation per source file", (
        f"{len(rec):,} source files; {tot['read']:,} records read, {tot['stored']:,} stored, "
        f"{tot['quarantined']:,} quarantined. Every file reconciles (read = stored + quarantined): "
        f"{'yes' if ok else 'NO — see rows marked False'}. These are counts of records, not of patients."))
    b.parts.append(rep.table("ingest", rec, formats={"read": count, "stored": count, "quarantined": count}))
    sec.blocks.append(b)
    q = ws.ask(data.quarantine_reasons)
    b2 = Block("Quarantine reasons", "Records that could not be stored, by reason; each keeps its raw "
               "content and a detail message in the quarantine table.")
    b2.parts.append(rep.table("quarantine", q, formats={"records": count}) if q
                    else "<p>Nothing was quarantined.</p>")
    sec.blocks.append(b2)
    return sec


# --------------------------------------------------------------------------- 2 · organise
def organise_section(ws: Workspace, rep: Report) -> Section:
    sec = Section("organise", "2 · Organize around the patient")
    if note := _missing_note(ws, "care_cycles"):
        sec.computed, sec.note = False, note
    else:
        cyc = ws.ask(organise.cycles_by_facility)
        b = Block("Care cycles per condition and facility",
                  "A care cycle is one patient's full cycle of care for one condition (acute: from the "
                  "trigger event's window; chronic: one cycle per 12-month period), attributed to a facility.")
        if not _frame(cyc).empty:
            b.parts.append(rep.figure("cycles", figures.cycles_by_facility(_frame(cyc))))
        b.parts.append(rep.table("cycles", cyc, formats={"cycles": count, "patients": count},
                                 columns=["condition", "cycle_type", "facility", "cycles", "patients"]))
        sec.blocks.append(b)
    if note := _missing_note(ws, "segments", "segment_transitions"):
        sec.blocks.append(Block("Primary-care segments", note))
        return sec
    seg = ws.ask(organise.segment_counts)
    as_of = seg[0]["as_of"] if seg else ""
    b = Block("Primary-care segments", f"Each living patient's segment on {as_of} (the last encounter date "
              "in the data); first matching rule wins.")
    if not _frame(seg).empty:
        b.parts.append(rep.figure("segments", figures.segment_bars(_frame(seg), as_of)))
    b.parts.append(rep.table("segments", seg, formats={"patients": count}, columns=["segment", "patients"]))
    sec.blocks.append(b)
    tr = ws.ask(organise.segment_transitions)
    b = Block("Segment transitions", "Moves between segments over the whole history, with the patients who "
              "made each move. Pairs describing fewer than 11 patients (and, so that they cannot be "
              "recovered from the totals, the next-smallest pair of the same row or column) are blank.")
    if not _frame(tr).empty:
        b.parts.append(rep.figure("transitions", figures.transition_heatmap(_frame(tr))))
    b.parts.append(rep.table("transitions", tr, formats={"transitions": count, "patients": count},
                             columns=["from_segment", "to_segment", "transitions", "patients"]))
    sec.blocks.append(b)
    return sec


# --------------------------------------------------------------------------- 3 · cost
COST_TABLES = ("cycle_cost_totals", "cycle_costs", "capacity_use", "cost_opportunities", "activity_costs",
               "capacity_cost_rates")


def cost_section(ws: Workspace, rep: Report) -> Section:
    sec = Section("cost", "3 · Cost (time-driven activity-based costing)")
    if note := _missing_note(ws, *COST_TABLES):
        return Section(sec.id, sec.title, False, note)
    cur = costs.currency(ws.library)
    pc = ws.ask(costs.provider_costs)
    cov = ws.ask(costs.minutes_coverage)
    recorded = next((r["minutes_share"] for r in cov if r["minutes_source"] == "recorded"), 0.0) or 0.0
    sec.blocks.append(Block(
        "How to read", f"All costs in {cur}. Cost = Σ minutes × capacity cost rate of each resource + "
        "consumables at acquisition cost, over every cost-bearing event of the cycle. Charges (what was "
        "billed) are shown beside costs and are never used to derive them. Mean per cycle; "
        f"{recorded:.0%} of costed minutes were recorded in the data, the rest filled from the process "
        "maps' standard times. A provider with fewer than 11 patients for a condition shows <11 (with the "
        "next-smallest provider, so it cannot be recovered from the condition's total) and is left out "
        "of the charts."))
    src = ws.ask(costs.cost_sources)
    cb = Block("Where the costs come from", "Per condition, the share of care cycles costed from "
               "minutes recorded in the data, from the process maps' standard times, from charges only "
               "(no cost: a bill is not a cost), or not costed at all (no activity or process-map data; "
               "shown as no cost, never 0).")
    cb.parts.append(rep.table("cost-sources", src, formats={"cycles": count, "patients": count, "share": pct},
                              columns=["condition", "cost_source", "cycles", "patients", "share"]))
    sec.blocks.append(cb)
    kinds = {"acute": 0, "chronic": 1, "segment": 2}
    conds = sorted({r["condition"] for r in pc},
                   key=lambda c: (kinds.get(next(r["cycle_type"] for r in pc if r["condition"] == c), 3), c))
    for cond in conds:
        sec.blocks.append(condition_cost_block(ws, rep, cond, pc))
    sec.blocks.append(_utilisation_block(ws, rep, cur))
    sec.blocks.append(_opportunity_block(ws, rep, cur))
    return sec


def condition_cost_block(ws: Workspace, rep: Report, cond: str, pc: Rows | None = None) -> Block:
    """One condition's (or segment's) cost per cycle by provider and phase, with its phase waterfall."""
    cur = costs.currency(ws.library)
    pc = ws.ask(costs.provider_costs) if pc is None else pc
    phases = [p for p in costs.PHASE_KEYS if any(p in r for r in pc)]
    money_cols = ["cost_per_cycle", "charges_per_cycle", "labour_per_cycle", "consumables_per_cycle", *phases]
    fm: dict[str, Formatter] = {c: money for c in money_cols}
    fm.update(cycles=count, cycles_not_costed=count, patients=count, recorded_share=pct)
    heads = {c: f"{c.replace('_', ' ')} ({cur})" for c in money_cols}
    g = [r for r in pc if r["condition"] == cond]
    b = Block(f"{cond}: cost per cycle by provider")
    big = _frame(g)
    if not big.empty:
        b.parts.append(rep.figure(f"cost-{cond}", figures.cost_by_provider(big, cond, phases, cur)))
    b.parts.append(rep.table(f"cost-{cond}", g, formats=fm, headers=heads, columns=[
        "facility", "patients", "cycles", "cycles_not_costed", "cost_per_cycle", "charges_per_cycle", "labour_per_cycle",
        "consumables_per_cycle", "recorded_share", *phases]) if g else "<p>No costed care cycles.</p>")
    wf = ws.ask(costs.phase_waterfall, condition=cond) if g else []
    if wf and not wf[0]["suppressed"]:
        b.parts.append(rep.figure(f"waterfall-{cond}", figures.phase_waterfall(pd.DataFrame(wf), cond, cur)))
    elif wf:
        b.parts.append(f"<p>Waterfall suppressed: {html.escape(MARK)} patients.</p>")
    return b


def _utilisation_block(ws: Workspace, rep: Report, cur: str) -> Block:
    ut = ws.ask(costs.capacity)
    year = ut[0]["year"] if ut else None
    b = Block("Resource utilisation", f"Minutes used vs practical capacity (capacity supplied after breaks, "
              f"training and admin) per facility and role, for {year or 'the last full year'}; the chart shows "
              f"the 40 costliest. Unused capacity is paid for and not used; costs in {cur}.")
    if year is None:
        b.parts.append("<p>No dated activity.</p>")
        return b
    chart = _frame(ut).nlargest(40, "capacity_cost")
    b.parts.append(rep.figure("utilisation", figures.utilisation(chart, int(year))))
    b.parts.append(rep.table(
        "utilisation", ut, formats={"resources": count, "used_minutes": count, "practical_capacity_minutes": count,
                                    "capacity_cost": money, "unused_capacity_cost": money, "utilisation": pct,
                                    "patients": count},
        headers={"capacity_cost": f"capacity cost ({cur})", "unused_capacity_cost": f"unused capacity cost ({cur})"},
        columns=["facility", "role", "resources", "patients", "used_minutes", "practical_capacity_minutes",
                 "utilisation", "capacity_cost", "unused_capacity_cost"]))
    return b


def _opportunity_block(ws: Workspace, rep: Report, cur: str) -> Block:
    tot = ws.ask(costs.opportunity_totals)
    top = [r for k in tot for r in ws.ask(costs.opportunities, top=5, kind=k["kind"])]
    b = Block("Cost-reduction opportunities", f"Money at stake ({cur}) per kind, and the five largest "
              "opportunities of each kind. Unused capacity is a resource-level fact; the others describe a "
              "provider's patients for a condition and are suppressed when those are fewer than 11.")
    mh = {"money_at_stake": f"money at stake ({cur})"}
    b.parts.append(rep.table("opportunity-kinds", tot, formats={"opportunities": count, "money_at_stake": money},
                             headers=mh, columns=["kind", "opportunities", "money_at_stake"]))
    b.parts.append(rep.table("opportunities", top, formats={"count": count, "minutes": count,
                                                           "money_at_stake": money}, headers=mh,
                             columns=["kind", "facility", "condition", "step_code", "count", "minutes",
                                      "money_at_stake", "explanation"]))
    return b


# --------------------------------------------------------------------------- 4 · outcomes, 5 · value
def _key(r: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(r.get(k) or "") for k in outcomes.MEASURE_KEY)


CMP_COLS = ("n", "observed", "expected", "oe", "ci_low", "ci_high", "adjusted_rate")
FLAG_COLS = ("flag_95", "flag_998", "srtr_flag", "crude_flag_998")
CMP_HEADERS = {"n": "cycles (n)", "oe": "O/E or O−E", "ci_low": "lower", "ci_high": "upper",
               "adjusted_rate": "adjusted rate", "flag_95": "flag 95%", "flag_998": "flag 99.8%",
               "srtr_flag": "Bayesian flag", "crude_flag_998": "crude flag 99.8%"}


def _censoring(summary: Rows) -> dict[tuple[str, ...], str]:
    """Per measure key, a sentence about censored values (survival and other time-to-event measures)."""
    out = {}
    for r in summary:
        c = r.get("censored")
        if r.get("method") == "Kaplan-Meier" or c == MARK or (isinstance(c, int | float) and c > 0):
            known = isinstance(c, int | float) or (c == MARK and not _missing(r.get("values")))
            some = f"{count(c)} of {count(r.get('values'))} values are" if known else "Some values are"
            out[_key(r)] = (f"{some} censored (follow-up ended before the time point): a crude share would "
                            "not be an estimate; the O/E comes from a model that accounts for censoring.")
    return out


def outcomes_sections(ws: Workspace, rep: Report) -> list[Section]:
    out = Section("outcomes", "4 · Outcomes (risk-adjusted)")
    val = Section("value", "5 · Value: outcomes beside cost")
    if note := _missing_note(ws, "outcome_comparison", "outcome_values"):
        out.computed, out.note = False, note
        val.computed, val.note = False, note
        if not _missing_note(ws, "prom_scores"):
            out.blocks.append(_prom_block(ws, rep))
        return [out, val]
    comp = ws.ask(outcomes.all_comparisons)
    summary = ws.ask(outcomes.value_summary)
    cens = _censoring(summary)
    head = {r["condition"]: _key(r) for r in ws.ask(outcomes.headline)}
    lib = ws.library
    info = {(cid, m.id): m for cid, tpl in lib.kind("conditions").items() for m in tpl.outcomes}
    order = outcomes.measure_order(lib)
    out.blocks.append(Block("How to read", (
        "Per provider after case-mix adjustment: for events (deaths, complications, readmissions) observed / "
        "expected events, O/E, 1 = as expected; for continuous measures (PROM scores, clinical values, length "
        "of stay) observed minus expected mean, O−E, 0 = as expected; each with its confidence interval. n "
        "counts care cycles (a chronic patient has one a year); patients counts people. Flags: outside the "
        "funnel's 95% / 99.8% control limits (overdispersion-corrected), the registry Bayesian flag, and the "
        "crude flag. A provider row is hidden (<11, values —) when it describes fewer than 11 patients or, "
        "for event measures, 1–10 events or non-events; the next-smallest provider of the measure is hidden "
        "with it so the hidden one cannot be recovered from the measure's total.")))
    prov = [r for r in comp if r.get("organization_id") is not None]
    groups: dict[tuple[str, ...], Rows] = {}
    for r in prov:
        groups.setdefault(_key(r), []).append(r)

    def rank(k: tuple[str, ...]) -> tuple[Any, ...]:
        ids = order.get(k[0], [])
        return (k[0], ids.index(k[1]) if k[1] in ids else len(ids), k[1], k[2], k[3])

    fm: dict[str, Formatter] = {c: ratio for c in CMP_COLS}
    fm.update(n=count, patients=count)
    for k in sorted(groups, key=rank):
        rows = groups[k]
        cond, meas = k[0], k[1]
        m, first = info.get((cond, meas)), rows[0]
        label = measure_label(first)
        intro = (f"Tier {m.tier}, {m.direction}. " if m else "") + (
            f"Statistic: {text(first.get('statistic'))}; model {text(first.get('model'))}"
            + (f", c-statistic {ratio(first.get('c_statistic'))}" if not _missing(first.get("c_statistic")) else "")
            + ". " + cens.get(k, ""))
        b = Block(f"{cond}: {m.title if m else meas} — {label}", intro.strip())
        b.parts.append(rep.table(f"outcome-{cond}-{label}", rows, formats=fm, headers=CMP_HEADERS,
                                 columns=["facility", "patients", *CMP_COLS, *FLAG_COLS]))
        shown = _frame(rows)
        if head.get(cond) == k and not shown.empty and outcomes.counts_events(first.get("statistic")):
            from carevalue.engine.risk.funnel import funnel

            cnt = shown.assign(provider=shown["facility"])[["provider", "n", "observed", "expected"]].dropna()
            if len(cnt) >= 2:
                b.parts.append(rep.figure(f"funnel-{cond}", figures.funnel_figure(
                    funnel(cnt, "ratio"), f"{cond}: {label} — funnel plot (O/E)")))
        out.blocks.append(b)
    status = [r for r in comp if r.get("organization_id") is None]
    if status:
        b = Block("Measures not compared", "Measure-level status from the outcomes engine (e.g. no events, "
                  "a model that cannot be fitted).")
        b.parts.append(rep.table("outcome-status", [{**r, "measure_key": measure_label(r)} for r in status],
                                 columns=["condition", "measure_key", "model", "status", "message"]))
        out.blocks.append(b)
    b = Block("Outcome values recorded", "Per condition, measure and time point: values computed, patients, "
              "events and censored values, and the estimate — the mean value, or for binary measures with "
              "censored values the Kaplan–Meier estimate at the time point (a mean over the uncensored values "
              "alone would be biased); “not estimable” where even that cannot be made.")
    b.parts.append(rep.table("outcome-values", summary, formats={
        "values": count, "patients": count, "events": count, "censored": count, "estimate": ratio},
        columns=["condition", "measure", "time_point", "scale", "values", "patients", "events", "censored",
                 "estimate", "method"]))
    out.blocks.append(b)
    if not _missing_note(ws, "prom_scores"):
        out.blocks.append(_prom_block(ws, rep))
    _value_section(ws, rep, val, head)
    return [out, val]


def _value_section(ws: Workspace, rep: Report, sec: Section, head: dict[str, tuple[str, ...]]) -> None:
    if note := _missing_note(ws, "value", "outcome_comparison"):
        sec.computed, sec.note = False, note
        return
    rows = [r for r in ws.ask(value.value_rows) if head.get(r["condition"]) == _key(r)]
    if not rows:
        sec.computed, sec.note = False, "Not computed: no provider has both a headline O/E and a cost."
        return
    cur = costs.currency(ws.library)
    sec.blocks.append(Block("How to read", (
        "Each point is a provider: its risk-adjusted headline outcome (O/E of the counted events, 1 = as "
        f"expected, below 1 = fewer events than expected) against its mean TDABC cost per cycle in {cur}, "
        "read from the stored value table. Points describing fewer than 11 patients (or 1–10 events) are "
        "left out.")))
    for cond in sorted({r["condition"] for r in rows}):
        g = [r for r in rows if r["condition"] == cond]
        label = measure_label(g[0])
        b = Block(f"{cond}: {label} vs cost per cycle")
        big = _frame(g)
        if not big.empty:
            b.parts.append(rep.figure(f"value-{cond}", figures.value_scatter(big, cond, label, cur)))
        b.parts.append(rep.table(f"value-{cond}", g, formats={
            "patients": count, "oe": ratio, "ci_low": ratio, "ci_high": ratio, "cost_per_cycle": money},
            headers={**CMP_HEADERS, "cost_per_cycle": f"cost per cycle ({cur})"},
            columns=["facility", "patients", "oe", "ci_low", "ci_high", "cost_per_cycle", "flag_998"]))
        sec.blocks.append(b)


def _prom_block(ws: Workspace, rep: Report) -> Block:
    ps = ws.ask(outcomes.prom_summary)
    b = Block("PROM scores", "Scored questionnaires per instrument (published scoring algorithms).")
    b.parts.append(rep.table("prom-scores", ps, formats={"scores": count, "patients": count, "mean_score": ratio},
                             columns=["instrument", "scale", "scores", "patients", "mean_score"])
                   if ps else "<p>No PROM scores.</p>")
    return b


# --------------------------------------------------------------------------- render
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("carevalue.report", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "html.j2"]))  # escapes titles, intros, notes


def assemble(ws: Workspace) -> Report:
    """Lay out every section from the workspace's queries (no file written)."""
    rep = Report()
    rep.sections += [data_section(ws, rep), organise_section(ws, rep), cost_section(ws, rep)]
    rep.sections += outcomes_sections(ws, rep)
    rep.sections.append(scorecard_page.section(ws, rep))
    rep.sections += [model_quality_page.section(ws, rep), payment_page.section(ws, rep)]
    rep.sections.append(network_page.section(ws, rep))
    return rep


def render(rep: Report, store_name: str) -> str:
    """The HTML page for an assembled report."""
    return _env().get_template("report.html.j2").render(
        sections=rep.sections, plotly_js=figures.html_safe_js(plotly.offline.get_plotlyjs()), version=__version__,
        store=store_name, generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"), threshold=THRESHOLD)


def build_report(ws: Workspace, out_html: str | Path) -> Path:
    """Write the self-contained HTML report for a workspace's store; returns its absolute path."""
    page = render(assemble(ws), ws.store.name if ws.store is not None else ws.backend)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out.resolve()
