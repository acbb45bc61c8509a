"""Facility payments under fee-for-service (F17): each inpatient admission paid by the MS-DRG its
procedures and diagnoses group to under a fee schedule's rules, and each hospital outpatient claim
line by its APC. Pure Ibis; the schedule (content) names the codes, the engine none."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.fee_schedule import FeeSchedule
from carevalue.engine.codesets import matches

COLUMNS = ("encounter_id", "patient_id", "ts", "setting", "code", "amount")


def _any(aggs: dict[str, ir.BooleanScalar], name: str, hit: ir.BooleanValue) -> None:
    """Add ``hit.any()`` per encounter, unless ``hit`` is a constant (no codes: never true)."""
    if isinstance(hit, ir.BooleanColumn):
        aggs[name] = hit.any()


def _inpatient(con: BaseBackend, fs: FeeSchedule) -> ir.Table:
    """One row per inpatient encounter: the DRG of the first matching rule (with-MCC DRG when another
    diagnosis on the admission is an MCC), else the fallback DRG; amount = base rate × weight."""
    enc = con.table("encounters")
    ip = enc.filter(enc.class_code.isin(fs.inpatient_classes)).select("encounter_id", "patient_id", ts="start_ts")
    proc = con.table("procedures")
    proc = proc.filter(proc.encounter_id.notnull())
    cond = con.table("conditions")
    cond = cond.filter(cond.encounter_id.notnull())
    p_aggs: dict[str, ir.BooleanScalar] = {}
    c_aggs: dict[str, ir.BooleanScalar] = {}
    for i, r in enumerate(fs.drg_rules):
        _any(p_aggs, f"_p{i}", matches(proc.code_system, proc.code, r.procedure_codes))
        own = matches(cond.code_system, cond.code, r.diagnosis_codes)
        _any(c_aggs, f"_d{i}", own)
        _any(c_aggs, f"_m{i}", matches(cond.code_system, cond.code, fs.mcc_codes) & ~own)
    t = ip
    for src, key, aggs in ((proc, "_pe", p_aggs), (cond, "_ce", c_aggs)):
        if aggs:
            a = src.group_by(**{key: "encounter_id"}).aggregate(**aggs)
            t = t.left_join(a, t.encounter_id == a[key]).drop(key)

    def flag(name: str) -> ir.BooleanValue:
        return t[name].coalesce(False) if name in t.columns else ibis.literal(False)

    branches = []
    for i, r in enumerate(fs.drg_rules):
        hit = flag(f"_p{i}") | flag(f"_d{i}")
        mcc = flag(f"_m{i}")
        drg = ibis.cases((mcc, ibis.literal(r.drg_with_mcc)), else_=ibis.literal(r.drg)) if r.drg_with_mcc \
            else ibis.literal(r.drg)
        branches.append((hit, drg))
    fallback = ibis.literal(fs.fallback_drg)
    code = ibis.cases(*branches, else_=fallback) if branches else fallback
    t = t.mutate(code=code)
    amount = ibis.cases(*[(t.code == d.drg, ibis.literal(fs.base_rate * d.weight)) for d in fs.drgs], else_=0.0)
    return t.select("encounter_id", "patient_id", "ts", setting=ibis.literal("inpatient"),
                    code=ibis.literal("DRG ") + t.code, amount=amount.cast("float64"))


def _outpatient(con: BaseBackend, fs: FeeSchedule) -> ir.Table | None:
    """One row per outpatient encounter with claim lines of an APC's codes: Σ payment × units."""
    if not fs.apcs or "claim_lines" not in set(con.list_tables()):
        return None
    enc = con.table("encounters").select(_enc="encounter_id", _pid="patient_id", _ts="start_ts", _cls="class_code")
    cl = con.table("claims").select(_claim="claim_id", _cenc="encounter_id")
    ln = con.table("claim_lines").select("claim_id", "code", "quantity")
    j = ln.inner_join(cl, ln.claim_id == cl._claim).inner_join(enc, cl._cenc == enc._enc)
    units = j.quantity.coalesce(1.0).cast("float64")
    pay = ibis.cases(*[(j.code.isin(a.hcpcs) & j._cls.isin(a.classes), ibis.literal(a.payment)) for a in fs.apcs],
                     else_=ibis.null("float64"))
    apc = ibis.cases(*[(j.code.isin(a.hcpcs) & j._cls.isin(a.classes), ibis.literal("APC " + a.apc)) for a in fs.apcs],
                     else_=ibis.null("string"))
    j = j.mutate(_pay=pay * units, _apc=apc)
    j = j.filter(j._pay.notnull())
    g = j.group_by(encounter_id=j._enc, patient_id=j._pid, ts=j._ts).aggregate(code=j._apc.min(), amount=j._pay.sum())
    return g.select(*COLUMNS[:3], setting=ibis.literal("outpatient"), code=g.code, amount=g.amount)


def encounter_payments(con: BaseBackend, fs: FeeSchedule) -> ir.Table:
    """encounter_id, patient_id, ts, setting, code (``DRG 470``, ``APC 5115``), amount."""
    ip = _inpatient(con, fs).select(*COLUMNS)
    op = _outpatient(con, fs)
    return ibis.union(ip, op.select(*COLUMNS)) if op is not None else ip


def cycle_facility(con: BaseBackend, fs: FeeSchedule) -> ir.Table:
    """cycle_id, ts, code, amount: the facility payments of the encounters the schedule's conditions'
    cycles carry (cost-bearing encounter events, so an encounter is paid once)."""
    ev = con.table("cycle_events")
    ev = ev.filter((ev.event_table == "encounters") & ev.cost_bearing.coalesce(False) & ev.condition.isin(fs.conditions))
    ev = ev.select("cycle_id", _eid="event_id")
    pay = encounter_payments(con, fs)
    j = ev.inner_join(pay, ev._eid == pay.encounter_id)
    return j.select("cycle_id", "encounter_id", "ts", "code", "amount")


def encounter_money(con: BaseBackend, ev: ir.Table, fee_schedules: Sequence[FeeSchedule]) -> ir.Table:
    """``ev`` (with encounter_id and condition) plus ``encounter_cost`` (TDABC labour cost of the
    encounter) and ``encounter_paid`` (its claim charges plus the facility payments of the fee
    schedules that cover the row's condition): what an encounter costs and earns under FFS."""
    ac = con.table("activity_costs")
    cost = ac.group_by(_e1="encounter_id").aggregate(_enc_cost=ac.labour_cost.sum())
    cl = con.table("claims")
    ch = cl.group_by(_e2="encounter_id").aggregate(_enc_charges=cl.total_charge.sum())
    ev = ev.left_join(cost, ev.encounter_id == cost._e1).left_join(ch, ev.encounter_id == ch._e2).drop("_e1", "_e2")
    fee = ibis.literal(0.0)
    for i, fs in enumerate(fee_schedules):
        pay = encounter_payments(con, fs)
        pay = pay.group_by(_e3="encounter_id").aggregate(**{f"_fac_{i}": pay.amount.sum()})
        ev = ev.left_join(pay, ev.encounter_id == pay._e3).drop("_e3")
        fee = fee + ibis.cases((ev.condition.isin(list(fs.conditions)), ev[f"_fac_{i}"].coalesce(0.0)), else_=0.0)
    return ev.mutate(encounter_cost=ev._enc_cost.coalesce(0.0),
                     encounter_paid=ev._enc_charges.coalesce(0.0) + fee).drop(
        "_enc_cost", "_enc_charges", *[f"_fac_{i}" for i in range(len(fee_schedules))])
