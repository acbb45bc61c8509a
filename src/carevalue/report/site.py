"""The static report as a site: ``index.html`` (overview), a page per topic, per condition and per
primary-care segment, and ``methods.html``, with navigation between them and ``plotly.min.js``
written once beside them (from the installed plotly package). Opens from disk: no server, no network.

Every page is made of the same sections and blocks as the single-file report (report/build.py) and
every number comes from the same queries, already through the privacy module.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.offline

from carevalue import __version__
from carevalue.queries import catalog, organise
from carevalue.queries import scorecard as sc
from carevalue.queries.costs import currency
from carevalue.queries.names import with_facility
from carevalue.queries.privacy import THRESHOLD
from carevalue.report import build, figures, methods, value_chain
from carevalue.report import model_quality as model_quality_page
from carevalue.report import network as network_page
from carevalue.report import payment as payment_page
from carevalue.report import scorecard as scorecard_page
from carevalue.report.layout import Block, Report, Section, count, html_table, missing_note, ratio
from carevalue.workspace import Workspace

PLOTLY_FILE = "plotly.min.js"


@dataclass
class Page:
    """One HTML file of the site: its name, title, nav group and the report laid out on it."""

    name: str
    title: str
    group: str
    report: Report = field(default_factory=Report)


def condition_page_name(cid: str) -> str:
    return f"condition-{cid}.html"


def segment_page_name(sid: str) -> str:
    return f"segment-{sid}.html"


# ------------------------------------------------------------------ overview
def _overview(ws: Workspace, rep: Report) -> Section:
    sec = Section("overview", "Overview")
    conds = ws.ask(catalog.conditions)
    links = [{**r, "page": f"<a href=\"{condition_page_name(r['condition'])}\">{html.escape(str(r['name']))}</a>"}
             for r in conds]
    b = Block("Conditions", "One page per condition: its care delivery value chain and outcome hierarchy "
              "(from its template), the value scorecard (outcomes by tier beside the TDABC cost per cycle), "
              "composites where the content defines weights, and its cost by provider and phase.")
    b.parts.append(_linked_table(links, ["page", "condition", "cycle_type", "measures", "cycles", "patients"]))
    sec.blocks.append(b)
    segs = ws.ask(organise.segment_counts) if not missing_note(ws, "segments") else []
    counts = {r["segment"]: r["patients"] for r in segs}
    as_of = segs[0]["as_of"] if segs else None
    rows = [{"page": f"<a href=\"{segment_page_name(s.id)}\">{html.escape(s.title)}</a>", "segment": s.id,
             "priority": s.priority, "patients": counts.get(s.id, "")}
            for s in sorted(ws.library.kind("segments").values(), key=lambda s: s.priority)]
    b = Block("Primary-care segments", "One page per segment: its scorecard (Porter, Pabo & Lee 2013) and "
              "its cost." + (f" Living patients per segment on {as_of}." if as_of else ""))
    b.parts.append(_linked_table(rows, ["page", "segment", "priority", "patients"]))
    sec.blocks.append(b)
    return sec


def _linked_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """An html_table whose ``page`` column holds a link built here (the rest is escaped as usual)."""
    marker = "\x00link{}\x00"
    plain = [{**r, "page": marker.format(i)} for i, r in enumerate(rows)]
    out = html_table(plain, formats={"patients": count, "cycles": count, "measures": count}, columns=columns,
                     headers={"page": "page"})
    for i, r in enumerate(rows):
        out = out.replace(html.escape(marker.format(i)), r["page"], 1)
    return out


# ------------------------------------------------------------------ condition and segment pages
def _composite_block(ws: Workspace, rep: Report, cid: str) -> Block | None:
    defs = sc.library_composites(ws.library, cid)
    if not defs:
        return None
    b = Block("Composite scores (explicit weights from content)", (
        "Shown only because the content (scorecard-sets) defines this composite with every weight and its "
        "source. Score = Σ weight × (E/O for adverse events, O/E otherwise; O − E for scores, sign by "
        "direction), weights normalised to 1; above 1 is better than expected. A provider missing any part, "
        "or shown as <11, gets no score. The outcomes themselves stay in the scorecard above."))
    if note := missing_note(ws, "outcome_comparison"):
        b.parts.append(f"<p class='note'>{html.escape(note)}</p>")
        return b
    for c in defs:
        total = sum(w.weight for w in c.weights)
        weights = [{"measure": w.measure, "time_point": w.time_point or "first compared", "weight": f"{w.weight:g}",
                    "normalised_weight": f"{w.weight / total:.3f}", "source": w.source} for w in c.weights]
        b.parts.append(f"<h4>{html.escape(c.title)}</h4><p class='intro'>{html.escape(c.source)}</p>")
        b.parts.append(rep.table(f"composite-weights-{c.id}", weights))
        rows = with_facility(ws.ask(sc.composite, definition=c), ws.con)
        b.parts.append(rep.table(f"composite-{c.id}", rows, formats={"patients": count, "score": ratio},
                                 columns=["facility", "patients", "score", "missing"]))
    return b


def condition_sections(ws: Workspace, rep: Report, cid: str) -> list[Section]:
    """A condition's page: value chain and outcome hierarchy, scorecard, composites, cost."""
    lib = ws.library
    tpl = lib.get("conditions", cid)
    pmap = lib.kind("process_maps").get(tpl.process_map) if tpl.process_map else None
    design = Section("design", "The care cycle as defined")
    b = Block("Care delivery value chain", (
        f"{tpl.description.strip()} The phases in care order, each with its activities (informing and "
        "engaging, measuring, accessing) from the condition template" + (
            f" and the steps of its process map ({pmap.id}) with their standard minutes and roles."
            if pmap else "; no process map is defined for it.")))
    b.parts.append(value_chain.value_chain_html(tpl, pmap))
    design.blocks.append(b)
    b = Block("Outcome hierarchy", "The condition's outcome set in Porter's three tiers (and six levels), "
              "with each measure's time points, direction and case-mix variables (methods: outcome measures).")
    b.parts.append(value_chain.hierarchy_html(tpl))
    design.blocks.append(b)
    out = [design]
    card = Section("scorecard", "Value scorecard: outcomes by tier beside the cost of the cycle")
    if note := missing_note(ws, "outcome_comparison", "cycle_cost_totals", "cycle_costs"):
        card.computed, card.note = False, note
    elif cid in scorecard_page.conditions(ws):
        card.blocks += scorecard_page.condition_blocks(ws, rep, cid)
    else:
        card.computed, card.note = False, "Not computed: the run has no risk-adjusted comparison for this condition."
    if (cb := _composite_block(ws, rep, cid)) is not None:
        card.blocks.append(cb)
    out.append(card)
    out.append(_cost_section(ws, rep, cid))
    return out


def _cost_section(ws: Workspace, rep: Report, cid: str) -> Section:
    sec = Section("cost", "Cost (time-driven activity-based costing)")
    if note := missing_note(ws, *build.COST_TABLES):
        sec.computed, sec.note = False, note
    else:
        sec.blocks.append(build.condition_cost_block(ws, rep, cid))
    return sec


def segment_sections(ws: Workspace, rep: Report, sid: str) -> list[Section]:
    """A primary-care segment's page: definition and process map, scorecard, cost."""
    lib = ws.library
    seg = lib.get("segments", sid)
    design = Section("design", "The segment as defined")
    b = Block("Definition", f"{seg.description.strip()} Rule (priority {seg.priority}): "
              f"{methods.rule_text(seg.rule)}. Care team: {seg.care_team.rstrip('.') or 'not stated'}. "
              f"Source: {seg.source.strip().rstrip('.') or 'not stated'}.")
    design.blocks.append(b)
    pmap = next((m for m in lib.kind("process_maps").values() if m.applies_to == sid), None)
    if pmap is not None:
        b = Block("Care delivery value chain (process map)", f"The steps of the process map {pmap.id} by "
                  "phase in care order, with their standard minutes and roles.")
        b.parts.append(value_chain.value_chain_html(None, pmap))
        design.blocks.append(b)
    card = Section("scorecard", "Scorecard")
    if note := missing_note(ws, "segments", "patients"):
        card.computed, card.note = False, note
    else:
        rows = ws.ask(sc.segment_scorecard, segment=sid)
        exhibit = rows[0] if rows else None
        b = Block(exhibit["exhibit_title"] if exhibit else "No published scorecard",
                  (f"Source: {exhibit['exhibit_source']}. Each row is one level of the outcome hierarchy; a "
                   "specific carevalue cannot measure from the store says so.") if exhibit else
                  "The scorecard sets name no exhibit for this segment.")
        b.parts.append(rep.table(f"segment-scorecard-{sid}", rows, formats={
            "patients": count, "events": count, "value": ratio},
            columns=["level", "measure", "specific", "definition", "patients", "events", "value", "unit", "status"]))
        costs_rows = ws.ask(sc.segment_costs, segment=sid)
        b.parts.append(rep.table(f"segment-costs-{sid}", costs_rows, formats={
            "cycles": count, "patients": count, "cost_per_cycle": build.money, "charges_per_cycle": build.money},
            headers={"cost_per_cycle": f"TDABC cost per cycle ({currency(lib)})",
                     "charges_per_cycle": f"charges per cycle ({currency(lib)}, not a cost)"},
            columns=["period", "cycles", "patients", "cost_per_cycle", "charges_per_cycle"])
            if costs_rows else "<p>No costed cycles for this segment.</p>")
        card.blocks.append(b)
    return [design, card, _cost_section(ws, rep, sid)]


# ------------------------------------------------------------------ assembling and writing
def assemble_site(ws: Workspace) -> list[Page]:
    """Every page of the site, laid out (no file written)."""
    lib = ws.library
    pages: list[Page] = []

    def page(name: str, title: str, group: str, fill: Any) -> None:
        p = Page(name, title, group)
        got = fill(p.report)
        p.report.sections += got if isinstance(got, list) else [got]
        pages.append(p)

    page("index.html", "Overview", "", lambda r: [_overview(ws, r), build.data_section(ws, r),
                                                  build.organise_section(ws, r)])
    page("cost.html", "Cost", "Topics", lambda r: build.cost_section(ws, r))
    page("outcomes.html", "Outcomes and value", "Topics", lambda r: build.outcomes_sections(ws, r))
    page("model-quality.html", "Model quality", "Topics", lambda r: model_quality_page.section(ws, r))
    page("payment.html", "Payment", "Topics", lambda r: payment_page.section(ws, r))
    page("network.html", "Network", "Topics", lambda r: network_page.section(ws, r))
    page("methods.html", "Methods", "Topics", lambda r: methods.section(ws, r))
    for cid, tpl in sorted(lib.kind("conditions").items()):
        page(condition_page_name(cid), tpl.title, "Conditions",
             lambda r, cid=cid: condition_sections(ws, r, cid))
    for seg in sorted(lib.kind("segments").values(), key=lambda s: s.priority):
        page(segment_page_name(seg.id), seg.title, "Segments",
             lambda r, sid=seg.id: segment_sections(ws, r, sid))
    return pages


def nav(pages: list[Page], current: str) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The navigation every page carries: the groups in order, each with (href, label, is current)."""
    groups: dict[str, list[tuple[str, str, bool]]] = {}
    for p in pages:
        groups.setdefault(p.group, []).append((p.name, p.title, p.name == current))
    return list(groups.items())


def render_page(pages: list[Page], p: Page, store_name: str) -> str:
    return build._env().get_template("report.html.j2").render(
        sections=p.report.sections, pages=nav(pages, p.name), plotly_src=PLOTLY_FILE, title=f"carevalue · {p.title}",
        heading=f"carevalue · {p.title}", version=__version__, store=store_name,
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"), threshold=THRESHOLD)


def build_site(ws: Workspace, out_dir: str | Path) -> Path:
    """Write the site into ``out_dir`` (created if needed); returns the absolute path of index.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / PLOTLY_FILE).write_text(figures.html_safe_js(plotly.offline.get_plotlyjs()), encoding="utf-8")
    pages = assemble_site(ws)
    store = ws.store.name if ws.store is not None else ws.backend
    for p in pages:
        (out / p.name).write_text(render_page(pages, p, store), encoding="utf-8")
    return (out / "index.html").resolve()
