"""The payment page: what each provider would earn and keep per care cycle under fee-for-service,
a bundle with a warranty, a time-based payment, condition capitation and the CMS episode model, on
the same cycles; the bundle prices, the episode reconciliation, and what is not verified."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

from carevalue.definitions.loader import Library
from carevalue.engine.payment.run import DEFAULT_TIME_BASED
from carevalue.model import declared
from carevalue.queries import payment
from carevalue.queries.costs import currency
from carevalue.queries.names import with_facility
from carevalue.report.layout import (
    Block,
    Formatter,
    Report,
    Section,
    count,
    frame_of,
    missing_note,
    money,
    pct,
    ratio,
)
from carevalue.workspace import Workspace

TITLE = "7 · Payment: revenue and margin per provider under five payment models"
MODELS = {"ffs": "fee-for-service", "bundle": "bundle", "tb": "time-based", "capitation": "capitation",
          "episode": "CMS episode model", "pac": "PAC-allowance case rate", "warranty_price": "warranty price"}
COLOURS = {"ffs": "#8c8c8c", "bundle": "#1f3a5f", "tb": "#66c2a5", "capitation": "#fc8d62", "episode": "#e78ac3",
           "pac": "#a6d854", "warranty_price": "#ffd92f"}
PAID = {"ffs": "ffs_paid", "bundle": "bundle_paid", "tb": "tb_paid", "capitation": "capitation_paid",
        "episode": "episode_paid", "pac": "pac_paid", "warranty_price": "warranty_price_paid"}


def _years(y: float) -> str:
    return f"{y:g} year" + ("" if y == 1 else "s")


def models_table(rep: Report) -> str:
    """Each model and what it pays, in the words of the declared ledger columns."""
    docs = {c.name: c.doc for c in declared("payment_ledger").columns}
    rows = [{"model": label, "what the payer pays per care cycle": docs[PAID[m]]} for m, label in MODELS.items()]
    return rep.table("payment-models", rows)


def bundle_terms(library: Library, cur: str) -> str:
    """One paragraph per bundle of the library: what it includes, who is eligible, the warranty."""
    out = []
    for b in library.kind("bundles").values():
        parts = [f"<b>{html.escape(b.title)}</b> ({html.escape(', '.join(b.conditions))}): "
                 f"includes {html.escape('; '.join(c.title + (f' ({c.limit})' if c.limit else '') for c in b.components))}."]
        if b.trigger:
            parts.append(f"Window: {b.trigger.days_before} days before to {b.trigger.days_after} days after the trigger.")
        if b.exclusions:
            parts.append("Paid outside the bundle: " + html.escape("; ".join(e.title for e in b.exclusions)) + ".")
        el = b.eligibility
        if el.asa_max or el.note:
            note = el.note or f"ASA 1–{el.asa_max}."
            parts.append("Eligible: " + html.escape(note) + (
                "" if "fee-for-service" in note else " Ineligible cycles are paid fee-for-service."))
        for w in b.warranties:
            ext = f" (extended to {_years(w.extended_years)}: {w.extended_when})" if w.extended_years else ""
            parts.append(f"Warranty — {html.escape(w.title)}: {html.escape(w.covers)} The provider pays for "
                         f"covered events for {_years(w.years)}{html.escape(ext)}; after that the payer pays "
                         "them fee-for-service.")
        pr = b.pricing
        price = (f"published price {b.reference_price:,.0f} {b.currency}" if b.reference_price
                 else "no published price")
        sl = (f"; stop-loss: the payer pays {pr.stop_loss_share:.0%} of cost above "
              f"{pr.stop_loss_threshold:,.0f} {b.currency}" if pr.stop_loss_threshold else "")
        parts.append(f"Price proposed from cost: expected TDABC cost of the included services"
                     f"{' (risk-adjusted per patient)' if pr.risk_adjusted else ''} + warranty reserve, "
                     f"× (1 + {pr.margin:.0%} margin); {price}{sl}.")
        out.append("<p class='intro'>" + " ".join(parts) + "</p>")
    return "".join(out) or "<p>No bundles in the definitions library.</p>"


def margin_figure(df: Any, condition: str, cur: str) -> go.Figure:
    """Grouped bars: margin per cycle (revenue − cost) of each provider under each model."""
    fig = go.Figure()
    labels = [str(f) for f in df["facility"]]
    for m, label in MODELS.items():
        fig.add_trace(go.Bar(x=labels, y=[None if v != v else round(float(v), 2) for v in df[f"{m}_margin_per_cycle"]],
                             name=label, marker_color=COLOURS[m]))
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_layout(template="plotly_white", barmode="group", height=380,
                      margin={"l": 70, "r": 20, "t": 50, "b": 60},
                      title=f"{condition}: margin per cycle by provider and payment model ({cur})",
                      yaxis_title=f"margin per cycle ({cur})", legend={"orientation": "h", "y": -0.15})
    return fig


def _condition_order(library: Library, conds: set[str]) -> list[str]:
    """Conditions a bundle or episode model prices first, then other templates, then segments."""
    priced = {c for b in library.kind("bundles").values() for c in b.conditions}
    priced |= {c for e in library.kind("episode-models").values() for cat in e.categories for c in cat.conditions}
    templates = set(library.kind("conditions"))
    return sorted(conds, key=lambda c: (0 if c in priced else 1 if c in templates else 2, c))


def _provider_formats(cur: str) -> tuple[dict[str, Formatter], dict[str, str], list[str]]:
    fm: dict[str, Formatter] = {"patients": count, "cycles": count, "cost": money}
    heads = {"cost": f"cost ({cur})"}
    cols = ["facility", "patients", "cycles", "cost"]
    for m, label in MODELS.items():
        fm[f"{m}_revenue"] = fm[f"{m}_margin_per_cycle"] = money
        heads[f"{m}_revenue"] = f"{label} revenue"
        heads[f"{m}_margin_per_cycle"] = f"{label} margin / cycle"
        cols += [f"{m}_revenue", f"{m}_margin_per_cycle"]
    return fm, heads, cols


def _complication_block(ws: Workspace, rep: Report, cur: str) -> Block:
    """Eligible bundle cycles with and without a complication: what each model pays and leaves."""
    b = Block("The incentive: what a complication does to the provider's margin", (
        "Eligible bundle cycles split by the bundle's complication measure (1: a complication). Under "
        "fee-for-service a complication is paid again (the readmission's DRG, the emergency visit's APC, "
        "the professional claims); under the bundle the price does not change, so its cost is the "
        f"provider's. Amounts per cycle in {cur}; groups of fewer than 11 patients show <11."))
    fm: dict[str, Formatter] = {"patients": count, "cycles": count, "cost_per_cycle": money}
    cols = ["bundle_id", "complication", "patients", "cycles", "cost_per_cycle"]
    heads = {"cost_per_cycle": "cost / cycle"}
    for m in ("ffs", "bundle", "episode"):
        for k in ("paid", "margin"):
            fm[f"{m}_{k}_per_cycle"] = money
            heads[f"{m}_{k}_per_cycle"] = f"{MODELS[m]} {k} / cycle"
            cols.append(f"{m}_{k}_per_cycle")
    b.parts.append(rep.table("complication-margins", ws.ask(payment.complication_margins), formats=fm,
                             headers=heads, columns=cols))
    split = [{**r, "model": MODELS.get(str(r["model"]), r["model"])} for r in ws.ask(payment.margin_split)]
    b.parts.append(rep.table("margin-split", split, formats={k: money for k in (
        "index_margin", "complication_revenue", "complication_cost", "complication_margin", "margin")}, columns=[
        "bundle_id", "organization_id", "model", "patients", "cycles", "cycles_with_complication_care", "index_margin",
        "complication_revenue", "complication_cost", "complication_margin", "margin"]))
    return b


def _episode_block(ws: Workspace, rep: Report, cur: str) -> Block:
    rec = with_facility(ws.ask(payment.episode_reconciliation), ws.con)
    models = {str(r["model"]) for r in rec}
    em = {k: v for k, v in ws.library.kind("episode-models").items() if k in models}
    text = " ".join(f"{e.title}: episode = {e.anchor[:1].lower() + e.anchor[1:]} + {e.post_anchor_days} days; target = blend of "
                    f"hospital ({e.hospital_blend:.0%}) and regional baseline, less the category's discount, "
                    "× the episode's case mix; reconciliation = target − FFS spending, cut by the quality "
                    "adjustment and held within the track's stop-gain / stop-loss." for e in em.values())
    tracks = sorted({str(r["track"]) for r in rec if r.get("track")})
    b = Block("CMS episode-model reconciliation per hospital",
              f"{text} Track applied: {', '.join(tracks) or 'none'}. Positive: CMS pays the hospital; "
              f"negative: the hospital repays. Amounts in {cur}; quality is the rank of the hospital's "
              "complication rate (best 1, worst 0). Episodes counts cycles; a hospital with fewer than 11 "
              "shows <11 and hides its amounts.")
    b.parts.append(rep.table("episode-reconciliation", rec, formats={
        "patients": count, "target": money, "spending": money, "raw": money, "quality": ratio,
        "quality_adjusted": money, "reconciliation": money},
        headers={"patients": "episodes", "raw": "target − spending", "limit_applied": "limit applied"},
        columns=["model", "category", "track", "facility", "patients", "target", "spending", "raw", "quality",
                 "quality_adjusted", "reconciliation", "limit_applied"]))
    return b


def _unverified(library: Library) -> str:
    """What the content says it could not verify, and the simulation's known limits."""
    items = []
    for kind in ("fee-schedules", "episode-models", "time-based-payments"):
        for d in library.kind(kind).values():
            items += [f"{d.id}: {u}" for u in getattr(d, "unverified", [])]
    conds = sorted({c for fs in library.kind("fee-schedules").values() for c in fs.conditions})
    items += [
        "Fee-for-service pays the claims' charges plus facility payments (MS-DRG per admission, APC per "
        f"outpatient surgery or ED visit) for the cycles of {', '.join(conds) or 'no condition'}; other "
        "conditions' FFS revenue is professional charges only.",
        "Episode targets: every cycle is both baseline and performance year (no separate baseline period, "
        "trend or normalisation factor).",
        "PROMETHEUS allowances and ProvenCare-style warranty pricing are not simulated.",
    ]
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def section(ws: Workspace, rep: Report) -> Section:
    """The payment section, or a note naming the command that builds its tables."""
    sec = Section("payment", TITLE)
    if note := missing_note(ws, "payment_ledger", "bundle_prices", "episode_reconciliation"):
        return Section(sec.id, sec.title, False, note)
    lib, cur = ws.library, currency(ws.library)
    tb = lib.kind("time-based-payments").get(DEFAULT_TIME_BASED)
    tb_text = (f" The time-based model is “{tb.title}” ("
               + ", ".join(f"{r.applies_to} {r.amount:g} {cur} per {r.per}" for r in tb.rates) + ")." if tb else "")
    b = Block("What each model pays", (
        "The same care cycles (the value ledger: one row per patient × care cycle with its TDABC cost) paid "
        "five ways; revenue is the sum over a provider's cycles, margin per cycle = (revenue − TDABC cost) ÷ "
        f"cycles, in {cur}. Bundle conditions count only bundle-eligible cycles; a condition or segment a "
        "model has no rate for is paid fee-for-service under it." + tb_text))
    b.parts.append(models_table(rep))
    sec.blocks.append(b)
    b = Block("Bundles: what they include, the warranty and the proposed price")
    b.parts.append(bundle_terms(lib, cur))
    b.parts.append(rep.table("bundle-prices", ws.ask(payment.bundle_prices), formats={
        "cycles": count, "expected_included_cost": money, "warranty_reserve": money, "margin": pct,
        "proposed_price": money, "reference_price": money, "p10": money, "p50": money, "p90": money},
        headers={"expected_included_cost": "expected included cost", "warranty_reserve": "warranty reserve",
                 "proposed_price": "proposed price", "reference_price": "published price",
                 "p10": "cost p10", "p50": "cost p50", "p90": "cost p90"},
        columns=["bundle_id", "cycles", "expected_included_cost", "warranty_reserve", "margin", "proposed_price",
                 "reference_price", "p10", "p50", "p90", "status", "ineligible_cycles",
                 "eligibility_excluded_cycles", "carved_out_cycles"]))
    sec.blocks.append(b)
    sec.blocks.append(_complication_block(ws, rep, cur))
    pc = with_facility(ws.ask(payment.provider_comparison), ws.con)
    fm, heads, cols = _provider_formats(cur)
    for cond in _condition_order(lib, {str(r["condition"]) for r in pc}):
        rows = [r for r in pc if r["condition"] == cond]
        b = Block(f"{cond}: revenue and margin by provider")
        shown = frame_of(rows)
        if not shown.empty:
            b.parts.append(rep.figure(f"margin-{cond}", margin_figure(shown, cond, cur)))
        b.parts.append(rep.table(f"payment-{cond}", rows, formats=fm, headers=heads, columns=cols))
        sec.blocks.append(b)
    sec.blocks.append(_episode_block(ws, rep, cur))
    b = Block("Not verified, and known limits", "Figures the content could not check against the regulation "
              "text or the source, and what the simulation leaves out (docs/payment.md):")
    b.parts.append(_unverified(lib))
    sec.blocks.append(b)
    return sec
