"""Write the costing tables: capacity cost rates, activity costs, cycle costs and totals, capacity
use and cost-reduction opportunities (the expressions live in costing.py, cycle_costs.py and
cost_opportunities.py)."""

from __future__ import annotations

from collections.abc import Sequence

from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.process_map import (
    CostingPolicy,
    ProcessMap,
)
from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.capacity import capacity_cost_rates, capacity_use, data_periods
from carevalue.engine.cost_opportunities import cost_opportunities
from carevalue.engine.costing import (
    OUTPUT_TABLES,
    Inputs,
    activity_costs,
    charges,
    consumable_costs,
    encounter_cycles,
    map_tables,
)
from carevalue.engine.cycle_costs import cost_lines, cycle_cost_totals, cycle_costs
from carevalue.engine.cycles import row_counts, scratch

SCRATCH = ("_cost_encounter_cycles", "_cost_consumables", "_cost_charges")


def run_costing(con: BaseBackend, maps: Sequence[ProcessMap], policy: CostingPolicy,
                rules: RecordRules) -> dict[str, int]:
    """Write capacity_cost_rates, activity_costs, cycle_costs, cycle_cost_totals, cost_periods,
    capacity_use and cost_opportunities into the store from the library's process maps, costing
    policy and record rules (only records that count are costed); return their row counts.

    What several queries read is computed once, as a scratch table (in memory on DuckDB, dropped at
    the end): the encounter -> cycle map (activities, consumables and charges are attributed through
    it), consumable costs and charges, and the cost lines both cycle tables are summed from. Each
    written table is then one query, and the activities are scanned once for both cycle tables.
    """
    inp = Inputs.from_backend(con, rules)
    rates = write_table(con, "capacity_cost_rates", capacity_cost_rates(inp.resources, policy))
    enc = scratch(con, "_cost_encounter_cycles", encounter_cycles(inp))
    acts = write_table(con, "activity_costs", activity_costs(inp, rates, map_tables(maps), enc))
    cons = scratch(con, "_cost_consumables", consumable_costs(inp, acts, enc))
    chg = scratch(con, "_cost_charges", charges(inp, enc))
    lines = write_table(con, "cycle_costs", cycle_costs(cost_lines(acts, cons, chg)))
    write_table(con, "cycle_cost_totals", cycle_cost_totals(lines, acts, cons, inp.care_cycles))
    periods = write_table(con, "cost_periods", data_periods(acts, policy))
    cap = write_table(con, "capacity_use", capacity_use(acts, rates, policy, periods))
    write_table(con, "cost_opportunities", cost_opportunities(inp, acts, cap, policy, rates, periods))
    for name in SCRATCH:
        con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    return row_counts(con, OUTPUT_TABLES)  # one query for all seven tables
