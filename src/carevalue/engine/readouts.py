"""Small aggregates the report (and other read-outs) show, computed in the backend from the store.

Every aggregate that describes patients carries a ``patients`` column (distinct patients behind
the row) so that small cells can be suppressed before anything is shown. Tables written by later
or optional stages (outcomes, costing) may be absent: callers ask :func:`has_tables` first.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.process_map import PHASES
from carevalue.engine.costing import phase_waterfall, provider_costs


def has_tables(con: BaseBackend, names: Iterable[str]) -> bool:
    return set(names) <= set(con.list_tables())


def _df(t: ir.Table) -> pd.DataFrame:
    return t.execute()


def _org_names(con: BaseBackend) -> ir.Table:
    o = con.table("organizations")
    return o.select(org_id=o.organization_id, facility=o.name, facility_type=o.type_code)


def with_facility_names(con: BaseBackend, df: pd.DataFrame, col: str = "organization_id") -> pd.DataFrame:
    """Add a ``facility`` column (organisation name, else its id) beside ``col``."""
    names = _df(_org_names(con)).set_index("org_id")["facility"]
    out = df.copy()
    out.insert(list(out.columns).index(col) + 1, "facility",
               out[col].map(names).fillna(out[col]).fillna("(none)"))
    return out


# --------------------------------------------------------------------------- 1. data
def ingest_reconciliation(con: BaseBackend) -> pd.DataFrame:
    """Per source file: records read, stored and quarantined, and whether read = stored + quarantined."""
    f = con.table("ingest_files")
    t = f.select("source", "format", "read", "stored", "quarantined").order_by("source")
    df = _df(t)
    df["reconciled"] = df["read"] == df["stored"] + df["quarantined"]
    return df


def quarantine_reasons(con: BaseBackend) -> pd.DataFrame:
    """Quarantined records by source file and reason, most frequent first."""
    q = con.table("quarantine")
    t = q.group_by("source", "reason").aggregate(records=q.count())
    return _df(t.order_by([ibis.desc("records"), "source", "reason"]))


# --------------------------------------------------------------------------- 2. organise
def data_as_of(con: BaseBackend) -> str | None:
    """The last encounter date in the store: the date "current" segment counts refer to."""
    e = con.table("encounters")
    v = e.aggregate(last=e.start_ts.max()).execute()["last"].iloc[0]
    return None if v is None or pd.isna(v) else pd.Timestamp(v).date().isoformat()


def cycles_by_condition_facility(con: BaseBackend) -> pd.DataFrame:
    """Care cycles and distinct patients per condition and attributed facility."""
    c = con.table("care_cycles")
    t = c.group_by("condition", "cycle_type", "organization_id").aggregate(
        cycles=c.count(), patients=c.patient_id.nunique())
    df = _df(t.order_by("condition", ibis.desc("cycles"), "organization_id"))
    return with_facility_names(con, df)


def segment_counts(con: BaseBackend, as_of: str) -> pd.DataFrame:
    """Patients per primary-care segment on one date."""
    from carevalue.engine.segments import segment_on

    s = segment_on(con, as_of)
    return _df(s.group_by("segment").aggregate(patients=s.patient_id.nunique()).order_by("segment"))


def segment_transition_counts(con: BaseBackend) -> pd.DataFrame:
    """Transitions between segments (from -> to), with the distinct patients who made each."""
    s = con.table("segment_transitions")
    t = s.group_by("from_segment", "to_segment").aggregate(
        transitions=s.count(), patients=s.patient_id.nunique())
    return _df(t.order_by(ibis.desc("transitions"), "from_segment", "to_segment"))


# --------------------------------------------------------------------------- 3. cost
def cost_patients(con: BaseBackend) -> ir.Table:
    """Distinct patients per condition and provider in the costed cycles."""
    t = con.table("cycle_cost_totals")
    return t.group_by("condition", "organization_id").aggregate(patients=t.patient_id.nunique())


def provider_cost_table(con: BaseBackend) -> pd.DataFrame:
    """costing.provider_costs (mean cost per cycle, phase means, charges) with patients and names."""
    rows = pd.DataFrame(provider_costs(con))
    if rows.empty:
        return rows
    pts = _df(cost_patients(con))
    df = rows.merge(pts, on=["condition", "organization_id"], how="left")
    types = _df(con.table("cycle_cost_totals").select("condition", "cycle_type").distinct())
    df = df.merge(types.drop_duplicates("condition"), on="condition", how="left")
    df = with_facility_names(con, df)
    lead = ["condition", "cycle_type", "organization_id", "facility", "patients", "cycles"]
    return df[lead + [c for c in df.columns if c not in lead]]


def phase_columns(df: pd.DataFrame) -> list[str]:
    return [p for p in (*PHASES, "unassigned") if p in df.columns]


def waterfall(con: BaseBackend, condition: str) -> tuple[pd.DataFrame, int]:
    """costing.phase_waterfall for a condition (all providers) and the patients behind it."""
    t = con.table("cycle_cost_totals")
    t = t.filter(t.condition == condition)
    n = int(t.patient_id.nunique().execute())
    return pd.DataFrame(phase_waterfall(con, condition)), n


def utilisation_by_facility_role(con: BaseBackend, year: int | None = None) -> tuple[pd.DataFrame, int | None]:
    """Used vs practical capacity per facility and role for one calendar year (the last full one
    covered by the data when not given), with the distinct patients the used minutes served."""
    u = con.table("capacity_use")
    years = _df(u.group_by("year").aggregate(practical=u.practical_capacity_minutes.sum(),
                                             used=u.used_minutes.sum()).order_by("year"))
    years = years[years["year"].notna() & (years["used"] > 0)]
    if years.empty:
        return pd.DataFrame(), None
    if year is None:
        full = years[years["practical"] >= 0.9 * years["practical"].max()]
        year = int((full if not full.empty else years)["year"].iloc[-1])
    u = u.filter(u.year == year)
    g = u.group_by("organization_id", "role").aggregate(
        resources=u.count(), used_minutes=u.used_minutes.sum(),
        practical_capacity_minutes=u.practical_capacity_minutes.sum(),
        capacity_cost=u.capacity_cost.sum(), unused_capacity_cost=u.unused_capacity_cost.sum())
    a = con.table("activity_costs")
    a = a.filter(a.start_ts.year() == year)
    r = con.table("capacity_cost_rates")
    pa = a.join(r, a.resource_id == r.resource_id).select(org=r.organization_id, rrole=r.role,
                                                          patient_id=a.patient_id)
    pa = pa.group_by("org", "rrole").aggregate(patients=pa.patient_id.nunique())
    g = g.left_join(pa, [g.organization_id == pa.org, g.role == pa.rrole]).select(
        g, patients=pa.patients.fill_null(0))
    g = g.mutate(utilisation=ibis.ifelse(g.practical_capacity_minutes > 0,
                                         g.used_minutes / g.practical_capacity_minutes,
                                         ibis.null("float64")))
    df = _df(g.order_by("organization_id", "role"))
    return with_facility_names(con, df), year


def top_opportunities(con: BaseBackend, limit: int = 20) -> pd.DataFrame:
    """The largest cost-reduction opportunities by money at stake.

    ``patients``: the opportunity's own patient count when costing stores one; otherwise the
    patients of its provider and condition; null for resource-level rows (unused capacity).
    """
    o = con.table("cost_opportunities")
    o = o.filter(o.money_at_stake > 0).order_by(ibis.desc("money_at_stake")).limit(limit)
    df = _df(o)
    if "patients" not in df.columns:
        pts = _df(cost_patients(con))
        df = df.merge(pts, on=["condition", "organization_id"], how="left")
        df.loc[df["condition"].isna(), "patients"] = pd.NA
    return with_facility_names(con, df)


def opportunity_totals(con: BaseBackend) -> pd.DataFrame:
    """Money at stake and number of opportunities per kind."""
    o = con.table("cost_opportunities")
    t = o.group_by("kind").aggregate(opportunities=o.count(), money_at_stake=o.money_at_stake.sum())
    return _df(t.order_by(ibis.desc("money_at_stake")))


# --------------------------------------------------------------------------- 4-5. outcomes and value
OUTCOME_TABLES = ("outcome_values", "outcome_comparison", "prom_scores")


def _first(cols: Iterable[str], *names: str) -> str | None:
    cols = list(cols)
    return next((n for n in names if n in cols), None)


def outcome_comparison(con: BaseBackend) -> pd.DataFrame:
    """The stored per-provider risk-adjusted comparison, columns normalised to condition, measure,
    provider, n (patients), observed, expected, oe_ratio, oe_lower, oe_upper and flags."""
    df = _df(con.table("outcome_comparison"))
    ren = {}
    prov = _first(df.columns, "provider", "organization_id", "provider_id")
    if prov and prov != "provider":
        ren[prov] = "provider"
    meas = _first(df.columns, "measure", "measure_id", "outcome_id")
    if meas and meas != "measure":
        ren[meas] = "measure"
    n = _first(df.columns, "n", "patients", "cycles")
    if n and n != "n":
        ren[n] = "n"
    return df.rename(columns=ren)


def headline_measures(comparison: pd.DataFrame, template_order: dict[str, list[str]]) -> dict[str, str]:
    """One measure per condition for funnel and value plots: the first outcome of the condition
    template (tier order) that has an O/E comparison with expected events."""
    out: dict[str, str] = {}
    if comparison.empty or "expected" not in comparison.columns:
        return out
    ok = comparison[comparison["expected"].fillna(0) > 0]
    for cond, g in ok.groupby("condition"):
        present = list(dict.fromkeys(g["measure"]))
        order = [m for m in template_order.get(str(cond), []) if m in present] or present
        if order:
            out[str(cond)] = order[0]
    return out


def outcome_value_summary(con: BaseBackend) -> pd.DataFrame:
    """Per condition and measure: cycles with a value, distinct patients, mean value."""
    t = con.table("outcome_values")
    cols = t.columns
    meas = _first(cols, "measure", "measure_id", "outcome_id")
    val = _first(cols, "value", "value_num", "numeric_value")
    if "condition" not in cols or meas is None:
        return pd.DataFrame()
    aggs = {"values": t.count(), "patients": t.patient_id.nunique()} if "patient_id" in cols else {
        "values": t.count()}
    if val is not None and t[val].type().is_numeric():
        aggs["mean_value"] = t[val].mean()
    g = t.group_by("condition", measure=t[meas]).aggregate(**aggs)
    return _df(g.order_by("condition", "measure"))


def prom_summary(con: BaseBackend) -> pd.DataFrame:
    """Per instrument (and scale/score name when stored): scores, distinct patients, mean score."""
    t = con.table("prom_scores")
    cols = t.columns
    inst = _first(cols, "instrument", "instrument_id")
    if inst is None:
        return pd.DataFrame()
    keys = [t[inst].name("instrument")]
    scale = _first(cols, "scale", "score_name", "subscale")
    if scale:
        keys.append(t[scale].name("scale"))
    score = _first(cols, "score", "value")
    aggs = {"scores": t.count()}
    if "patient_id" in cols:
        aggs["patients"] = t.patient_id.nunique()
    if score is not None and t[score].type().is_numeric():
        aggs["mean_score"] = t[score].mean()
    g = t.group_by(keys).aggregate(**aggs)
    return _df(g.order_by([k.get_name() for k in keys]))


def value_points(con: BaseBackend, comparison: pd.DataFrame, headline: dict[str, str]) -> pd.DataFrame:
    """Per condition and provider: the headline measure's risk-adjusted O/E beside mean cost per
    cycle, with the smaller of the two patient counts behind the point."""
    if comparison.empty or not headline or not has_tables(con, ["cycle_cost_totals"]):
        return pd.DataFrame()
    sel = pd.concat([comparison[(comparison["condition"] == c) & (comparison["measure"] == m)]
                     for c, m in headline.items()], ignore_index=True)
    t = con.table("cycle_cost_totals")
    cost = _df(t.group_by("condition", "organization_id").aggregate(
        cost_per_cycle=t.total_cost.mean(), cost_patients=t.patient_id.nunique()))
    df = sel.merge(cost, left_on=["condition", "provider"], right_on=["condition", "organization_id"],
                   how="inner")
    df["patients"] = df[["n", "cost_patients"]].min(axis=1)
    keep = [c for c in ("condition", "measure", "provider", "patients", "n", "oe_ratio", "oe_lower",
                        "oe_upper", "adjusted_rate", "cost_per_cycle", "flag_99_8", "flag_95",
                        "srtr_flag") if c in df.columns]
    return with_facility_names(con, df[keep], "provider")
