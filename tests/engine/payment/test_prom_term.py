"""The PROM improvement a PROM-contingent term reads: the latest score in the baseline window
(90 days before the index to the index) and in the follow-up window (270-365 days after)."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pandas as pd

from carevalue.definitions.loader import load
from carevalue.engine.payment.proms import prom_improvement

BUNDLE = load().get("bundles", "stockholm-hip-knee")
T0 = datetime(2024, 3, 1)


def test_improvement_and_threshold_per_cycle() -> None:
    """p1: HOOS JR 40 at day −30 (and 35 at day −200, outside the window), 70 at day 300 → +30 ≥ 22;
    p2: 50 → 60 (+10, not reached); p3: no follow-up → null; p4 (knee, KOOS JR 45 → 66) +21 ≥ 20."""
    d = timedelta(days=1)
    rows = [("p1", "hoos-jr", 35.0, T0 - 200 * d), ("p1", "hoos-jr", 40.0, T0 - 30 * d),
            ("p1", "hoos-jr", 70.0, T0 + 300 * d), ("p2", "hoos-jr", 50.0, T0 - 10 * d),
            ("p2", "hoos-jr", 60.0, T0 + 280 * d), ("p3", "hoos-jr", 30.0, T0 - 5 * d),
            ("p4", "koos-jr", 45.0, T0 - 20 * d), ("p4", "koos-jr", 66.0, T0 + 350 * d)]
    con = ibis.duckdb.connect()
    con.create_table("prom_scores", pd.DataFrame(rows, columns=["patient_id", "instrument", "score", "authored_ts"])
                     .assign(scale="score"))
    cycles = ibis.memtable(pd.DataFrame({
        "cycle_id": ["c1", "c2", "c3", "c4"], "patient_id": ["p1", "p2", "p3", "p4"],
        "condition": ["hip-osteoarthritis"] * 3 + ["knee-osteoarthritis"], "index_ts": T0}))
    expr = prom_improvement(con, cycles, [BUNDLE])
    assert expr is not None
    out = expr.execute().set_index("cycle_id")
    assert out.loc["c1", "prom_improvement"] == 30 and bool(out.loc["c1", "prom_reached"])
    assert out.loc["c2", "prom_improvement"] == 10 and not bool(out.loc["c2", "prom_reached"])
    assert pd.isna(out.loc["c3", "prom_improvement"]) and pd.isna(out.loc["c3", "prom_reached"])
    assert out.loc["c4", "prom_improvement"] == 21 and bool(out.loc["c4", "prom_reached"])


def test_two_scores_at_the_same_latest_time_give_the_lower_in_any_row_order() -> None:
    """Baseline 40 and 44 both at day −10 (the same latest time): the lower, 40, is the baseline
    whatever order the rows come in (as the case-mix PROM pick); follow-up 70 → +30."""
    d = timedelta(days=1)
    rows = [("p1", "hoos-jr", 44.0, T0 - 10 * d), ("p1", "hoos-jr", 40.0, T0 - 10 * d),
            ("p1", "hoos-jr", 38.0, T0 - 60 * d), ("p1", "hoos-jr", 70.0, T0 + 300 * d)]
    cycles = ibis.memtable(pd.DataFrame({"cycle_id": ["c1"], "patient_id": ["p1"],
                                         "condition": ["hip-osteoarthritis"], "index_ts": T0}))
    for order in (rows, rows[::-1], rows[1:] + rows[:1]):
        con = ibis.duckdb.connect()
        con.create_table("prom_scores", pd.DataFrame(order, columns=["patient_id", "instrument", "score",
                                                                     "authored_ts"]).assign(scale="score"))
        expr = prom_improvement(con, cycles, [BUNDLE])
        assert expr is not None
        out = expr.execute().set_index("cycle_id")
        assert (out.loc["c1", "prom_baseline"], out.loc["c1", "prom_improvement"]) == (40.0, 30.0)
