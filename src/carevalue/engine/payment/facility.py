"""Facility payments under fee-for-service (F17): each inpatient admission paid by the MS-DRG its
procedures and diagnoses group to under a fee schedule's rules, and each hospital outpatient claim
line by its APC. Pure Ibis; the schedule (content) names the codes, the engine none."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.fee_schedule import FeeSchedule
from carevalue.engine.payment.coded import DIAGNOSES, PROCEDURES, CodeLists, coded_records

COLUMNS = ("encounter_id", "patient_id", "ts", "setting", "code", "amount")


def _drg_key(fs: FeeSchedule, kind: str) -> str:
    return f"drg:{fs.id}:{kind}"


def drg_code_lists(fs: FeeSchedule, lists: CodeLists) -> None:
    """Add the schedule's grouper code lists (per rule: procedures, diagnoses; the MCCs) to ``lists``."""
    for i, r in enumerate(fs.drg_rules):
        lists.add(PROCEDURES, _drg_key(fs, f"p{i}"), r.procedure_codes)
        lists.add(DIAGNOSES, _drg_key(fs, f"d{i}"), r.diagnosis_codes)
    lists.add(DIAGNOSES, _drg_key(fs, "mcc"), fs.mcc_codes)


def _only(t: ir.Table, key: str, only: ir.Table | None) -> ir.Table:
    """``t``'s rows whose ``key`` is one of ``only``'s encounter ids (all rows without ``only``)."""
    if only is None:
        return t
    want = only.select(_only="encounter_id").distinct()
    return t.semi_join(want, t[key] == want._only)


def _inpatient(con: BaseBackend, fs: FeeSchedule, coded: ir.Table | None = None,
               only: ir.Table | None = None) -> ir.Table:
    """One row per inpatient encounter: the DRG of the first matching rule (with-MCC DRG when another
    diagnosis on the admission is an MCC), else the fallback DRG; amount = base rate × weight.
    ``coded``: :func:`~carevalue.engine.payment.coded.coded_records` holding the schedule's
    :func:`drg_code_lists` (matched here when not given)."""
    if coded is None:
        lists = CodeLists()
        drg_code_lists(fs, lists)
        coded = coded_records(con, lists)
    enc = _only(con.table("encounters"), "encounter_id", only)
    ip = enc.filter(enc.class_code.isin(fs.inpatient_classes)).select("encounter_id", "patient_id", ts="start_ts")
    rec = coded.filter(coded.encounter_id.notnull())
    proc = rec.filter(rec._src == PROCEDURES)
    has_mcc = bool(fs.mcc_codes)
    p_aggs = {f"_p{i}": (proc._key == _drg_key(fs, f"p{i}")).any()
              for i, r in enumerate(fs.drg_rules) if r.procedure_codes}
    own = [i for i, r in enumerate(fs.drg_rules) if r.diagnosis_codes]
    # per diagnosis record first (is it rule i's own diagnosis, is it an MCC), then per encounter
    diag = rec.filter(rec._src == DIAGNOSES)
    per = diag.group_by(["_rid", "encounter_id"]).aggregate(
        _mcc=(diag._key == _drg_key(fs, "mcc")).any(),
        **{f"_own{i}": (diag._key == _drg_key(fs, f"d{i}")).any() for i in own})
    c_aggs = {f"_d{i}": per[f"_own{i}"].any() for i in own}
    if has_mcc:
        c_aggs |= {f"_m{i}": (per._mcc & ~per[f"_own{i}"]).any() if i in own else per._mcc.any()
                   for i in range(len(fs.drg_rules))}
    t = ip
    for src, key, aggs in ((proc, "_pe", p_aggs), (per, "_ce", c_aggs)):
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


def _outpatient(con: BaseBackend, fs: FeeSchedule, names: set[str] | None = None,
                only: ir.Table | None = None) -> ir.Table | None:
    """One row per outpatient encounter with claim lines of an APC's codes: Σ payment × units."""
    if not fs.apcs or "claim_lines" not in (names if names is not None else set(con.list_tables())):
        return None
    enc = con.table("encounters").select(_enc="encounter_id", _pid="patient_id", _ts="start_ts", _cls="class_code")
    cl = _only(con.table("claims"), "encounter_id", only).select(_claim="claim_id", _cenc="encounter_id")
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


def encounter_payments(con: BaseBackend, fs: FeeSchedule, coded: ir.Table | None = None,
                       names: set[str] | None = None, only: ir.Table | None = None) -> ir.Table:
    """encounter_id, patient_id, ts, setting, code (``DRG 470``, ``APC 5115``), amount. ``coded``
    and ``names`` (the store's tables): what the caller has already, else looked up here;
    ``only``: a table whose ``encounter_id`` are the encounters to pay (None: every encounter)."""
    ip = _inpatient(con, fs, coded, only).select(*COLUMNS)
    op = _outpatient(con, fs, names, only)
    return ibis.union(ip, op.select(*COLUMNS)) if op is not None else ip


def paid_encounters(con: BaseBackend, fs: FeeSchedule, coded: ir.Table | None = None) -> ir.Table:
    """The encounters a schedule's payments are asked about: its conditions' cost-bearing cycle
    encounters (:func:`cycle_facility`) and the coded ones (complication care, warranty events,
    carved-out care priced by :func:`encounter_money`)."""
    ev = con.table("cycle_events")
    ev = ev.filter((ev.event_table == "encounters") & ev.cost_bearing.coalesce(False) & ev.condition.isin(fs.conditions))
    out = ev.select(encounter_id="event_id")
    if coded is not None:
        out = ibis.union(out, coded.filter(coded.encounter_id.notnull()).select("encounter_id"))
    return out


def cycle_facility(con: BaseBackend, fs: FeeSchedule, payments: ir.Table | None = None) -> ir.Table:
    """cycle_id, ts, code, amount: the facility payments of the encounters the schedule's conditions'
    cycles carry (cost-bearing encounter events, so an encounter is paid once). ``payments``: the
    schedule's :func:`encounter_payments`, when the caller has them already (e.g. cached)."""
    ev = con.table("cycle_events")
    ev = ev.filter((ev.event_table == "encounters") & ev.cost_bearing.coalesce(False) & ev.condition.isin(fs.conditions))
    ev = ev.select("cycle_id", _eid="event_id")
    pay = payments if payments is not None else encounter_payments(con, fs)
    j = ev.inner_join(pay, ev._eid == pay.encounter_id)
    return j.select("cycle_id", "encounter_id", "ts", "code", "amount")


def encounter_amounts(con: BaseBackend, fee_schedules: Sequence[FeeSchedule],
                      payments: Sequence[ir.Table] | None = None, only: ir.Table | None = None) -> ir.Table:
    """One row per encounter with activity costs, claims or a facility payment: ``_enc_cost`` (TDABC
    labour cost), ``_enc_charges`` (claim charges) and ``_fac_{i}`` (facility payment under the i-th
    fee schedule). One set-based aggregation shared by every per-encounter money question, so a
    caller can compute (or cache) it once. ``payments``: the schedules' :func:`encounter_payments`;
    ``only``: a table whose ``encounter_id`` are the encounters asked about (the rest is not summed)."""
    n = len(fee_schedules)
    zero = ibis.literal(0.0)
    pays = list(payments) if payments is not None else [encounter_payments(con, fs) for fs in fee_schedules]

    def row(eid: ir.Value, cost: ir.Value, charges: ir.Value, fac: int | None = None,
            amount: ir.Value | None = None) -> dict[str, ir.Value]:
        out = {"_eid": eid, "_enc_cost": cost.cast("float64"), "_enc_charges": charges.cast("float64")}
        for i in range(n):
            out[f"_fac_{i}"] = (amount if i == fac and amount is not None else zero).cast("float64")
        return out

    ac = con.table("activity_costs")
    cl = con.table("claims")
    wanted = only.select(_want="encounter_id").distinct() if only is not None else None

    def asked(t: ir.Table) -> ir.Table:
        return t if wanted is None else t.semi_join(wanted, t.encounter_id == wanted._want)

    ac, cl = asked(ac), asked(cl)
    parts = [ac.select(**row(ac.encounter_id, ac.labour_cost, zero)),
             cl.select(**row(cl.encounter_id, zero, cl.total_charge))]
    for i, p in enumerate(pays):
        p = asked(p)
        parts.append(p.select(**row(p.encounter_id, zero, zero, i, p.amount)))
    u = ibis.union(*parts)
    u = u.filter(u._eid.notnull())
    return u.group_by(encounter_id=u._eid).aggregate(
        _enc_cost=u._enc_cost.sum(), _enc_charges=u._enc_charges.sum(),
        **{f"_fac_{i}": u[f"_fac_{i}"].sum() for i in range(n)})


def encounter_money(con: BaseBackend, ev: ir.Table, fee_schedules: Sequence[FeeSchedule],
                    amounts: ir.Table | None = None) -> ir.Table:
    """``ev`` (with encounter_id and condition) plus ``encounter_cost`` (TDABC labour cost of the
    encounter) and ``encounter_paid`` (its claim charges plus the facility payments of the fee
    schedules that cover the row's condition): what an encounter costs and earns under FFS.
    ``amounts``: :func:`encounter_amounts` for the same schedules, when the caller has it already."""
    a = amounts if amounts is not None else encounter_amounts(con, fee_schedules)
    a = a.rename(_ea="encounter_id")
    ev = ev.left_join(a, ev.encounter_id == a._ea).drop("_ea")
    fee = ibis.literal(0.0)
    for i, fs in enumerate(fee_schedules):
        fee = fee + ibis.cases((ev.condition.isin(list(fs.conditions)), ev[f"_fac_{i}"].coalesce(0.0)), else_=0.0)
    return ev.mutate(encounter_cost=ev._enc_cost.coalesce(0.0),
                     encounter_paid=ev._enc_charges.coalesce(0.0) + fee).drop(
        "_enc_cost", "_enc_charges", *[f"_fac_{i}" for i in range(len(fee_schedules))])
