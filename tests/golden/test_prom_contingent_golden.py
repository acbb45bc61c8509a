"""PROM-contingent bundle payment (F24), worked by hand on the Stockholm bundle's term: 5% of the
price withheld, earned back in proportion to share / 80% (all of it at 80% or more), plus a bonus
of up to 2% of the price as the share rises from 80% to 100%; missing follow-up counts as not
reaching the threshold; fewer than 11 measured patients: the term is not applied.

Published price $8,000 (--reference-price), same ASA and HCC for everyone (risk factor 1):
  A: 20 cycles, 14 reached, 4 did not, 2 without follow-up → share 14/20 = 0.70
     fraction = −0.05 + 0.05 × 0.70/0.80 = −0.05 + 0.04375 = −0.00625 → −$50.00 per cycle
  B: 20 cycles, 18 reached, 2 did not → share 0.90
     fraction = −0.05 + 0.05 × 1 + 0.02 × (0.90 − 0.80)/0.20 = +0.01 → +$80.00 per cycle
  C: 20 cycles, 8 measured (all reached), 12 without follow-up → 8 < 11 measured: $0
With missing follow-up left out instead (missing: excluded), A's share is 14/18 = 0.7778:
  fraction = −0.05 + 0.05 × 0.7778/0.80 = −0.0013889 → −$11.11 per cycle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carevalue.definitions.loader import load
from carevalue.engine.payment.simulate import Options, prom_fraction, simulate

BUNDLE = load().get("bundles", "stockholm-hip-knee")
TERM = BUNDLE.prom_contingent


def _frame() -> pd.DataFrame:
    reached = ([True] * 14 + [False] * 4 + [None] * 2) + ([True] * 18 + [False] * 2) + ([True] * 8 + [None] * 12)
    n = len(reached)
    return pd.DataFrame({
        "cycle_id": [f"c{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
        "condition": "hip-osteoarthritis", "cycle_type": "acute",
        "organization_id": ["A"] * 20 + ["B"] * 20 + ["C"] * 20, "year": 2024,
        "cost": 9000.0, "charges": 15000.0, "consumables": 0.0, "cost_w91": 9000.0, "charges_w91": 15000.0,
        "cost_w30": 9000.0, "charges_w30": 15000.0, "asa": 2.0, "hcc_score": 1.0,
        "prom_reached": pd.array(reached, dtype="boolean"), "prom_improvement": np.nan})


def test_term_is_content_and_off_by_default() -> None:
    assert TERM is not None and not TERM.active
    assert (TERM.withhold, TERM.target_share, TERM.bonus, TERM.missing) == (0.05, 0.8, 0.02, "not-reached")
    assert {t.instrument: t.threshold for t in TERM.targets} == {"hoos-jr": 22, "koos-jr": 20}


def test_withhold_and_bonus_per_provider() -> None:
    empty_w = pd.DataFrame(columns=["cycle_id", "encounter_id", "warranty", "day", "in_cycle", "extended",
                                    "covered_days", "extended_days", "cost", "charges"])
    comp = pd.DataFrame(columns=["cycle_id", "organization_id", "event"])
    opt = Options(use_reference_price=True, prom_contingent=True)
    led = simulate(_frame(), empty_w, [BUNDLE], None, None, comp, opt).ledger
    by_org = led.groupby("organization_id")["prom_adjustment"].agg(["min", "max"])
    assert by_org.loc["A"].tolist() == pytest.approx([-50.0, -50.0])
    assert by_org.loc["B"].tolist() == pytest.approx([80.0, 80.0])
    assert by_org.loc["C"].tolist() == [0.0, 0.0]
    assert led.loc[led.organization_id == "B", "bundle_paid"].iloc[0] == pytest.approx(8080.0)
    # without the option the term stays off (active: false)
    off = simulate(_frame(), empty_w, [BUNDLE], None, None, comp, Options(use_reference_price=True)).ledger
    assert off.prom_adjustment.isna().all() and off.bundle_paid.iloc[0] == pytest.approx(8000.0)


def test_missing_follow_up_left_out() -> None:
    f = _frame()
    frac = prom_fraction(f[f.organization_id == "A"], TERM.model_copy(update={"missing": "excluded"}))
    assert frac.iloc[0] * 8000 == pytest.approx(-0.05 * 8000 + 0.05 * (14 / 18) / 0.8 * 8000)
    assert frac.iloc[0] * 8000 == pytest.approx(-11.111, abs=1e-3)
