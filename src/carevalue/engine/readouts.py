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


def top_opportunities(con: BaseBackend, per_kind: int = 5) -> pd.DataFrame:
    """The largest cost-reduction opportunities of each kind by money at stake.

    ``patients``: the opportunity's own patient count when costing stores one; otherwise the
    patients of its provider and condition; null for resource-level rows (unused capacity).
    """
    o = con.table("cost_opportunities")
    o = o.filter(o.money_at_stake > 0)
    o = o.mutate(_rank=ibis.row_number().over(group_by=o.kind, order_by=ibis.desc(o.money_at_stake)))
    o = o.filter(o._rank < per_kind).drop("_rank")
    df = _df(o.order_by(ibis.desc("money_at_stake")))
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


def outcome_comparison(con: BaseBackend) -> pd.DataFrame:
    """The stored risk-adjusted comparison (engine/outcome_comparison.py), columns normalised to
    provider, n (patients), oe_ratio, oe_lower, oe_upper, flag_99_8, and a readable ``measure_key``
    (measure, time point, scale). Rows without a provider are measure-level status rows."""
    df = _df(con.table("outcome_comparison"))
    df = df.rename(columns={"organization_id": "provider", "oe": "oe_ratio", "ci_low": "oe_lower",
                            "ci_high": "oe_upper", "flag_998": "flag_99_8",
                            "crude_flag_998": "crude_flag_99_8"})
    for c in ("time_point", "scale", "statistic"):
        if c not in df.columns:
            df[c] = None
    tp = df["time_point"].fillna("").astype(str)
    sc = df["scale"].fillna("").astype(str)
    df["measure_key"] = (df["measure"].astype(str) + tp.where(tp == "", " @ " + tp)
                         + sc.where(sc == "", " (" + sc + ")"))
    if "patients" not in df.columns:
        df["patients"] = _comparison_patients(con, df)
    return df


def _comparison_patients(con: BaseBackend, df: pd.DataFrame) -> pd.Series:
    """Distinct patients behind each provider row. ``n`` counts cycles (a chronic patient has one
    per year), so patients come from outcome_values for the same condition, measure, time point,
    scale and provider; the smaller of that and ``n`` is used (both bound the true count)."""
    n = pd.to_numeric(df["n"], errors="coerce") if "n" in df.columns else pd.Series(pd.NA, index=df.index)
    if not has_tables(con, ["outcome_values"]):
        return n
    v = con.table("outcome_values")
    keys = ["condition", "measure", "time_point", "scale", "organization_id"]
    if not set(keys) <= set(v.columns):
        return n
    g = v.group_by(condition=v.condition, measure=v.measure, time_point=v.time_point.fill_null(""),
                   scale=v.scale.fill_null(""), provider=v.organization_id).aggregate(
        value_patients=v.patient_id.nunique())
    pv = _df(g)
    left = df[["condition", "measure", "time_point", "scale", "provider"]].copy()
    left["time_point"] = left["time_point"].fillna("").astype(str)
    left["scale"] = left["scale"].fillna("").astype(str)
    m = left.merge(pv, on=["condition", "measure", "time_point", "scale", "provider"], how="left")
    m.index = df.index
    return pd.concat([n, pd.to_numeric(m["value_patients"], errors="coerce")], axis=1).min(axis=1)


def headline_measures(comparison: pd.DataFrame, template_order: dict[str, list[str]],
                      min_expected: float = 10.0) -> dict[str, str]:
    """One measure_key per condition for funnel and value plots: the first outcome of the
    condition template (tier order) compared as O/E of events with at least ``min_expected``
    expected events over all providers (at its time point with the most), else the one with most."""
    out: dict[str, str] = {}
    if comparison.empty or "expected" not in comparison.columns:
        return out
    ok = comparison[comparison["provider"].notna() & (comparison["expected"].fillna(0) > 0)
                    & comparison["statistic"].fillna("").astype(str).str.startswith("O/E")]
    for cond, g in ok.groupby("condition"):
        exp = g.groupby(["measure", "measure_key"])["expected"].sum().reset_index()
        rank = {m: i for i, m in enumerate(template_order.get(str(cond), []))}
        exp["order"] = exp["measure"].map(rank).fillna(len(rank))
        big = exp[exp["expected"] >= min_expected]
        pick = (big.sort_values(["order", "expected"], ascending=[True, False]) if not big.empty
                else exp.sort_values("expected", ascending=False))
        out[str(cond)] = str(pick["measure_key"].iloc[0])
    return out


def outcome_value_summary(con: BaseBackend) -> pd.DataFrame:
    """Per condition, measure, time point and scale: values computed, distinct patients, mean value
    and events (for binary and time-to-event measures)."""
    t = con.table("outcome_values")
    keys = [k for k in ("condition", "measure", "time_point", "scale") if k in t.columns]
    aggs: dict[str, ir.Value] = {"values": t.count(), "patients": t.patient_id.nunique()}
    if "value" in t.columns:
        aggs["mean_value"] = t.value.mean()
    if "event" in t.columns:
        aggs["events"] = t.event.sum()
    return _df(t.group_by(keys).aggregate(**aggs).order_by(keys))


def prom_summary(con: BaseBackend) -> pd.DataFrame:
    """Per instrument and scale: scored questionnaires, distinct patients, mean score."""
    t = con.table("prom_scores")
    if "status" in t.columns:
        t = t.filter(t.status == "scored")
    keys = [k for k in ("instrument", "scale") if k in t.columns]
    g = t.group_by(keys).aggregate(scores=t.count(), patients=t.patient_id.nunique(),
                                   mean_score=t.score.mean())
    return _df(g.order_by(keys))


def value_points(con: BaseBackend, comparison: pd.DataFrame, headline: dict[str, str]) -> pd.DataFrame:
    """Per condition and provider: the headline measure's risk-adjusted O/E beside mean cost per
    cycle, with the smaller of the two patient counts behind the point."""
    if comparison.empty or not headline or not has_tables(con, ["cycle_cost_totals"]):
        return pd.DataFrame()
    sel = pd.concat([comparison[(comparison["condition"] == c) & (comparison["measure_key"] == m)
                                & comparison["provider"].notna()]
                     for c, m in headline.items()], ignore_index=True)
    t = con.table("cycle_cost_totals")
    cost = _df(t.group_by("condition", "organization_id").aggregate(
        cost_per_cycle=t.total_cost.mean(), cost_patients=t.patient_id.nunique()))
    df = sel.merge(cost, left_on=["condition", "provider"], right_on=["condition", "organization_id"],
                   how="inner")
    df["patients"] = df[["patients", "cost_patients"]].min(axis=1)
    keep = [c for c in ("condition", "measure_key", "provider", "patients", "n", "oe_ratio", "oe_lower",
                        "oe_upper", "adjusted_rate", "cost_per_cycle", "flag_99_8", "flag_95",
                        "srtr_flag") if c in df.columns]
    return with_facility_names(con, df[keep], "provider")
