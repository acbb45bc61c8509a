"""Golden: the PROMETHEUS-style PAC-allowance case rate and the ProvenCare-style warranty price of
the Stockholm bundle on 24 hand-made hip cycles, and the index/complication margin split.

Provider A: 12 cycles, typical care only: cost 10,000, FFS pays 12,000.
Provider B: 6 such cycles + 6 with complication care inside the window: cost 10,000 + 6,000,
FFS pays 12,000 + 8,000 (readmission DRG and claims). Same ASA and HCC: risk factor 1.

  mean typical cost = 10,000; mean complication cost = 6 × 6,000 / 24 = 1,500
  PAC allowance (50%)  = 750;  case rate = (10,000 + 750) × 1.05 = 11,287.50
  warranty price (50%, 90 days, no stop-loss) = the same 11,287.50
  bundle price = mean included cost (10,000 + 1,500) × 1.05 = 12,075.00

Margin per cycle      A            B
  FFS               +2,000.00    (6 × 2,000 + 6 × 4,000) / 12 = +3,000.00
  bundle            +2,075.00    (6 × 2,075 + 6 × (12,075 − 16,000)) / 12 = −925.00
  PAC allowance     +1,287.50    (6 × 1,287.50 + 6 × (11,287.50 − 16,000)) / 12 = −1,712.50
Split for B under FFS: complication care earns 4,000 − 3,000 = +1,000 per cycle; under the case
rate it earns 0 − 3,000 = −3,000: the marginal incentive reverses."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from carevalue.definitions.loader import load
from carevalue.engine.payment.run import as_tables, tables
from carevalue.engine.payment.simulate import simulate
from carevalue.queries.payment import margin_split

LIB = load()
BUNDLE = LIB.get("bundles", "stockholm-hip-knee")
WARRANTY = pd.DataFrame(columns=["cycle_id", "encounter_id", "warranty", "day", "in_cycle", "extended",
                                 "covered_days", "extended_days", "cost", "charges"])


def _frame() -> pd.DataFrame:
    comp = [0.0] * 18 + [6000.0] * 6
    paid = [0.0] * 18 + [8000.0] * 6
    cost = [10000.0 + c for c in comp]
    charges = [12000.0 + p for p in paid]
    f = pd.DataFrame({
        "cycle_id": [f"c{i:02d}" for i in range(24)], "patient_id": [f"p{i:02d}" for i in range(24)],
        "condition": "hip-osteoarthritis", "cycle_type": "acute", "organization_id": ["a"] * 12 + ["b"] * 12,
        "year": 2024, "cost": cost, "charges": charges, "consumables": 0.0, "asa": 2.0, "hcc_score": 1.0,
        "excluded_cost": 0.0, "excluded_charges": 0.0, "exclusions": None, "eligibility_excluded": False})
    for w in (30, 90, 91):
        f[f"cost_w{w}"], f[f"charges_w{w}"] = cost, charges
        f[f"comp_cost_w{w}"], f[f"comp_paid_w{w}"] = comp, paid
    f["comp_cost_all"], f["comp_paid_all"] = comp, paid
    return f


def _run() -> pd.DataFrame:
    res = simulate(_frame(), WARRANTY, [BUNDLE], None, None, pd.DataFrame(columns=["cycle_id", "organization_id", "event"]))
    prices = {p.bundle: p for p in res.prices}
    pac, wp = prices["stockholm-hip-knee:pac"], prices["stockholm-hip-knee:warranty_price"]
    assert pac.expected_included_cost == pytest.approx(10000) and pac.warranty_reserve == pytest.approx(750)
    assert pac.proposed_price == pytest.approx(11287.50) and wp.proposed_price == pytest.approx(11287.50)
    assert prices["stockholm-hip-knee"].proposed_price == pytest.approx(12075)
    return res.ledger


def test_case_rate_and_warranty_price_worked_by_hand() -> None:
    led = _run()
    margin = led.assign(**{f"{m}_m": led[f"{m}_paid"] - led.cost for m in ("ffs", "bundle", "pac", "warranty_price")})
    by = margin.groupby("organization_id")[["ffs_m", "bundle_m", "pac_m", "warranty_price_m"]].mean()
    assert by.loc["a"].tolist() == pytest.approx([2000, 2075, 1287.5, 1287.5])
    assert by.loc["b"].tolist() == pytest.approx([3000, -925, -1712.5, -1712.5])
    assert led.complication_care_cost.sum() == 36000 and led.complication_care_paid.sum() == 48000


def test_care_after_the_policy_window_is_paid_fee_for_service() -> None:
    f = _frame()
    f.loc[0, ["charges", "cost"]] = [12500.0, 10300.0]  # $500 of follow-up care after day 91 (cost 300)
    res = simulate(f, WARRANTY, [BUNDLE], None, None, pd.DataFrame(columns=["cycle_id", "organization_id", "event"]))
    led = res.ledger.set_index("cycle_id")
    assert led.loc["c00", "pac_paid"] == pytest.approx(11287.50 + 500)
    assert led.loc["c00", "warranty_price_paid"] == pytest.approx(11287.50 + 500)


def test_margin_split_shows_the_marginal_incentive_reversing() -> None:
    mem = as_tables(tables(simulate(_frame(), WARRANTY, [BUNDLE], None, None,
                                    pd.DataFrame(columns=["cycle_id", "organization_id", "event"]))))
    rows = margin_split(ibis.duckdb.connect(), LIB, ledger=mem["payment_ledger"])
    b = {r["model"]: r for r in rows if r["organization_id"] == "b"}
    assert b["ffs"]["complication_revenue"] == 4000 and b["ffs"]["complication_cost"] == 3000
    assert b["ffs"]["complication_margin"] == 1000 and b["ffs"]["index_margin"] == 2000
    assert b["pac"]["complication_margin"] == -3000 and b["pac"]["index_margin"] == pytest.approx(1287.5)
    assert b["bundle"]["margin"] == pytest.approx(-925)


def test_complication_care_after_the_window_is_paid_fee_for_service_under_every_price() -> None:
    """c23 also has an SSI readmission on day 120 (cost 2,000, FFS 3,000; no warranty event):
    complication care of the cycle 8,000 / FFS 11,000, of which 3,000 falls after the windows and is
    paid FFS beside the bundle price, the case rate and the warranty price."""
    f = _frame()
    f.loc[23, ["cost", "charges", "comp_cost_all", "comp_paid_all"]] = [18000.0, 23000.0, 8000.0, 11000.0]
    led = simulate(f, WARRANTY, [BUNDLE], None, None,
                   pd.DataFrame(columns=["cycle_id", "organization_id", "event"])).ledger.set_index("cycle_id")
    row = led.loc["c23"]
    assert (row.complication_care_cost, row.complication_care_paid) == (8000, 11000)
    assert row.bundle_complication_paid == 3000 and row.pac_complication_paid == 3000
    assert row.warranty_price_complication_paid == 3000
    assert row.pac_paid == pytest.approx(row.pac_price + 3000)
