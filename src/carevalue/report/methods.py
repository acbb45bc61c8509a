"""The methods page: every definition, model, method and threshold the report's numbers rest on,
read from the definitions library (content), the engine's own constants and the run that built the
store, so the page changes when any of them does."""

from __future__ import annotations

import html
import inspect
from typing import Any

from carevalue.engine.risk import casemix, compare, intervals, validation
from carevalue.queries import comparison as cmp
from carevalue.queries import model_quality as mq
from carevalue.queries import scorecard as sc
from carevalue.queries.costs import currency
from carevalue.queries.privacy import MARK, THRESHOLD
from carevalue.report import payment as payment_page
from carevalue.report import scorecard as scorecard_page
from carevalue.report.layout import Block, Report, Rows, Section, count, html_table, missing_note
from carevalue.workspace import Workspace


def _default(fn: Any, arg: str) -> Any:
    """A keyword's default in the engine's signature: the value the stage used unless told otherwise."""
    return inspect.signature(fn).parameters[arg].default


def rule_text(rule: Any) -> str:
    """A segment rule in words: any / all / not of the leaf tests, each leaf its fields."""
    d = rule.model_dump(exclude_none=True, exclude_defaults=False, by_alias=True)
    return _rule(d)


def _rule(d: dict[str, Any]) -> str:
    for k in ("any", "all"):
        if k in d:
            return f"{k} of (" + "; ".join(_rule(x) for x in d[k]) + ")"
    if "not" in d:
        return "not (" + _rule(d["not"]) + ")"
    parts = []
    for k, v in d.items():
        if isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        if isinstance(v, dict):
            v = {a: ", ".join(str(x) for x in b) if isinstance(b, list) else b for a, b in v.items()}
            v = ", ".join(f"{a.replace('_', ' ')} {b}" for a, b in v.items() if b not in (None, [], ""))
        parts.append(f"{k.replace('_', ' ')} {v}")
    return "; ".join(parts)


def _privacy_block() -> Block:
    return Block("Small cells (suppression rule)", (
        f"No printed count may describe 1–{THRESHOLD - 1} patients (cell-size threshold {THRESHOLD}, the CMS "
        f"rule). Primary suppression: a row whose patients are 1–{THRESHOLD - 1} shows {MARK} for its counts and "
        f"hides its values; for event statistics a row with 1–{THRESHOLD - 1} events or non-events is hidden "
        "too. Complementary suppression: where rows add up to a shown total (the providers of one condition or "
        "measure, the segments, each row and column of the transition table) the next-smallest row is hidden "
        "with a lone hidden one, repeated until no group hides exactly one. Counts inside sentences become "
        f"{MARK}; charts draw only rows left shown; counts of 0 are shown. All hidden cells carry the same mark. "
        "The one module doing this is carevalue.queries.privacy."))


def _cycles_block(ws: Workspace) -> Block:
    rows = []
    for cid, t in sorted(ws.library.kind("conditions").items()):
        c = t.cycle
        window = (f"{c.days_before} days before to {c.days_after} days after the index event" if c.kind == "acute"
                  else f"one cycle per {c.period_months} months")
        rows.append({"condition": cid, "title": t.title, "kind": c.kind,
                     "triggers": ", ".join(f"{g.table}: {g.code_set}" for g in c.triggers), "window": window,
                     "requires": (f"{c.require_code_set} within {c.require_within_days} days"
                                  if c.require_code_set else ""),
                     "attribution": c.attribution, "phases": ", ".join(p.phase for p in t.phases),
                     "sources": "; ".join(t.sources)})
    b = Block("Care cycles (condition templates)", "Each condition's care cycle as its template defines it: "
              "what starts a cycle, its window, the facility it is attributed to, and its phases.")
    b.parts.append(html_table(rows))
    return b


def _segments_block(ws: Workspace) -> Block:
    rows = [{"priority": s.priority, "segment": s.id, "title": s.title, "rule": rule_text(s.rule),
             "care_team": s.care_team, "pmpm_reference": s.pmpm_reference, "source": s.source}
            for s in sorted(ws.library.kind("segments").values(), key=lambda s: s.priority)]
    b = Block("Primary-care segments", "Each living patient is in the first segment (by priority) whose rule "
              "holds on the date.")
    b.parts.append(html_table(rows))
    return b


def _costing_block(ws: Workspace) -> Block:
    lib = ws.library
    pol = [{"policy": p.id, "currency": p.currency, "practical_share": p.practical_share,
            "paid_time_resource_types": ", ".join(p.paid_time_resource_types), "source": getattr(p, "source", "")}
           for p in lib.kind("costing_policies").values()]
    maps = [{"process_map": m.id, "applies_to": m.applies_to, "scope": m.scope, "steps": len(m.steps),
             "standard_minutes": sum(r.minutes for s in m.steps for r in s.resources), "source": m.source}
            for m in sorted(lib.kind("process_maps").values(), key=lambda m: m.id)]
    b = Block("Cost: time-driven activity-based costing", (
        f"Cost = Σ minutes × capacity cost rate of each resource + consumables at acquisition cost, in "
        f"{currency(lib)}. Capacity cost rate = annual cost ÷ practical capacity (paid time × practical "
        "share). Minutes are those recorded in the data, else the process map's standard time (with its "
        "time-equation variations). Charges are shown beside costs and never used to derive them."))
    b.parts.append(html_table(pol))
    b.parts.append(html_table(maps, formats={"standard_minutes": lambda v: f"{v:,.0f}"}))
    return b


def _measures_block(ws: Workspace) -> Block:
    rows = []
    for cid, t in sorted(ws.library.kind("conditions").items()):
        mix = {v.id: v for v in t.case_mix}
        for m in t.outcomes:
            rows.append({"condition": cid, "tier": m.tier, "level": m.level, "measure": m.id, "title": m.title,
                         "calculation": m.calculation or "", "direction": m.direction,
                         "time_points": ", ".join(f"{tp.label} (day {tp.day} ± {tp.window_days})"
                                                  for tp in m.time_points),
                         "case_mix": ", ".join(f"{v} ({mix[v].kind})" if v in mix else v for v in m.case_mix)
                         or "none (crude)", "standard": m.standard or "", "definition": m.definition})
    b = Block("Outcome measures and their case-mix variables",
              "Every measure of every condition template (tier and level of Porter's outcome hierarchy), its "
              "time points with the accepted window, and the case-mix variables its model adjusts for.")
    b.parts.append(html_table(rows))
    return b


def _models_block(ws: Workspace) -> Block:
    levels = " and ".join(f"{lv:.1%}" for lv in intervals.LEVELS)
    winsor = _default(intervals.estimate_dispersion, "winsor")
    ratio_ci = _default(compare.observed_expected, "method")
    b = Block("Case-mix models, intervals, flags and overdispersion", (
        "Expected outcomes come from each measure's case-mix model fitted over all providers (logistic for "
        "events, linear for scores and lengths of stay, Cox for survival with censoring); a variable is kept "
        f"only while the events per parameter are at least {casemix.MIN_EVENTS_PER_PARAMETER} (else a reduced or crude "
        f"model), and a time-to-event comparison needs {casemix.MIN_AT_RISK} patients still at risk. "
        f"Discrimination and calibration are validated with {validation.FOLDS}-fold cross-validation where "
        f"the model allows. Intervals: O/E of events by the {ratio_ci} Poisson interval; O − E of means by the "
        f"t interval; stated at {levels}. Flags: better or worse exactly when the interval at that level "
        "excludes the target (O/E = 1, O − E = 0), 'not assessable' when the expected events are too few for "
        f"it ever to. Overdispersion: φ = mean square of the {winsor:.0%}-winsorised z = 2(√O − √E), applied "
        f"(multiplicative, widening the limits by √φ) only with at least "
        f"{intervals.MIN_PROVIDERS_FOR_OVERDISPERSION} providers and φ > 1; otherwise the intervals stay exact. "
        "The funnel plots draw the same limits. The table lists, per comparison of this run, the model, "
        "adjustment, variables, validation and the overdispersion decision as stored."))
    if note := missing_note(ws, "outcome_comparison"):
        b.parts.append(f"<p class='note'>{html.escape(note)}</p>")
        return b
    rows = ws.ask(mq.model_quality)
    b.parts.append(html_table(rows, formats={"events": count}, columns=[
        "condition", "measure", "time_point", "scale", "status", "statistic", "model", "adjustment", "variables",
        "validation", "overdispersion", "reason"]))
    return b


def _comparison_block() -> Block:
    b = Block("Provider comparison: bands, five tiers, ranks and CUSUM", (
        f"Value scorecards' CUSUM: Bernoulli CUSUM of Steiner, Cook, Farewell & Treasure (2000), odds ratio "
        f"{scorecard_page.CUSUM_ODDS_RATIO:g} against 'as expected', signal at h = {scorecard_page.CUSUM_H:g}."))
    b.parts += [f"<p class='intro'>{html.escape(p)}</p>" for p in
                (" ".join(par.split()) for par in cmp.METHODS.split("\n\n")) if p]
    return b


def _composites_block(ws: Workspace) -> Block:
    rows = []
    for c in sc.library_composites(ws.library):
        total = sum(w.weight for w in c.weights)
        rows += [{"composite": c.id, "condition": c.condition, "title": c.title, "measure": w.measure,
                  "time_point": w.time_point or "first compared", "weight": f"{w.weight:g}",
                  "normalised_weight": f"{w.weight / total:.3f}", "source": w.source} for w in c.weights]
    b = Block("Composites (only with explicit weights)", (
        "Outcomes are never collapsed into one index by default. A composite exists only where content "
        "(scorecard-sets) defines it with every weight and its source; its score is the weighted mean of "
        "E/O (adverse events) or O/E, and a provider missing any part gets none."))
    b.parts.append(html_table(rows) if rows else "<p>No composite is defined in the content.</p>")
    ex = [{"set": s.id, "exhibit": e.id, "title": e.title, "segments": ", ".join(e.segments), "source": e.source}
          for s in ws.library.kind("scorecard-sets").values() for e in s.exhibits]
    ex += [{"set": s.id, "exhibit": n.exhibit, "title": "(nearest exhibit)", "segments": seg, "source": n.source}
           for s in ws.library.kind("scorecard-sets").values() for seg, n in s.nearest.items()]
    if ex:
        b.parts.append(html_table(ex))
    return b


def _payment_block(ws: Workspace) -> Block:
    lib, cur = ws.library, currency(ws.library)
    b = Block("Payment policies", "The bundles, time-based payments and episode models as the content "
              "defines them, with their sources.")
    b.parts.append(payment_page.bundle_terms(lib, cur))
    tb: Rows = [{"model": t.id, "title": t.title, "basis": t.basis, "applies_to": r.applies_to,
                 "amount": f"{r.amount:,.2f}", "per": r.per, "risk_adjustment": t.risk_adjustment,
                 "outlier": (f"payer pays {t.outlier.payer_share:.0%} above {t.outlier.threshold_per_year:,.0f}"
                             " per year" if t.outlier else ""), "source": t.source}
                for t in lib.kind("time-based-payments").values() for r in t.rates]
    if tb:
        b.parts.append(html_table(tb))
    ep: Rows = [{"model": e.id, "title": e.title, "anchor": e.anchor, "post_anchor_days": e.post_anchor_days,
                 "hospital_blend": f"{e.hospital_blend:.0%}",
                 "categories": "; ".join(f"{c.id} (discount {c.discount:.1%})" for c in e.categories),
                 "tracks": "; ".join(f"{t.id}: stop-gain {t.stop_gain:.0%}, stop-loss {t.stop_loss:.0%}"
                                     for t in e.tracks), "source": e.source}
                for e in lib.kind("episode-models").values()]
    if ep:
        b.parts.append(html_table(ep))
    return b


def _standards_block(ws: Workspace) -> Block:
    rows = [{"standard": s.id, "authority": s.authority, "period": s.period, "threshold": t.id,
             "procedure": t.procedure, "conditions": ", ".join(t.conditions) or "(not checked)", "level": t.level,
             "minimum": t.minimum, "valid_from": t.valid_from or "", "valid_to": t.valid_to or "",
             "verified": "no" if t.id in s.unverified else "yes", "source": t.source}
            for s in sorted(ws.library.kind("standards").values(), key=lambda s: s.id) for t in s.thresholds]
    b = Block("Minimum-volume standards", "Every threshold in force, per calendar year, with its source; a "
              "year the store observes only in part is annualised and never judged below the minimum.")
    b.parts.append(html_table(rows, formats={"minimum": lambda v: f"{v:,}"}))
    return b


def _run_block(ws: Workspace) -> Block:
    runs = [r for r in ws.runs() if r.get("status") == "published"][-10:]
    b = Block("The runs behind these numbers", (
        "The store's published runs (the last ten, `carevalue runs`): each publishes the tables of its "
        "stages atomically, with the hash of the definitions it ran on. Content folders loaded over the "
        "packaged library: " + (", ".join(str(c) for c in ws.content) or "none (packaged content only)") + "."))
    rows = [{"run_id": r["run_id"], "started": r["started"], "finished": r.get("finished"),
             "stages": ", ".join(r.get("stages") or []), "definitions_hash": str(r.get("definitions_hash"))[:12]}
            for r in runs]
    b.parts.append(html_table(rows) if rows else "<p>No published run recorded for this store.</p>")
    return b


def section(ws: Workspace, rep: Report) -> Section:
    """The methods page's one section: definitions, models, methods and thresholds, in report order."""
    sec = Section("methods", "Methods: definitions, models, methods and thresholds")
    sec.blocks += [_privacy_block(), _cycles_block(ws), _segments_block(ws), _costing_block(ws),
                   _measures_block(ws), _models_block(ws), _comparison_block(), _composites_block(ws),
                   _payment_block(ws), _standards_block(ws), _run_block(ws)]
    return sec
