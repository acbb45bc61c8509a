"""Time-driven activity-based costing (F12): cost per patient over the full care cycle.

cost = Σ minutes × capacity cost rate + consumables at acquisition cost, per cycle, phase, resource
role and facility. Recorded minutes win; steps recorded without minutes get the process map's
standard time (time equation: base + extras for the cycle's pathway flags). Charges are reported
beside costs and never used to derive them. Activities reach a cycle through
encounter_id -> cycle_events(event_table='encounters', cost_bearing); those outside any
condition cycle go to the patient's primary-care segment year when ``segments`` is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.process_map import (
    CostingPolicy,
    ProcessMap,
)
from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.capacity import capacity_cost_rates
from carevalue.engine.cycle_costs import (
    COST_SOURCES as COST_SOURCES,  # re-exported for readers of costing
)
from carevalue.engine.cycle_costs import NOT_COSTED_REASONS as NOT_COSTED_REASONS
from carevalue.engine.cycle_costs import cost_lines, cycle_cost_totals, cycle_costs
from carevalue.engine.record_filter import counting
from carevalue.engine.table_list import listed_once

# Schemas of the tables engine/cycles.py and engine/segments.py write (CONTRACTS.md), used when
# they are not stored yet so costing still runs (everything then lands as unattributed).
CARE_CYCLES_SCHEMA = {
    "cycle_id": "string", "patient_id": "string", "condition": "string", "cycle_type": "string",
    "start_ts": "timestamp", "end_ts": "timestamp", "trigger_table": "string", "trigger_id": "string",
    "organization_id": "string", "ipu_id": "string", "period_label": "string",
}
CYCLE_EVENTS_SCHEMA = {
    "cycle_id": "string", "patient_id": "string", "condition": "string", "event_table": "string",
    "event_id": "string", "event_ts": "timestamp", "phase": "string", "encounter_id": "string",
    "organization_id": "string", "practitioner_id": "string", "cost_bearing": "boolean",
}
SEGMENTS_SCHEMA = {"patient_id": "string", "segment": "string", "valid_from": "date", "valid_to": "date"}
CYCLE_FLAGS_SCHEMA = {"cycle_id": "string", "flag": "string"}

OPEN_END = ibis.literal(date(9999, 12, 31))  # the end of an open (null valid_to) segment interval

OUTPUT_TABLES = ("capacity_cost_rates", "activity_costs", "cycle_costs", "cycle_cost_totals",
                 "cost_periods", "capacity_use", "cost_opportunities")


# --------------------------------------------------------------------------- process maps as tables
@dataclass(frozen=True)
class MapTables:
    """Process maps flattened for joins: one row per (map, step, role), variations, flag codes."""

    steps: ir.Table
    variations: ir.Table
    flag_codes: ir.Table


STEP_SCHEMA = {
    "applies_to": "string", "scope": "string", "step_code": "string", "step_phase": "string",
    "setting": "string", "role": "string", "base_minutes": "float64", "least_cost_role": "string",
    "routine": "boolean", "low_value": "boolean", "low_value_reason": "string",
    "step_description": "string",
}


def map_tables(maps: Sequence[ProcessMap]) -> MapTables:
    steps, variations, codes = [], [], []
    for m in maps:
        for s in m.steps:
            for r in s.resources:
                steps.append({
                    "applies_to": m.applies_to, "scope": m.scope, "step_code": s.step_code,
                    "step_phase": s.phase, "setting": s.setting, "role": r.role,
                    "base_minutes": float(r.minutes), "least_cost_role": r.least_cost_role,
                    "routine": s.routine, "low_value": s.low_value,
                    "low_value_reason": s.low_value_reason, "step_description": s.description,
                })
                variations += [{"applies_to": m.applies_to, "step_code": s.step_code, "role": r.role,
                                "flag": v.flag, "extra_minutes": float(v.extra_minutes)}
                               for v in r.variations]
        for f in m.flags:
            codes += [{"applies_to": m.applies_to, "flag": f.name, "system": c.system, "code": c.code}
                      for c in f.codes]
    return MapTables(
        ibis.memtable(steps, schema=STEP_SCHEMA),
        ibis.memtable(variations, schema={"applies_to": "string", "step_code": "string", "role": "string",
                                          "flag": "string", "extra_minutes": "float64"}),
        ibis.memtable(codes, schema={"applies_to": "string", "flag": "string", "system": "string", "code": "string"}),
    )


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Inputs:
    """The store tables costing reads: core tables hold only the records that count (the record
    rules: an activity, consumable or claim of a cancelled encounter is not costed or charged),
    engine tables are replaced by empty ones when absent."""

    con: BaseBackend
    resources: ir.Table
    activities: ir.Table
    consumables: ir.Table
    encounters: ir.Table
    organizations: ir.Table
    care_cycles: ir.Table
    cycle_events: ir.Table
    segments: ir.Table | None
    cycle_flags: ir.Table | None
    claims: ir.Table
    claim_lines: ir.Table
    procedures: ir.Table
    medications: ir.Table
    conditions: ir.Table
    observations: ir.Table

    @classmethod
    def from_backend(cls, con: BaseBackend, rules: RecordRules) -> Inputs:
        listed = listed_once(con)  # the table list, read once for every counting view
        names = set(listed.list_tables())

        def opt(name: str, schema: dict[str, str]) -> ir.Table:
            return con.table(name) if name in names else ibis.memtable([], schema=schema)

        def nonempty(name: str) -> ir.Table | None:
            if name not in names:
                return None
            t = con.table(name)
            return t if t.count().execute() > 0 else None

        def core(name: str) -> ir.Table:
            return counting(listed, name, rules)

        claims = core("claims")
        lines = con.table("claim_lines")
        return cls(
            con=con, resources=con.table("resources"), activities=core("activities"),
            consumables=core("consumables"), encounters=core("encounters"),
            organizations=con.table("organizations"),
            care_cycles=opt("care_cycles", CARE_CYCLES_SCHEMA),
            cycle_events=opt("cycle_events", CYCLE_EVENTS_SCHEMA),
            segments=nonempty("segments"), cycle_flags=nonempty("cycle_flags"),
            claims=claims, claim_lines=lines.semi_join(claims, lines.claim_id == claims.claim_id),
            procedures=core("procedures"), medications=core("medications"),
            conditions=core("conditions"), observations=core("observations"),
        )


# --------------------------------------------------------------------------- attribution
def encounter_cycles(inp: Inputs) -> ir.Table:
    """encounter_id -> the one cycle it is cost-bearing in, with its phase and the cycle's facts, and
    the encounter's class and facility: one row per counted encounter or cost-bearing cycle
    encounter, so activities, consumables and charges get both in one join."""
    e = inp.cycle_events
    e = e.filter((e.event_table == "encounters") & e.cost_bearing.fill_null(False))
    e = e.select(encounter_id=e.encounter_id.fill_null(e.event_id), cycle_id=e.cycle_id, phase=e.phase)
    e = e.group_by("encounter_id").aggregate(cycle_id=e.cycle_id.min(), phase=e.phase.min())
    c = inp.care_cycles
    ec = e.join(c, e.cycle_id == c.cycle_id).select(
        e.encounter_id, e.cycle_id, e.phase, condition=c.condition, cycle_type=c.cycle_type,
        cycle_organization_id=c.organization_id)
    en = inp.encounters
    en = en.select(_eid=en.encounter_id, encounter_class=en.class_code, encounter_organization_id=en.organization_id)
    j = ec.outer_join(en, ec.encounter_id == en._eid)
    return j.select(encounter_id=j.encounter_id.fill_null(j._eid), cycle_id=j.cycle_id, phase=j.phase,
                    condition=j.condition, cycle_type=j.cycle_type, cycle_organization_id=j.cycle_organization_id,
                    encounter_class=j.encounter_class, encounter_organization_id=j.encounter_organization_id)


def attribute(t: ir.Table, ts: ir.Value, inp: Inputs, enc_cycles: ir.Table) -> ir.Table:
    """Add cycle_id, condition, cycle_type, event_phase, attribution (and the encounter's class and
    facility, ``encounter_class`` and ``encounter_organization_id``) to rows with patient/encounter ids.

    attribution is 'cycle' (through a cost-bearing encounter), 'segment' (the patient's
    primary-care segment on that date; pseudo-cycle id 'segment:<segment>:<patient>:<year>') or
    'unattributed'.
    """
    t = t.mutate(_ts=ts)
    j = t.left_join(enc_cycles, t.encounter_id == enc_cycles.encounter_id).select(
        t, cycle_id=enc_cycles.cycle_id, condition=enc_cycles.condition,
        cycle_type=enc_cycles.cycle_type, event_phase=enc_cycles.phase,
        cycle_organization_id=enc_cycles.cycle_organization_id, encounter_class=enc_cycles.encounter_class,
        encounter_organization_id=enc_cycles.encounter_organization_id)
    if inp.segments is None:
        return j.mutate(attribution=ibis.ifelse(j.cycle_id.isnull(), "unattributed", "cycle")).drop("_ts")
    s = inp.segments
    day = j._ts.date()
    # Only comparisons in the join condition, so the backend hashes on the patient and checks the
    # dates per candidate (an OR or IS NULL there makes DuckDB compare every row with every
    # interval): rows already in a cycle get a null key, which matches nothing; an open interval
    # ends at the last representable day.
    key = ibis.ifelse(j.cycle_id.isnull(), j.patient_id, ibis.null("string"))
    k = j.left_join(
        s, [key == s.patient_id, s.valid_from <= day, day < s.valid_to.fill_null(OPEN_END)],
    ).select(j, segment=s.segment)
    seg_id = ("segment:" + k.segment + ":" + k.patient_id + ":" + k._ts.year().cast("string"))
    return k.mutate(
        attribution=ibis.cases((k.cycle_id.notnull(), "cycle"), (k.segment.notnull(), "segment"),
                               else_="unattributed"),
        cycle_id=k.cycle_id.fill_null(seg_id),
        condition=k.condition.fill_null(k.segment),
        cycle_type=k.cycle_type.fill_null(ibis.ifelse(k.segment.notnull(), "segment", ibis.null("string"))),
    ).drop("_ts", "segment")


# --------------------------------------------------------------------------- time equations
def _patient_codes(inp: Inputs) -> ir.Table:
    """(patient_id, system, code, ts) of everything (that counts) that can switch a pathway flag on."""
    c, o, p = inp.conditions, inp.observations, inp.procedures
    parts = [
        c.select(c.patient_id, system=c.code_system, code=c.code, ts=c.onset_ts.fill_null(c.recorded_ts)),
        o.select(o.patient_id, system=o.code_system, code=o.code, ts=o.effective_ts),
        o.select(o.patient_id, system=o.value_code_system, code=o.value_code, ts=o.effective_ts),
        p.select(p.patient_id, system=p.code_system, code=p.code, ts=p.start_ts),
    ]
    return ibis.union(*parts)


def cycle_flag_extras(inp: Inputs, mt: MapTables) -> tuple[ir.Table, ir.Table | None]:
    """Extra standard minutes per (cycle_id, step_code, role) from the flags on in each cycle.

    A flag is on in a condition cycle when a coded record of the patient matching one of the
    flag's codes is dated on or before the cycle end (or undated), or the store table
    ``cycle_flags`` says so; for segment years, when the patient has such a record at any time.
    Returns (extras by cycle, extras by patient and segment or None).
    """
    codes = _patient_codes(inp)
    fc = mt.flag_codes
    hits = codes.join(fc, [codes.code == fc.code, fc.system.isnull() | (codes.system == fc.system)]).select(
        codes.patient_id, codes.ts, fc.applies_to, fc.flag)
    cy = inp.care_cycles
    on = hits.join(cy, [hits.patient_id == cy.patient_id, hits.applies_to == cy.condition,
                        hits.ts.isnull() | cy.end_ts.isnull() | (hits.ts <= cy.end_ts)]).select(
        cy.cycle_id, applies_to=cy.condition, flag=hits.flag)
    if inp.cycle_flags is not None:
        cf = inp.cycle_flags.join(cy, "cycle_id").select("cycle_id", applies_to=cy.condition, flag=inp.cycle_flags.flag)
        on = on.union(cf)
    on = on.distinct()
    v = mt.variations
    ex = on.join(v, [on.applies_to == v.applies_to, on.flag == v.flag]).group_by(
        on.cycle_id, v.step_code, v.role).aggregate(extra_minutes=v.extra_minutes.sum())
    if inp.segments is None:
        return ex, None
    pf = hits.select("patient_id", "applies_to", "flag").distinct()
    pex = pf.join(v, [pf.applies_to == v.applies_to, pf.flag == v.flag]).group_by(
        pf.patient_id, pf.applies_to, v.step_code, v.role).aggregate(extra_minutes=v.extra_minutes.sum())
    return ex, pex


# --------------------------------------------------------------------------- activity costs
def activity_costs(inp: Inputs, rates: ir.Table, mt: MapTables, enc_cycles: ir.Table | None = None) -> ir.Table:
    """One row per activity: rate, minutes used (recorded or standard), labour cost, cycle, phase.
    ``enc_cycles`` is :func:`encounter_cycles` (computed here when not given; the stage passes it
    materialised once for activities, consumables and charges)."""
    enc_cycles = encounter_cycles(inp) if enc_cycles is None else enc_cycles
    a = inp.activities
    a = attribute(a, a.start_ts, inp, enc_cycles)
    r = rates
    a = a.left_join(r, a.resource_id == r.resource_id).select(
        a, role=r.role, resource_type=r.resource_type,
        resource_organization_id=r.organization_id, rate_per_minute=r.rate_per_minute)
    st = mt.steps
    a = a.left_join(st, [a.condition == st.applies_to, a.step_code == st.step_code, a.role == st.role]).select(
        a, st.step_phase, st.setting, st.base_minutes, st.least_cost_role, st.routine, st.low_value)
    ex, pex = cycle_flag_extras(inp, mt)
    a = a.left_join(ex, [a.cycle_id == ex.cycle_id, a.step_code == ex.step_code, a.role == ex.role]).select(
        a, extra=ex.extra_minutes)
    if pex is not None:
        seg_key = ibis.ifelse(a.attribution == "segment", a.patient_id, ibis.null("string"))
        a = a.left_join(pex, [seg_key == pex.patient_id,
                              a.condition == pex.applies_to, a.step_code == pex.step_code,
                              a.role == pex.role]).select(a, pextra=pex.extra_minutes)
        a = a.mutate(extra=a.extra.fill_null(a.pextra)).drop("pextra")
    standard = a.base_minutes + a.extra.fill_null(0.0)
    minutes = a.minutes.fill_null(standard)
    out = a.select(
        "activity_id", "patient_id", "encounter_id", "resource_id", "role", "resource_type",
        "step_code", "start_ts", "cycle_id", "condition", "cycle_type", "attribution",
        "cycle_organization_id", "encounter_class", "setting", "least_cost_role", "routine",
        "low_value", "rate_per_minute",
        facility_id=a.resource_organization_id.fill_null(a.encounter_organization_id).fill_null(a.cycle_organization_id),
        # The service decides the phase (surgery is intervening even in a same-day encounter the
        # cycle builder put in rehab); the encounter's phase only where the step is not in a map.
        phase=a.step_phase.fill_null(a.event_phase).fill_null("unassigned"),
        phase_source=ibis.cases((a.step_phase.notnull(), "step"), (a.event_phase.notnull(), "encounter"),
                                else_="none"),
        recorded_minutes=a.minutes,
        standard_minutes=standard,
        minutes_source=ibis.cases((a.minutes.notnull(), "recorded"), (standard.notnull(), "standard"),
                                  else_="missing"),
        minutes=minutes.fill_null(0.0),
    )
    return out.mutate(labour_cost=out.minutes * out.rate_per_minute.fill_null(0.0))


# --------------------------------------------------------------------------- consumables and charges
def consumable_phases(cons: ir.Table, acts: ir.Table) -> ir.Table:
    """consumable_id -> the phase of the service it was used in: the process-map step of the same
    encounter performed closest in time to its use (ties: the step with more minutes, then the
    earlier phase name). An implant used at a same-day surgery takes the surgery's phase."""
    a = acts.filter(acts.encounter_id.notnull() & (acts.phase_source == "step"))
    a = a.select(a_enc=a.encounter_id, a_ts=a.start_ts, a_phase=a.phase, a_min=a.minutes)
    c = cons.select("consumable_id", c_enc=cons.encounter_id, c_ts=cons.used_ts)
    j = c.join(a, c.c_enc == a.a_enc)
    gap = (j.c_ts.epoch_seconds() - j.a_ts.epoch_seconds()).abs().fill_null(2**62)
    j = j.mutate(_gap=gap)
    w = ibis.window(group_by=j.consumable_id, order_by=[j._gap, ibis.desc(j.a_min), j.a_phase])
    ranked = j.mutate(_rank=ibis.row_number().over(w))
    return ranked.filter(ranked._rank == 0).select("consumable_id", service_phase=ranked.a_phase)


def consumable_costs(inp: Inputs, acts: ir.Table | None = None, enc_cycles: ir.Table | None = None) -> ir.Table:
    """One row per consumable use at acquisition cost, in the phase of the service it was used in
    (see :func:`consumable_phases`; the encounter's phase when no mapped step shares its encounter)."""
    c = inp.consumables
    enc_cycles = encounter_cycles(inp) if enc_cycles is None else enc_cycles
    c = attribute(c, c.used_ts, inp, enc_cycles)
    if acts is not None:
        sp = consumable_phases(inp.consumables, acts)
        c = c.left_join(sp, c.consumable_id == sp.consumable_id).select(c, sp.service_phase)
    else:
        c = c.mutate(service_phase=ibis.null("string"))
    return c.select(
        "consumable_id", "patient_id", "encounter_id", "cycle_id", "condition", "cycle_type",
        "attribution", "cycle_organization_id",
        facility_id=c.encounter_organization_id.fill_null(c.cycle_organization_id),
        phase=c.service_phase.fill_null(c.event_phase).fill_null("unassigned"),
        consumables_cost=c.quantity * c.unit_cost,
    )


def charges(inp: Inputs, enc_cycles: ir.Table | None = None) -> ir.Table:
    """Charges per encounter (claims; procedure/medication charges where no claim): never costs."""
    cl, ln = inp.claims, inp.claim_lines
    lines = ln.group_by("claim_id").aggregate(line_charge=ln.charge_amount.sum())
    cl = cl.left_join(lines, cl.claim_id == lines.claim_id).select(
        cl.patient_id, cl.encounter_id, ts=cl.service_start,
        amount=cl.total_charge.fill_null(lines.line_charge))
    claimed = cl.filter(cl.encounter_id.notnull()).select(claimed_encounter=cl.encounter_id).distinct()
    pr, md = inp.procedures, inp.medications
    other = ibis.union(
        pr.select(pr.patient_id, pr.encounter_id, ts=pr.start_ts, amount=pr.charge_amount),
        md.select(md.patient_id, md.encounter_id, ts=md.authored_ts, amount=md.charge_amount),
    )
    other = other.filter(other.amount.notnull()).anti_join(claimed, other.encounter_id == claimed.claimed_encounter)
    ch = ibis.union(cl.filter(cl.amount.notnull()), other)
    enc_cycles = encounter_cycles(inp) if enc_cycles is None else enc_cycles
    ch = attribute(ch, ch.ts, inp, enc_cycles)
    return ch.select(
        "patient_id", "cycle_id", "condition", "cycle_type", "attribution", "cycle_organization_id",
        facility_id=ch.encounter_organization_id.fill_null(ch.cycle_organization_id),
        phase=ch.event_phase.fill_null("unassigned"), charges=ch.amount)


def cost_source_shares(totals: ir.Table, by: Sequence[str] = ()) -> ir.Table:
    """Cycles and their share per cost source (recorded minutes, standard times, charges only,
    not costed), within each group of ``by`` (e.g. ``("condition",)``), from ``cycle_cost_totals``:
    the sentence "62% of cycles costed from recorded minutes" for the report and CLI."""
    keys = [*by, "cost_source"]
    g = totals.group_by(keys).aggregate(cycles=totals.count(), patients=totals.patient_id.nunique())
    w = ibis.window(group_by=[g[k] for k in by]) if by else ibis.window()
    g = g.mutate(share=g.cycles / g.cycles.sum().over(w))
    return g.order_by([*by, "cost_source"])


# --------------------------------------------------------------------------- the stage
def build(con: BaseBackend, maps: Sequence[ProcessMap], policy: CostingPolicy,
          rules: RecordRules) -> dict[str, ir.Table]:
    """The costing expressions from the library's process maps, costing policy and record rules
    (nothing executed except small data-presence checks)."""
    inp = Inputs.from_backend(con, rules)
    mt = map_tables(maps)
    rates = capacity_cost_rates(inp.resources, policy)
    acts = activity_costs(inp, rates, mt)
    cons = consumable_costs(inp, acts)
    lines = cost_lines(acts, cons, charges(inp))
    return {"capacity_cost_rates": rates, "activity_costs": acts, "cycle_costs": cycle_costs(lines),
            "cycle_cost_totals": cycle_cost_totals(lines, acts, cons, inp.care_cycles)}


