"""A bundle's exclusions applied by the engine: care for unrelated trauma inside the Stockholm window
is carved out and paid fee-for-service beside the price; a patient with an eligibility-excluding
diagnosis is paid fee-for-service for the whole cycle, and both are counted."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest

from carevalue.definitions.base import CodeGroup
from carevalue.definitions.loader import load
from carevalue.engine.payment.exclusions import bundle_exclusions
from carevalue.engine.payment.simulate import simulate

LIB = load()
BUNDLE = LIB.get("bundles", "stockholm-hip-knee")
T0 = datetime(2024, 3, 1)


def _con() -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    # p1: a hip fracture (S72.001A) 30 days after the index (inside the 91-day window) and a wrist
    # fracture at day 200 (outside it); p2: nothing excluded; p3: breast cancer before the index.
    con.create_table("conditions", pd.DataFrame({
        "condition_id": ["x1", "x2", "x3"], "patient_id": ["p1", "p1", "p3"], "encounter_id": ["e1", "e2", "e3"],
        "code_system": "ICD-10-CM", "code": ["S72.001A", "S62.101A", "C50.911"],
        "onset_ts": [T0 + timedelta(days=30), T0 + timedelta(days=200), T0 - timedelta(days=400)],
        "recorded_ts": pd.NaT}))
    con.create_table("activity_costs", pd.DataFrame({"encounter_id": ["e1", "e2"], "labour_cost": [1500.0, 900.0]}))
    con.create_table("claims", pd.DataFrame({"claim_id": ["k1", "k2"], "encounter_id": ["e1", "e2"],
                                             "total_charge": [2000.0, 1100.0]}))
    return con


def _cycles(con: ibis.BaseBackend) -> ibis.Table:
    return ibis.memtable(pd.DataFrame({"cycle_id": ["c1", "c2", "c3"], "patient_id": ["p1", "p2", "p3"],
                                       "condition": "hip-osteoarthritis", "index_ts": T0}))


def test_trauma_inside_the_window_is_carved_out_and_outside_it_is_not() -> None:
    out = bundle_exclusions(_con(), _cycles(_con()), [BUNDLE])
    assert out is not None
    rows = out.execute().set_index("cycle_id")
    assert list(rows.index) == ["c1"]
    assert rows.loc["c1", "excluded_cost"] == 1500 and rows.loc["c1", "excluded_charges"] == 2000
    assert rows.loc["c1", "exclusions"] == "unrelated-trauma" and not rows.loc["c1", "eligibility_excluded"]


def test_an_eligibility_exclusion_makes_the_whole_cycle_ineligible() -> None:
    cancer = BUNDLE.model_copy(update={"eligibility": BUNDLE.eligibility.model_copy(
        update={"exclusions": [CodeGroup(system="ICD-10-CM", codes=["C*"])]})})
    rows = bundle_exclusions(_con(), _cycles(_con()), [cancer]).execute().set_index("cycle_id")
    assert bool(rows.loc["c3", "eligibility_excluded"]) and rows.loc["c3", "excluded_charges"] == 0
    assert not bool(rows.loc["c1", "eligibility_excluded"])


def _frame(n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    cost = rng.uniform(9000, 14000, n)
    return pd.DataFrame({
        "cycle_id": [f"c{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
        "condition": "hip-osteoarthritis", "cycle_type": "acute", "organization_id": "a", "year": 2024,
        "cost": cost, "charges": 18000.0, "consumables": 0.0, "cost_w91": cost, "charges_w91": 18000.0,
        "cost_w30": cost, "charges_w30": 18000.0, "asa": 2.0, "hcc_score": 1.0,
        "excluded_cost": [1500.0] + [0.0] * (n - 1), "excluded_charges": [2000.0] + [0.0] * (n - 1),
        "exclusions": ["unrelated-trauma"] + [None] * (n - 1),
        "eligibility_excluded": [False, True] + [False] * (n - 2)})


def test_the_bundle_pays_carved_out_care_at_ffs_and_excluded_cycles_ffs() -> None:
    """Cycle c0 had $2,000 of trauma care (cost $1,500) in the window: the price is estimated from the
    other care only and the payer adds the $2,000; c1 is eligibility-excluded: paid FFS ($18,000).
    With a flat risk factor (same ASA and HCC) every eligible cycle gets the same price
      price = mean over 19 eligible cycles of (cost_w91 − carved cost) × 1.05."""
    f = _frame()
    empty_w = pd.DataFrame(columns=["cycle_id", "encounter_id", "warranty", "day", "in_cycle", "extended",
                                    "covered_days", "extended_days", "cost", "charges"])
    res = simulate(f, empty_w, [BUNDLE], None, None, pd.DataFrame(columns=["cycle_id", "organization_id", "event"]))
    led = res.ledger.set_index("cycle_id")
    elig = f.index != 1
    expected = ((f.cost_w91 - f.excluded_cost)[elig].mean()) * 1.05
    assert res.prices[0].proposed_price == pytest.approx(expected)
    assert led.loc["c0", "bundle_paid"] == pytest.approx(expected + 2000)
    assert led.loc["c0", "excluded_care_paid"] == 2000
    assert led.loc["c1", "bundle_paid"] == 18000 and led.loc["c1", "bundle_eligible"] == False  # noqa: E712
    assert led.loc["c1", "bundle_ineligible_reason"] == "excluded diagnosis (eligibility)"
    p = res.prices[0]
    assert (p.ineligible, p.eligibility_excluded, p.carved_out, p.cycles) == (1, 1, 1, 19)
