"""Write the costing tables: capacity cost rates, activity costs, cycle costs and totals, capacity
use and cost-reduction opportunities (the expressions live in costing.py and cost_opportunities.py)."""

from __future__ import annotations

from collections.abc import Sequence

from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.process_map import (
    CostingPolicy,
    ProcessMap,
)
from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.capacity import capacity_use, data_periods
from carevalue.engine.cost_opportunities import cost_opportunities
from carevalue.engine.costing import (
    OUTPUT_TABLES,
    Inputs,
    build,
    charges,
    consumable_costs,
    cycle_cost_totals,
    cycle_costs,
)


def run_costing(con: BaseBackend, maps: Sequence[ProcessMap], policy: CostingPolicy,
                rules: RecordRules) -> dict[str, int]:
    """Write capacity_cost_rates, activity_costs, cycle_costs, cycle_cost_totals, cost_periods,
    capacity_use and cost_opportunities into the store from the library's process maps, costing
    policy and record rules (only records that count are costed); return their row counts."""
    exprs = build(con, maps, policy, rules)
    counts: dict[str, int] = {}
    for name in ("capacity_cost_rates", "activity_costs"):
        write_table(con, name, exprs[name])
    inp = Inputs.from_backend(con, rules)
    rates, acts = con.table("capacity_cost_rates"), con.table("activity_costs")
    cons, chg = consumable_costs(inp, acts), charges(inp)
    write_table(con, "cycle_costs", cycle_costs(acts, cons, chg))
    write_table(con, "cycle_cost_totals", cycle_cost_totals(acts, cons, chg, inp.care_cycles))
    write_table(con, "cost_periods", data_periods(acts, policy))
    periods = con.table("cost_periods")
    write_table(con, "capacity_use", capacity_use(acts, rates, policy, periods))
    opp = cost_opportunities(inp, acts, con.table("capacity_use"), policy, rates, periods)
    write_table(con, "cost_opportunities", opp)
    for name in OUTPUT_TABLES:
        counts[name] = int(con.table(name).count().execute())
    return counts
