"""Complication care of a cycle (potentially avoidable complications, PACs): the encounters after
the index day that carry a diagnosis or procedure of the bundle's ``complication_care`` code sets,
with their TDABC cost and fee-for-service payment, summed per cycle within each day window. Read
by the PAC-allowance and warranty-price policies and by the index/complication margin split."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.base import CodeGroup
from carevalue.definitions.bundle import Bundle
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.fee_schedule import FeeSchedule
from carevalue.engine.codesets import matches
from carevalue.engine.outcome_measures import days_between
from carevalue.engine.payment.facility import encounter_money

MIN_DAY = 1.0  # complication care starts after the index day (the index admission is typical care)


def _flagged(con: BaseBackend, table: str, groups: list[CodeGroup]) -> ir.Table:
    t = con.table(table)
    t = t.filter(t.encounter_id.notnull() & matches(t.code_system, t.code, groups))
    return t.select(_fe="encounter_id").distinct()


def complication_care(con: BaseBackend, cycles: ir.Table, templates: Sequence[ConditionTemplate],
                      bundles: Sequence[Bundle], windows: Sequence[int],
                      fee_schedules: Sequence[FeeSchedule] = (), amounts: ir.Table | None = None) -> ir.Table | None:
    """cycle_id, comp_cost_w{d}, comp_paid_w{d} (d in ``windows``): cost and FFS payment of the
    cycle's complication encounters from day 1 to day d after the index date; comp_cost_all,
    comp_paid_all: from day 1 to the end of the cycle. ``amounts``: the per-encounter money of
    :func:`~carevalue.engine.payment.facility.encounter_amounts`, when the caller has it already."""
    names = set(con.list_tables())
    if not {"cycle_events", "encounters", "conditions", "procedures"} <= names or not windows:
        return None
    by_id = {t.id: t for t in templates}
    ev = con.table("cycle_events")
    ev = ev.filter((ev.event_table == "encounters") & ev.cost_bearing.coalesce(False))
    enc = con.table("encounters").select(_eid="encounter_id", _ets="start_ts")
    parts = []
    for b in bundles:
        if b.complication_care is None:
            continue
        for cond in b.conditions:
            tpl = by_id.get(cond)
            groups = [g for name in b.complication_care.code_sets for g in (tpl.code_sets.get(name, []) if tpl else [])]
            if not groups:
                continue
            flagged = ibis.union(_flagged(con, "conditions", groups), _flagged(con, "procedures", groups)).distinct()
            c = cycles.filter(cycles.condition == cond).select(_cid="cycle_id", _ix="index_ts")
            e = ev.filter(ev.condition == cond).select("cycle_id", encounter_id="event_id")
            e = e.inner_join(flagged, e.encounter_id == flagged._fe).drop("_fe")
            e = e.inner_join(c, e.cycle_id == c._cid).inner_join(enc, e.encounter_id == enc._eid)
            e = e.select("cycle_id", "encounter_id", condition=ibis.literal(cond), day=days_between(e._ets, e._ix))
            parts.append(e.filter(e.day >= MIN_DAY).distinct())
    if not parts:
        return None
    ev_money = encounter_money(con, ibis.union(*parts) if len(parts) > 1 else parts[0], fee_schedules, amounts)
    aggs = {"comp_cost_all": ev_money.encounter_cost.sum(), "comp_paid_all": ev_money.encounter_paid.sum()}
    for d in sorted(set(windows)):
        inside = ev_money.day <= d
        aggs[f"comp_cost_w{d}"] = ibis.cases((inside, ev_money.encounter_cost), else_=0.0).sum()
        aggs[f"comp_paid_w{d}"] = ibis.cases((inside, ev_money.encounter_paid), else_=0.0).sum()
    return ev_money.group_by("cycle_id").aggregate(**aggs)
