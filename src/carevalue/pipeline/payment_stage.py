"""The payment stage: simulate every payment model on the store's care cycles and write the
declared payment tables. ``pipeline/stage.py`` (the Stage protocol) is not in main yet, so this is
the plain function ``run_payment(con, library) -> dict[str, int]``."""

from __future__ import annotations

import ibis
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.loader import Library
from carevalue.engine.payment.run import simulate_store, tables
from carevalue.engine.payment.simulate import Options
from carevalue.model.payment import TABLES

_IBIS_TYPES = {"VARCHAR": "string", "DOUBLE": "float64", "BIGINT": "int64", "BOOLEAN": "boolean"}

NAME = "payment"
READS = ("cycle_cost_totals", "care_cycles", "cycle_events", "activity_costs", "claims", "procedures",
         "conditions", "observations", "patient_risk_scores", "outcome_values")
WRITES = ("payment_ledger", "bundle_prices", "episode_reconciliation")


def run_payment(con: BaseBackend, library: Library, opt: Options | None = None) -> dict[str, int]:
    """Write the payment tables; return rows per table."""
    missing = [t for t in ("cycle_cost_totals", "activity_costs", "cycle_events", "claims")
               if t not in set(con.list_tables())]
    if missing:
        raise RuntimeError(f"payment needs {missing}: run `carevalue run --store ...` (costing) first")
    out = tables(simulate_store(con, library, opt))
    declared = {t.name: t for t in TABLES}
    for name, frame in out.items():
        schema = {c.name: _IBIS_TYPES[c.type] for c in declared[name].columns}
        frame = frame.astype({c: ("Int64" if t == "int64" else "boolean" if t == "boolean" else
                                  "float64" if t == "float64" else "object") for c, t in schema.items()})
        frame = frame.astype(object).where(frame.notna(), None)
        write_table(con, name, ibis.memtable(frame, schema=schema))
    return {name: len(frame) for name, frame in out.items()}
