"""The payment stage: simulate every payment model on the store's care cycles and write the
declared payment tables (the ledger, bundle prices, episode reconciliation)."""

from __future__ import annotations

from dataclasses import dataclass

from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.loader import Library
from carevalue.engine.payment.run import as_tables, simulate_store, tables
from carevalue.engine.payment.simulate import Options
from carevalue.pipeline.stage import StageContext, StageError, StageResult

NAME = "payment"
READS = ("cycle_cost_totals", "care_cycles", "cycle_events", "activity_costs", "claims", "claim_lines", "encounters",
         "procedures", "conditions", "observations", "patient_risk_scores", "prom_scores", "outcome_values")
WRITES = ("payment_ledger", "bundle_prices", "episode_reconciliation")


def run_payment(con: BaseBackend, library: Library, opt: Options | None = None) -> dict[str, int]:
    """Write the payment tables; return rows per table."""
    names = set(con.list_tables())
    missing = [t for t in ("cycle_cost_totals", "activity_costs", "cycle_events", "claims") if t not in names]
    if missing:
        raise StageError(f"payment needs {missing}: run `carevalue run --store ...` (costing) first")
    out = tables(simulate_store(con, library, opt, names=names))
    for name, table in as_tables(out).items():
        write_table(con, name, table)
    return {name: len(frame) for name, frame in out.items()}


@dataclass
class PaymentStage:
    name: str = NAME
    reads: tuple[str, ...] = ("cycle_cost_totals", "care_cycles", "cycle_events", "activity_costs",
                              "patient_risk_scores", "outcome_values")
    writes: tuple[str, ...] = WRITES

    def run(self, ctx: StageContext) -> StageResult:
        rows = run_payment(ctx.con, ctx.library)
        return StageResult(self.name, rows, [f"payment: {n} {k:,}" for n, k in rows.items()])


STAGE = PaymentStage()
