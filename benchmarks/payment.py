"""Payment simulation time on a synthetic store: every cycle under every payment model.

    PYTHONPATH=src python benchmarks/payment.py --store demo-output/carevalue.duckdb

The store must have been through `carevalue run` (costing, risk scores, outcomes). Goal: ≤ 10 s for
the 20k-patient demo."""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    args = ap.parse_args()
    from carevalue.backends import connect
    from carevalue.definitions.loader import load
    from carevalue.pipeline.payment_stage import run_payment

    lib = load()
    con = connect(args.store)
    t0 = time.perf_counter()
    rows = run_payment(con, lib)
    seconds = time.perf_counter() - t0
    con.disconnect()
    print(f"| store | ledger rows (cycles) | seconds | cycles/s |\n|---|---|---|---|\n"
          f"| {args.store} | {rows['payment_ledger']:,} | {seconds:.1f} | {rows['payment_ledger'] / seconds:,.0f} |")


if __name__ == "__main__":
    main()
