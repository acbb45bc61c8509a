"""Value per provider and condition: each measure's risk-adjusted outcome beside cost per cycle.

Outcomes are never collapsed into one index: one row per provider × condition × measure (time
point, scale), carrying the comparison's interval and flags and the TDABC cost of the same
provider's cycles, each with the patients behind it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def comparison_patients(comparison: ir.Table, values: ir.Table) -> ir.Table:
    """``comparison`` with ``patients``: distinct patients of the outcome values behind each row."""
    keys = ["condition", "measure", "time_point", "scale", "organization_id"]
    v = values.mutate(time_point=values.time_point.fill_null(""), scale=values.scale.fill_null(""))
    per = v.group_by(keys).aggregate(patients=v.patient_id.nunique())
    c = comparison.mutate(_tp=comparison.time_point.fill_null(""), _sc=comparison.scale.fill_null(""))
    j = c.left_join(per, [c.condition == per.condition, c.measure == per.measure, c._tp == per.time_point,
                          c._sc == per.scale, c.organization_id == per.organization_id])
    cols = [c[name] for name in comparison.columns if name != "patients"]
    return j.select(*cols, patients=j.patients.cast("int64"))


def value_table(comparison: ir.Table, totals: ir.Table) -> ir.Table:
    """One row per provider × condition × measure with outcome and cost side by side."""
    cmp = comparison.filter(comparison.organization_id.notnull())
    cost = totals.group_by("condition", "organization_id").aggregate(
        cost_patients=totals.patient_id.nunique().cast("int64"), cycles=totals.count().cast("int64"),
        cost_per_cycle=totals.total_cost.mean(), charges_per_cycle=totals.charges.mean())
    j = cmp.left_join(cost, [cmp.condition == cost.condition, cmp.organization_id == cost.organization_id])
    out = j.select(
        cmp.condition, cmp.organization_id, cmp.measure, cmp.time_point, cmp.scale, cmp.statistic,
        outcome_patients=cmp.patients, oe=cmp.oe, ci_low=cmp.ci_low, ci_high=cmp.ci_high,
        adjusted_rate=cmp.adjusted_rate, flag_95=cmp.flag_95, flag_998=cmp.flag_998, status=cmp.status,
        cost_patients=j.cost_patients, cycles=j.cycles, cost_per_cycle=j.cost_per_cycle,
        charges_per_cycle=j.charges_per_cycle)
    return out.mutate(patients=ibis.least(out.outcome_patients, out.cost_patients))
