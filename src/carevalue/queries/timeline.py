"""One patient's care cycles as a timeline, and the list of one provider's cycles that leads to it.

``patient_timeline`` is the cycles of :func:`carevalue.queries.cycles.patient_cycles` (events by
phase) with, per cycle, each phase's span and event count in the template's phase order, the
cycle's outcome values, and its TDABC cost (total and by phase, charges beside it). Individual-level
data, so never suppressed: callers reach it only through an audited access check.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.definitions.phases import PHASES
from carevalue.queries.base import QueryError, needs, rows_of
from carevalue.queries.cycles import patient_cycles
from carevalue.queries.stored import table

OUTCOME_COLUMNS = ("cycle_id", "measure", "tier", "level", "time_point", "time_point_day", "scale", "value",
                   "value_type", "event", "censored", "anchor_ts")
TOTAL_COLUMNS = ("cycle_id", "total_cost", "labour_cost", "consumables_cost", "charges", "cost_source",
                 "not_costed_reason")


def _phase_order(library: Library, condition: str) -> list[str]:
    """The condition template's phases, then any other known phase (an event may carry one)."""
    tpl = library.kind("conditions").get(condition)
    own = tpl.phase_order() if tpl is not None else []
    return own + [p for p in PHASES if p not in own]


def _phases(events: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """Each phase's first and last event and how many events it has, in ``order``."""
    spans: dict[str, dict[str, Any]] = {}
    for e in events:
        ph = e["phase"] or "unassigned"
        s = spans.setdefault(ph, {"phase": ph, "start_ts": e["event_ts"], "end_ts": e["event_ts"], "events": 0})
        s["events"] += 1
        if e["event_ts"] is not None:
            s["start_ts"] = min(x for x in (s["start_ts"], e["event_ts"]) if x is not None)
            s["end_ts"] = max(x for x in (s["end_ts"], e["event_ts"]) if x is not None)
    rank = {p: i for i, p in enumerate(order)}
    return sorted(spans.values(), key=lambda s: (rank.get(s["phase"], len(rank)), s["start_ts"] or ""))


@needs("patients", "care_cycles", "cycle_events")
def patient_timeline(con: BaseBackend, library: Library, patient: str) -> list[dict[str, Any]]:
    """Every care cycle of ``patient`` with its events, phase spans, outcome values and costs."""
    cycles = patient_cycles(con, library, patient)
    have = set(con.list_tables())
    ids = [c["cycle_id"] for c in cycles]
    outcomes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    totals: dict[str, dict[str, Any]] = {}
    by_phase: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if ids and "outcome_values" in have:
        ov = table(con, "outcome_values")
        cols = [c for c in OUTCOME_COLUMNS if c in ov.columns]
        for r in rows_of(ov.filter(ov.patient_id == patient).select(*cols)
                         .order_by(["cycle_id", "measure", "time_point", "scale"])):
            outcomes[r.pop("cycle_id")].append(r)
    if ids and "cycle_cost_totals" in have:
        t = table(con, "cycle_cost_totals")
        cols = [c for c in TOTAL_COLUMNS if c in t.columns]
        totals = {r["cycle_id"]: r for r in rows_of(t.filter(t.patient_id == patient).select(*cols))}
    if ids and "cycle_costs" in have:
        cc = table(con, "cycle_costs")
        mine = cc.filter(cc.patient_id == patient) if "patient_id" in cc.columns else cc
        agg = (mine.filter(mine.cycle_id.isin(ids)).group_by(["cycle_id", "phase"])
               .aggregate(total_cost=mine.total_cost.sum(), minutes=mine.minutes.sum()))
        for r in rows_of(agg):
            by_phase[r.pop("cycle_id")].append(r)
    titles = {(tpl.id, m.id): m.title for tpl in library.conditions() for m in tpl.outcomes}
    out = []
    for c in cycles:
        order = _phase_order(library, c["condition"])
        mine = [{**o, "measure_title": titles.get((c["condition"], o["measure"]), o["measure"])}
                for o in outcomes.get(c["cycle_id"], [])]
        rank = {p: i for i, p in enumerate(order)}
        cost = totals.get(c["cycle_id"], {})
        out.append({**c, "phases": _phases(c["events"], order), "outcomes": mine,
                    "cost": {k: v for k, v in cost.items() if k != "cycle_id"} or None,
                    "phase_costs": sorted(by_phase.get(c["cycle_id"], []),
                                          key=lambda r: rank.get(r["phase"], len(rank)))})
    return out


@needs("care_cycles")
def provider_cycles(con: BaseBackend, library: Library, condition: str, provider: str,
                    ipus: list[str] | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """One provider's care cycles of a condition (newest first, at most ``limit``), each with its
    patient, span, TDABC cost and outcome count; ``ipus`` keeps only cycles of those IPUs."""
    if condition not in library.kind("conditions"):
        raise QueryError(f"no condition {condition!r}; known: {', '.join(sorted(library.kind('conditions')))}")
    c = table(con, "care_cycles")
    sel = c.filter((c.condition == condition) & (c.organization_id == provider))
    if ipus is not None:
        sel = sel.filter(c.ipu_id.isin(ipus or [""]))
    cols = [k for k in ("cycle_id", "patient_id", "cycle_type", "start_ts", "end_ts", "ipu_id", "period_label")
            if k in c.columns]
    sel = sel.select(*cols)
    cycle_ids = sel.cycle_id
    have = set(con.list_tables())
    if "cycle_cost_totals" in have:
        t = table(con, "cycle_cost_totals").select("cycle_id", "total_cost", "charges")
        sel = sel.left_join(t, "cycle_id").drop("cycle_id_right")
    if "outcome_values" in have:  # counted for these cycles only, not for every cycle of the store
        ov = table(con, "outcome_values")
        ov = ov.filter(ov.cycle_id.isin(cycle_ids))
        n = ov.group_by("cycle_id").aggregate(outcome_values=ov.count())
        sel = sel.left_join(n, "cycle_id").drop("cycle_id_right")
    order = [sel.start_ts.desc(), sel.cycle_id] if "start_ts" in cols else [sel.cycle_id]
    return rows_of(sel.order_by(order).limit(limit))
