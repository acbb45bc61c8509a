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
from carevalue.engine.outcome_measures import days_between
from carevalue.engine.payment.coded import DIAGNOSES, PROCEDURES, CodeLists, coded_records, with_key
from carevalue.engine.payment.facility import encounter_money

MIN_DAY = 1.0  # complication care starts after the index day (the index admission is typical care)


def _key(bundle_index: int, condition: str) -> str:
    return f"comp:{bundle_index}:{condition}"


def _groups(bundles: Sequence[Bundle], templates: Sequence[ConditionTemplate]) -> list[tuple[str, str, list[CodeGroup]]]:
    """(key, condition, code groups) of every bundle × condition with complication care."""
    by_id = {t.id: t for t in templates}
    out = []
    for bi, b in enumerate(bundles):
        if b.complication_care is None:
            continue
        for cond in b.conditions:
            tpl = by_id.get(cond)
            groups = [g for name in b.complication_care.code_sets for g in (tpl.code_sets.get(name, []) if tpl else [])]
            if groups:
                out.append((_key(bi, cond), cond, groups))
    return out


def complication_code_lists(bundles: Sequence[Bundle], templates: Sequence[ConditionTemplate],
                            lists: CodeLists) -> None:
    """Add the complication-care code lists (diagnoses and procedures) to ``lists``."""
    for key, _cond, groups in _groups(bundles, templates):
        lists.add(DIAGNOSES, key, groups)
        lists.add(PROCEDURES, key, groups)


def complication_care(con: BaseBackend, cycles: ir.Table, templates: Sequence[ConditionTemplate],
                      bundles: Sequence[Bundle], windows: Sequence[int],
                      fee_schedules: Sequence[FeeSchedule] = (), amounts: ir.Table | None = None,
                      coded: ir.Table | None = None, names: set[str] | None = None) -> ir.Table | None:
    """cycle_id, comp_cost_w{d}, comp_paid_w{d} (d in ``windows``): cost and FFS payment of the
    cycle's complication encounters from day 1 to day d after the index date; comp_cost_all,
    comp_paid_all: from day 1 to the end of the cycle. ``amounts``: the per-encounter money of
    :func:`~carevalue.engine.payment.facility.encounter_amounts`, ``coded`` the coded records holding
    :func:`complication_code_lists`, ``names`` the store's tables, when the caller has them already."""
    names = names if names is not None else set(con.list_tables())
    if not {"cycle_events", "encounters", "conditions", "procedures"} <= names or not windows:
        return None
    spec = _groups(bundles, templates)
    if not spec:
        return None
    if coded is None:
        lists = CodeLists()
        complication_code_lists(bundles, templates, lists)
        coded = coded_records(con, lists)
    keys = ibis.memtable({"_key": [k for k, _c, _g in spec], "_kcond": [c for _k, c, _g in spec]},
                         schema={"_key": "string", "_kcond": "string"})
    flagged = with_key(coded.filter(coded.encounter_id.notnull()), [k for k, _c, _g in spec])
    flagged = flagged.select(_fe="encounter_id", _fk="_key").distinct()
    ev = con.table("cycle_events")
    ev = ev.filter((ev.event_table == "encounters") & ev.cost_bearing.coalesce(False)).select(
        "cycle_id", encounter_id="event_id", _evc="condition")
    enc = con.table("encounters").select(_eid="encounter_id", _ets="start_ts")
    c = cycles.select(_cid="cycle_id", _cc="condition", _ix="index_ts")
    e = ev.inner_join(flagged, ev.encounter_id == flagged._fe).inner_join(keys, [flagged._fk == keys._key,
                                                                               ev._evc == keys._kcond])
    e = e.inner_join(c, [e.cycle_id == c._cid, e._kcond == c._cc])
    e = e.inner_join(enc, e.encounter_id == enc._eid)
    e = e.select("cycle_id", "encounter_id", "_key", condition=e._kcond, day=days_between(e._ets, e._ix))
    # distinct per bundle × condition (as one query each would be), then every one kept
    e = e.filter(e.day >= MIN_DAY).distinct().drop("_key")
    ev_money = encounter_money(con, e, fee_schedules, amounts)
    aggs = {"comp_cost_all": ev_money.encounter_cost.sum(), "comp_paid_all": ev_money.encounter_paid.sum()}
    for d in sorted(set(windows)):
        inside = ev_money.day <= d
        aggs[f"comp_cost_w{d}"] = ibis.cases((inside, ev_money.encounter_cost), else_=0.0).sum()
        aggs[f"comp_paid_w{d}"] = ibis.cases((inside, ev_money.encounter_paid), else_=0.0).sum()
    return ev_money.group_by("cycle_id").aggregate(**aggs)
