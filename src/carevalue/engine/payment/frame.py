"""The per-cycle money frame every payment model reads: TDABC cost and fee-for-service charges of
each care cycle, split at the day windows the bundles and episode models use, with the patient's
ASA class and CMS-HCC score; and the warranty events (covered procedures after the index date,
inside or beyond the cycle). Built as Ibis expressions, executed once to small frames; what several
parts share (the base cycles, the facility payments, the per-encounter money) is cached once on the
backend instead of being recompiled and recomputed inside every part."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.bundle import Bundle
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.fee_schedule import FeeSchedule
from carevalue.engine.casemix_frame import variable_table
from carevalue.engine.outcome_measures import days_between
from carevalue.engine.payment.coded import DIAGNOSES, PROCEDURES, CodeLists, coded_records, with_key
from carevalue.engine.payment.complication_care import complication_care, complication_code_lists
from carevalue.engine.payment.exclusions import bundle_exclusions, exclusion_code_lists
from carevalue.engine.payment.facility import (
    cycle_facility,
    drg_code_lists,
    encounter_amounts,
    encounter_money,
    encounter_payments,
    paid_encounters,
)
from carevalue.engine.payment.proms import prom_improvement

HCC_MODEL = "cms-hcc-v24"


@dataclass(frozen=True)
class MoneyFrames:
    cycles: pd.DataFrame     # one row per care cycle
    warranty: pd.DataFrame   # one row per (cycle, warranty event)


def _cycles(con: BaseBackend, names: set[str]) -> ir.Table:
    t = con.table("cycle_cost_totals")
    cc = con.table("care_cycles").select("cycle_id", _index="index_ts") if "care_cycles" in names else None
    out = t.select("cycle_id", "patient_id", "condition", "cycle_type", "organization_id", "start_ts", "end_ts",
                   cost="total_cost", charges=t.charges.coalesce(0.0),
                   consumables=t.consumables_cost.coalesce(0.0))
    if cc is not None:
        out = out.left_join(cc, out.cycle_id == cc.cycle_id).drop("cycle_id_right")
        out = out.mutate(index_ts=out._index.coalesce(out.start_ts)).drop("_index")
    else:
        out = out.mutate(index_ts=out.start_ts)
    year = out.cycle_id.re_extract(r":(\d{4})$", 1)
    return out.mutate(year=ibis.cases((year != "", year.cast("int64")),
                                      else_=out.index_ts.year().cast("int64")))


def _split(con: BaseBackend, cycles: ir.Table, windows: Sequence[int], facility: ir.Table | None,
           conditions: Sequence[str] | None = None) -> ir.Table:
    """Cost and fee-for-service payments (claim charges + facility payments) within each window
    (days after the index date, inclusive of day 0 and earlier), for the cycles of ``conditions``
    (None: every cycle)."""
    if conditions is not None:
        cycles = cycles.filter(cycles.condition.isin(list(conditions)) if conditions else ibis.literal(False))
    idx = cycles.select(_cid="cycle_id", _ix="index_ts")
    ac = con.table("activity_costs")
    ac = ac.filter(ac.cycle_id.notnull()).select("cycle_id", ts="start_ts", cost="labour_cost", charges=ibis.literal(0.0))
    ev = con.table("cycle_events")
    ev = ev.filter((ev.event_table == "claims") & ev.cost_bearing)
    cl = con.table("claims").select(_claim="claim_id", _charge="total_charge")
    ev = ev.inner_join(cl, ev.event_id == cl._claim).select(
        "cycle_id", ts="event_ts", cost=ibis.literal(0.0), charges=cl._charge.coalesce(0.0))
    parts = [ac.mutate(cost=ac.cost.cast("float64")), ev.mutate(charges=ev.charges.cast("float64"))]
    if facility is not None:
        parts.append(facility.select("cycle_id", "ts", cost=ibis.literal(0.0), charges=facility.amount.cast("float64")))
    money = ibis.union(*parts)
    money = money.inner_join(idx, money.cycle_id == idx._cid)
    money = money.mutate(day=days_between(money.ts, money._ix))
    aggs = {}
    for d in windows:
        inside = money.day <= d
        aggs[f"cost_w{d}"] = ibis.cases((inside, money.cost), else_=0.0).sum()
        aggs[f"charges_w{d}"] = ibis.cases((inside, money.charges), else_=0.0).sum()
    return money.group_by("cycle_id").aggregate(**aggs)


def _asa(con: BaseBackend, cycles: ir.Table, templates: Sequence[ConditionTemplate],
         bundles: Sequence[Bundle]) -> ir.Table | None:
    parts = []
    for b in bundles:
        var_id = b.eligibility.asa_variable
        for tpl in templates:
            var = next((v for v in tpl.case_mix if v.id == var_id), None)
            if tpl.id not in b.conditions or var is None:
                continue
            base = cycles.filter(cycles.condition == tpl.id).select("cycle_id", "patient_id", "condition",
                                                                    anchor_ts="index_ts")
            v = variable_table(con, tpl, base, var)
            if v is not None:
                parts.append(v.select("cycle_id", asa="value_num"))
    if not parts:
        return None
    u = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return u.group_by("cycle_id").aggregate(asa=u.asa.max())


def _warranty_spec(templates: Sequence[ConditionTemplate], bundles: Sequence[Bundle]) -> list[dict[str, object]]:
    """One row per bundle × warranty × condition with covered code sets: its keys and terms."""
    by_id = {t.id: t for t in templates}
    rows: list[dict[str, object]] = []
    for bi, b in enumerate(bundles):
        for wi, w in enumerate(b.warranties):
            for cond in b.conditions:
                tpl = by_id.get(cond)
                groups = [g for name in w.code_sets for g in tpl.code_sets.get(name, [])] if tpl else []
                if groups:
                    rows.append({"_wkey": f"war:{bi}:{wi}:{cond}", "_wcond": cond, "_groups": groups,
                                 "_xkey": f"warx:{bi}:{wi}" if w.extension_codes else None,
                                 "_xgroups": w.extension_codes, "warranty": w.id,
                                 "covered_days": w.covered_days(False), "extended_days": w.covered_days(True)})
    return rows


def warranty_code_lists(templates: Sequence[ConditionTemplate], bundles: Sequence[Bundle], lists: CodeLists) -> None:
    """Add the warranties' covered procedures and extension diagnoses to ``lists``."""
    for r in _warranty_spec(templates, bundles):
        lists.add(PROCEDURES, str(r["_wkey"]), r["_groups"])  # type: ignore[arg-type]
        if r["_xkey"]:
            lists.add(DIAGNOSES, str(r["_xkey"]), r["_xgroups"])  # type: ignore[arg-type]


def warranty_events(con: BaseBackend, cycles: ir.Table, templates: Sequence[ConditionTemplate],
                    bundles: Sequence[Bundle], fee_schedules: Sequence[FeeSchedule] = (),
                    amounts: ir.Table | None = None, coded: ir.Table | None = None) -> ir.Table | None:
    """Procedures of a warranty's code sets after the cycle's index date, with their encounter's
    cost and fee-for-service payment (claim charges + the facility payment of a fee schedule for
    the cycle's condition), whether they fall inside the cycle and whether the warranty is extended.
    The warranties are rows of a small table joined in; ``coded`` holds :func:`warranty_code_lists`."""
    spec = _warranty_spec(templates, bundles)
    if not spec:
        return None
    if coded is None:
        lists = CodeLists()
        warranty_code_lists(templates, bundles, lists)
        coded = coded_records(con, lists)
    cols = {"_wkey": "string", "_wcond": "string", "_xkey": "string", "warranty": "string",
            "covered_days": "int64", "extended_days": "int64"}
    terms = ibis.memtable({c: [r[c] for r in spec] for c in cols}, schema=cols)
    p = with_key(coded.filter(coded._src == PROCEDURES), [str(r["_wkey"]) for r in spec])
    p = p.select(_pid="patient_id", _enc="encounter_id", _ts="ts", _pk="_key")
    p = p.inner_join(terms, p._pk == terms._wkey)
    c = cycles.select("cycle_id", "patient_id", "condition", "index_ts", "end_ts")
    j = c.inner_join(p, [c.patient_id == p._pid, c.condition == p._wcond])
    j = j.filter(j._ts > j.index_ts)
    xkeys = sorted({str(r["_xkey"]) for r in spec if r["_xkey"]})
    x = with_key(coded.filter(coded._src == DIAGNOSES), xkeys)
    first = x.group_by(_xp=x.patient_id, _xk=x._key).aggregate(_x_first=x.ts.min())
    j = j.left_join(first, [j.patient_id == first._xp, j._xkey == first._xk])
    ext = (j._x_first.notnull() & (j._x_first > j.index_ts)).coalesce(False)
    ev = j.select("cycle_id", encounter_id=j._enc, condition=j.condition, day=days_between(j._ts, j.index_ts),
                  in_cycle=(j._ts <= j.end_ts).coalesce(False), extended=ext, warranty=j.warranty,
                  covered_days=j.covered_days, extended_days=j.extended_days)
    ev = encounter_money(con, ev, fee_schedules, amounts)
    return ev.select("cycle_id", "encounter_id", "warranty", "day", "in_cycle", "extended", "covered_days",
                     "extended_days", cost=ev.encounter_cost, charges=ev.encounter_paid)


def _facility(con: BaseBackend, fee_schedules: Sequence[FeeSchedule], names: set[str],
              payments: Sequence[ir.Table] | None) -> ir.Table | None:
    if not fee_schedules or not {"encounters", "cycle_events"} <= names:
        return None
    parts = [cycle_facility(con, fs, payments[i] if payments else None) for i, fs in enumerate(fee_schedules)]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _code_lists(templates: Sequence[ConditionTemplate], bundles: Sequence[Bundle],
                fee_schedules: Sequence[FeeSchedule]) -> CodeLists:
    """Every code list the frame matches: DRG grouper, complication care, warranties, exclusions."""
    lists = CodeLists()
    for fs in fee_schedules:
        drg_code_lists(fs, lists)
    complication_code_lists(bundles, templates, lists)
    warranty_code_lists(templates, bundles, lists)
    exclusion_code_lists(bundles, lists)
    return lists


def _to_pandas(con: BaseBackend, t: ir.Table) -> pd.DataFrame:
    """Execute ``t`` into pandas; on DuckDB through Arrow column by column (Ibis's ``execute`` turns
    every column with a null into Python objects first; the frame has a row per care cycle), on
    other backends (whose ``to_pyarrow`` goes through pandas anyway) by ``execute``."""
    return t.to_pyarrow().to_pandas() if con.name == "duckdb" else t.execute()


def money_frames(con: BaseBackend, templates: Sequence[ConditionTemplate], bundles: Sequence[Bundle],
                 windows: Sequence[int], fee_schedules: Sequence[FeeSchedule] = (),
                 names: set[str] | None = None, window_conditions: Sequence[str] | None = None) -> MoneyFrames:
    """Execute the per-cycle frame (with window splits, ASA, HCC, facility payments) and the warranty
    events. ``charges`` is what fee-for-service pays: the claim charges plus the facility payments.
    ``names``: the store's tables, when the caller has listed them; ``window_conditions``: the
    conditions whose cycles the window splits are for (those of the bundles and episode models;
    None: every cycle's — the other cycles' window columns are then their consumables only)."""
    with contextlib.ExitStack() as cached:
        return _money_frames(con, templates, bundles, windows, fee_schedules, cached,
                             names if names is not None else set(con.list_tables()), window_conditions)


def _money_frames(con: BaseBackend, templates: Sequence[ConditionTemplate], bundles: Sequence[Bundle],
                  windows: Sequence[int], fee_schedules: Sequence[FeeSchedule],
                  cached: contextlib.ExitStack, names: set[str],
                  window_conditions: Sequence[str] | None = None) -> MoneyFrames:
    def cache(t: ir.Table) -> ir.Table:
        # Ibis's PySpark cache compiles the expression without registering its in-memory tables
        # (the keyed code rows): register them first, as an execution would
        con._register_in_memory_tables(t)  # type: ignore[attr-defined]
        c = t.cache()
        cached.callback(c.release)
        return c

    cycles = _cycles(con, names)
    coded = cache(coded_records(con, _code_lists(templates, bundles, fee_schedules))) \
        if {"procedures", "conditions"} <= names else None
    # each schedule pays only the encounters asked about (its conditions' cycles, coded encounters)
    payments = [cache(encounter_payments(con, fs, coded, names,
                                         paid_encounters(con, fs, coded) if "cycle_events" in names else None))
                for fs in fee_schedules] if "encounters" in names else None
    # per-encounter money is asked about only for coded encounters (complication care, warranty
    # events, carved-out care), so only those are summed
    amounts = cache(encounter_amounts(con, fee_schedules, payments, coded)) \
        if {"encounters", "activity_costs", "claims"} <= names else None
    facility = _facility(con, fee_schedules, names, payments)
    if facility is not None:
        tot = facility.group_by(_fc="cycle_id").aggregate(
            facility_payment=facility.amount.sum(), facility_codes=facility.code.group_concat("; "))
        cycles = cycles.left_join(tot, cycles.cycle_id == tot._fc).drop("_fc")
        cycles = cycles.mutate(professional_charges=cycles.charges,
                               facility_payment=cycles.facility_payment.coalesce(0.0))
        cycles = cycles.mutate(charges=cycles.professional_charges + cycles.facility_payment)
    else:
        cycles = cycles.mutate(professional_charges=cycles.charges, facility_payment=ibis.literal(0.0),
                               facility_codes=ibis.null("string"))
    cycles = cache(cycles)
    wins = sorted(set(windows) | {p.window_days for b in bundles for p in (b.pac_allowance, b.warranty_price)
                                  if p is not None and p.window_days})
    t = cycles
    if wins:
        s = _split(con, cycles, wins, facility, window_conditions)
        t = t.left_join(s, t.cycle_id == s.cycle_id).drop("cycle_id_right")
    excl = bundle_exclusions(con, cycles, bundles, fee_schedules, amounts, coded) if coded is not None else None
    if excl is not None:
        t = t.left_join(excl, t.cycle_id == excl.cycle_id).drop("cycle_id_right")
    prom = prom_improvement(con, cycles, bundles, names)
    if prom is not None:
        t = t.left_join(prom, t.cycle_id == prom.cycle_id).drop("cycle_id_right")
    comp = complication_care(con, cycles, templates, bundles, wins, fee_schedules, amounts, coded, names) \
        if coded is not None else None
    if comp is not None:
        t = t.left_join(comp, t.cycle_id == comp.cycle_id).drop("cycle_id_right")
    asa = _asa(con, cycles, templates, bundles)
    if asa is not None:
        t = t.left_join(asa, t.cycle_id == asa.cycle_id).drop("cycle_id_right")
    if "patient_risk_scores" in names:
        r = con.table("patient_risk_scores")
        r = r.filter(r.model == HCC_MODEL).select(_rp="patient_id", hcc_score="score")
        t = t.left_join(r, t.patient_id == r._rp).drop("_rp")
    frame = _to_pandas(con, t)
    for d in wins:
        for col in (f"cost_w{d}", f"charges_w{d}", f"comp_cost_w{d}", f"comp_paid_w{d}"):
            frame[col] = frame[col].fillna(0.0) if col in frame else 0.0
        # Consumables are bought for the index treatment: they fall inside every window.
        frame[f"cost_w{d}"] = (frame[f"cost_w{d}"] + frame["consumables"]).clip(upper=frame["cost"])
    for col in ("comp_cost_all", "comp_paid_all"):
        frame[col] = frame[col].fillna(0.0) if col in frame else 0.0
    for col in ("asa", "hcc_score"):
        if col not in frame:
            frame[col] = float("nan")
    for col in ("excluded_cost", "excluded_charges"):
        frame[col] = frame[col].fillna(0.0) if col in frame else 0.0
    frame["eligibility_excluded"] = frame["eligibility_excluded"].fillna(False).astype(bool) \
        if "eligibility_excluded" in frame else False
    if "exclusions" not in frame:
        frame["exclusions"] = None
    wev = warranty_events(con, cycles, templates, bundles, fee_schedules, amounts, coded) \
        if "procedures" in names else None
    warranty = wev.execute() if wev is not None else pd.DataFrame(
        columns=["cycle_id", "encounter_id", "warranty", "day", "in_cycle", "extended", "covered_days",
                 "extended_days", "cost", "charges"])
    return MoneyFrames(frame.sort_values("cycle_id").reset_index(drop=True), warranty)
