"""Two figures drawn from a condition template alone (no store): its care delivery value chain (the
phases in care order, each with its activities and the process map's steps) and its outcome
hierarchy (Porter's three tiers with the measures of each). Plain HTML and CSS: nothing to load."""

from __future__ import annotations

import html
from typing import Any

from carevalue.definitions.phases import PHASES
from carevalue.report.figures import PHASE_COLOURS

TIERS = {1: "Tier 1 · Health status achieved or retained", 2: "Tier 2 · Process of recovery",
         3: "Tier 3 · Sustainability of health"}
LEVELS = {1: "Survival", 2: "Degree of health or recovery", 3: "Time to recovery and return to normal activities",
          4: "Disutility of the care or treatment process", 5: "Sustainability of health or recovery and nature of "
          "recurrences", 6: "Long-term consequences of therapy"}
TIER_COLOURS = {1: "#1f3a5f", 2: "#4c72b0", 3: "#8da0cb"}
PARTS = (("activities", "Activities"), ("informing_engaging", "Informing and engaging"),
         ("measuring", "Measuring"), ("accessing", "Accessing"))


def _e(v: Any) -> str:
    return html.escape(str(v))


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def chain_rows(template: Any | None, process_map: Any | None) -> list[dict[str, Any]]:
    """The phases in care order (the template's, and any the process map has steps in), each with
    the template's activities and the process map's steps."""
    steps: dict[str, list[Any]] = {}
    for s in (process_map.steps if process_map is not None else []):
        steps.setdefault(s.phase, []).append(s)
    order = {p: i for i, p in enumerate(PHASES)}
    defined = {p.phase: p for p in (template.phases if template is not None else [])}
    names = sorted(set(defined) | set(steps), key=lambda p: order.get(p, len(order)))
    return [{"phase": ph, **{k: list(getattr(defined[ph], k)) if ph in defined else [] for k, _ in PARTS},
             "steps": [{"step_code": s.step_code, "description": s.description, "setting": s.setting,
                        "minutes": sum(r.minutes for r in s.resources),
                        "roles": ", ".join(r.role for r in s.resources)} for s in steps.get(ph, [])]}
            for ph in names]


def value_chain_html(template: Any | None, process_map: Any | None) -> str:
    """The care delivery value chain as a row of phase columns, left to right in care order."""
    cols = []
    for i, r in enumerate(chain_rows(template, process_map), start=1):
        body = "".join(f"<dt>{label}</dt><dd>{_list(r[k])}</dd>" for k, label in PARTS if r[k])
        if r["steps"]:
            items = [f"{s['description']} ({s['setting']}; {s['minutes']:g} min: {s['roles']})" for s in r["steps"]]
            body += f"<dt>Process-map steps</dt><dd>{_list(items)}</dd>"
        colour = PHASE_COLOURS.get(r["phase"], "#1f3a5f")
        cols.append(f"<div class=\"phase\" style=\"--c: {colour}\" data-phase=\"{_e(r['phase'])}\">"
                    f"<h4><span class=\"n\">{i}</span>{_e(r['phase'])}</h4><dl>{body}</dl></div>")
    return "<div class=\"chain\" role=\"figure\" aria-label=\"care delivery value chain\">" + "".join(cols) + "</div>"


def hierarchy_rows(template: Any) -> list[dict[str, Any]]:
    """Each tier with its levels and the measures at each level (tier and level order)."""
    out = []
    for tier in (1, 2, 3):
        levels = []
        for level in sorted({m.level for m in template.outcomes if m.tier == tier}):
            ms = [m for m in template.outcomes if m.tier == tier and m.level == level]
            levels.append({"level": level, "measures": [
                {"measure": m.id, "title": m.title, "direction": m.direction,
                 "time_points": [tp.label for tp in m.time_points], "case_mix": list(m.case_mix)} for m in ms]})
        out.append({"tier": tier, "levels": levels})
    return out


def hierarchy_html(template: Any) -> str:
    """The outcome hierarchy: three tiers, top to bottom, each with its levels and measures."""
    bands = []
    for t in hierarchy_rows(template):
        inner = "".join(
            f"<div class=\"level\"><b>Level {lv['level']} · {_e(LEVELS.get(lv['level'], ''))}</b>"
            + _list([f"{m['title']} — {', '.join(m['time_points'])} ({m['direction']}"
                     + (f"; case mix: {', '.join(m['case_mix'])}" if m["case_mix"] else "; crude") + ")"
                     for m in lv["measures"]]) + "</div>"
            for lv in t["levels"]) or "<p class=\"level\">No measure in this tier.</p>"
        bands.append(f"<div class=\"tier\" style=\"--c: {TIER_COLOURS[t['tier']]}\" data-tier=\"{t['tier']}\">"
                     f"<h4>{_e(TIERS[t['tier']])}</h4>{inner}</div>")
    return "<div class=\"hierarchy\" role=\"figure\" aria-label=\"outcome hierarchy\">" + "".join(bands) + "</div>"
