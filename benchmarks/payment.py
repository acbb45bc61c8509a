"""Payment simulation time: every cycle of a synthetic store under every payment model, and the
same cycles replicated to larger populations.

    PYTHONPATH=src python benchmarks/payment.py --store demo-output/carevalue.duckdb --scale 1000000

The store must have been through `carevalue run` (costing, risk scores, outcomes). Rows:
  * store, end to end: the money frames built by Ibis on the store (cycles, window splits, facility
    payments, exclusions, warranty events, PROM improvement) + the simulation of every model;
  * the simulation alone on the store's frames replicated k times (patients, cycles and warranty
    events copied with new ids, one cycle frame per patient copy) up to --scale patients.
Goals (issue 14): ≤ 10 s for the 20k-patient demo, ≤ 2 min for 1M patients' cycles."""

from __future__ import annotations

import argparse
import time

import pandas as pd


def _replicate(frame: pd.DataFrame, k: int, cols: tuple[str, ...]) -> pd.DataFrame:
    """k copies of the frame, the id columns suffixed with the copy number."""
    parts = []
    for i in range(k):
        c = frame.copy()
        for col in cols:
            if col in c:
                c[col] = c[col].astype(str) + f"#{i}"
        parts.append(c)
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--scale", type=int, nargs="*", default=[20_000, 1_000_000],
                    help="Populations (patients) to replicate the store's cycles to.")
    args = ap.parse_args()
    from carevalue.engine.payment.frame import money_frames
    from carevalue.engine.payment.run import (
        DEFAULT_EPISODE_MODEL,
        DEFAULT_TIME_BASED,
        complications,
    )
    from carevalue.engine.payment.simulate import simulate
    from carevalue.workspace import Workspace

    rows = []
    with Workspace.open(args.store) as ws:
        con, lib = ws.con, ws.library
        patients = int(con.table("patients").count().execute())
        bundles = list(lib.kind("bundles").values())
        tb = lib.kind("time-based-payments").get(DEFAULT_TIME_BASED)
        em = lib.kind("episode-models").get(DEFAULT_EPISODE_MODEL)
        fees = list(lib.kind("fee-schedules").values())
        t0 = time.perf_counter()
        frames = money_frames(con, list(lib.kind("conditions").values()), bundles,
                              [b.window_days for b in bundles] + ([em.post_anchor_days] if em else []), fees)
        comp = complications(con, [b.pricing.complication_measure for b in bundles if b.pricing.complication_measure])
        t_frames = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = simulate(frames.cycles, frames.warranty, bundles, tb, em, comp)
        t_sim = time.perf_counter() - t1
        rows.append((f"store ({patients:,} patients), end to end", patients, len(res.ledger), t_frames + t_sim,
                     f"frames {t_frames:.1f} s + simulation {t_sim:.1f} s"))
        for target in args.scale:
            k = max(1, round(target / patients))
            cyc = _replicate(frames.cycles, k, ("cycle_id", "patient_id"))
            war = _replicate(frames.warranty, k, ("cycle_id", "encounter_id"))
            cmp_ = _replicate(comp, k, ("cycle_id",))
            t2 = time.perf_counter()
            res = simulate(cyc, war, bundles, tb, em, cmp_)
            sec = time.perf_counter() - t2
            rows.append((f"simulation, cycles × {k}", patients * k, len(res.ledger), sec,
                         "frames replicated in memory (not timed)"))
    print("| run | patients | cycles | seconds | cycles/s | note |\n|---|---|---|---|---|---|")
    for name, pats, cycles, sec, note in rows:
        print(f"| {name} | {pats:,} | {cycles:,} | {sec:.1f} | {cycles / sec:,.0f} | {note} |")


if __name__ == "__main__":
    main()
