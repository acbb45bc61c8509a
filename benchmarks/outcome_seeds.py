"""Acceptance of issue 5 over many seeds: are the planted better/worse arthroplasty providers
flagged, is no average provider flagged at 99.8%, and is the provider with the sicker case mix
flagged only before risk adjustment?

For each seed: synthetic population -> ingest (the resource types outcomes need) -> hip and knee
care cycles -> PROM scores, outcome values, case-mix -> provider comparison of 90-day
complications, hip and knee pooled (as CMS COMP-HIP-KNEE) and per joint. The planted truth is
read from truth/provider_effects.csv (odds ratio of complication per provider).

    .venv/bin/python benchmarks/outcome_seeds.py --patients 60000 --seeds 20
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from carevalue.planted_truth import outcome_store, planted_odds_ratios

CONDITIONS = ("hip-osteoarthritis", "knee-osteoarthritis")
MEASURE = "complications-90d"


def evaluate(table: pd.DataFrame, truth: pd.DataFrame) -> dict[str, object]:
    """One row of the acceptance table from a comparison table (one measure, one time point)."""
    t = table.merge(truth, on="organization_id", how="inner")
    better = t[t.odds_ratio < 1]
    worse = t[t.odds_ratio > 1]
    big_worse = worse[worse.n == worse.n.max()]
    small_worse = worse[worse.n < worse.n.max()]
    avg = t[t.odds_ratio == 1]
    sicker = t[t.note.str.contains("sicker", na=False)]

    def hit(rows: pd.DataFrame, col: str, flag: str) -> str:
        return "/".join("yes" if f == flag else "no" for f in rows[col]) or "-"

    return {
        "better@95": hit(better, "flag_95", "better"), "better@99.8": hit(better, "flag_998", "better"),
        "worse@95": hit(big_worse, "flag_95", "worse"), "worse@99.8": hit(big_worse, "flag_998", "worse"),
        "low-vol worse@95": hit(small_worse, "flag_95", "worse"),
        "avg flagged@99.8": int(avg.flag_998.isin(["better", "worse"]).sum()),
        "sicker crude@95": "/".join(sicker.crude_flag_95), "sicker adjusted@95": "/".join(sicker.flag_95),
        "c": round(float(t.c_statistic.iloc[0]), 3) if len(t) else None,
        "n": int(t.n.sum()), "O": int(t.observed.sum()),
    }


def main() -> None:
    from carevalue.engine import outcomes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=60_000)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="keep the stores in this folder")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.time()
        out = Path(tempfile.mkdtemp(prefix=f"outcome-seed{seed}-", dir=args.keep))
        con, tpls = outcome_store(args.patients, seed, out, CONDITIONS)
        truth = planted_odds_ratios(out, CONDITIONS[0])
        pooled = outcomes.compare_measure(con, tpls, MEASURE)
        for name, table in [("pooled", pooled)] + [
                (t.id.split("-")[0], outcomes.compare_measure(con, [t], MEASURE)) for t in tpls]:
            row = {"seed": seed, "comparison": name, **evaluate(table[table.status == "ok"], truth),
                   "seconds": round(time.time() - t0, 1)}
            rows.append(row)
            print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
        con.disconnect()
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    df = pd.DataFrame(rows)
    print("\nsummary over", args.seeds, "seeds of", args.patients, "patients")
    for name, g in df.groupby("comparison", sort=False):
        def share(col: str, flag: str = "yes", g: pd.DataFrame = g) -> str:
            return f"{(g[col] == flag).mean():.0%}"
        print(f"{name!s:7s} better@95 {share('better@95')}  better@99.8 {share('better@99.8')}  "
              f"worse@95 {share('worse@95')}  worse@99.8 {share('worse@99.8')}  "
              f"no avg flagged@99.8 {(g['avg flagged@99.8'] == 0).mean():.0%}  "
              f"sicker crude worse@95 {share('sicker crude@95', 'worse')}  "
              f"sicker adjusted as expected@95 {share('sicker adjusted@95', 'as expected')}")


if __name__ == "__main__":
    main()
