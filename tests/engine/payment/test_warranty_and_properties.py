"""Who pays for a revision (the provider inside the warranty, the payer beyond it) and the
invariants of the payment models, as hypothesis properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from carevalue.definitions.loader import load
from carevalue.engine.payment.episode import reconcile
from carevalue.engine.payment.simulate import settle_warranty, simulate

LIB = load()
BUNDLE = LIB.get("bundles", "stockholm-hip-knee")
TB = LIB.get("time-based-payments", "porter-primary-care-pmpm")
TEAM = LIB.get("episode-models", "cms-team")


def _events(day: float, in_cycle: bool, extended: bool = False) -> pd.DataFrame:
    return pd.DataFrame({"cycle_id": ["c1"], "encounter_id": ["e1"], "warranty": ["joint-reoperation"],
                         "day": [day], "in_cycle": [in_cycle], "extended": [extended],
                         "covered_days": [730], "extended_days": [1826], "cost": [9000.0], "charges": [6000.0]})


def test_revision_inside_the_warranty_is_the_providers() -> None:
    """A revision 400 days after the index (after the 91-day bundle window, inside 2 years): the
    provider bears its $9,000 cost and the payer pays nothing for it."""
    s = settle_warranty(_events(400, in_cycle=False), window_days=BUNDLE.window_days).iloc[0]
    assert s.covered_cost == 9000 and s.uncovered_charges_out == 0


def test_revision_beyond_the_warranty_is_the_payers() -> None:
    """The same revision at day 800 (beyond 2 years, no infection): the payer pays its $6,000 charges."""
    s = settle_warranty(_events(800, in_cycle=False), window_days=BUNDLE.window_days).iloc[0]
    assert s.covered_cost == 0 and s.uncovered_charges_out == 6000


def test_infection_extends_the_warranty_to_five_years() -> None:
    s = settle_warranty(_events(800, in_cycle=False, extended=True), window_days=BUNDLE.window_days).iloc[0]
    assert s.covered_cost == 9000 and s.uncovered_charges_out == 0


def _cycles(n: int, rng: np.random.Generator) -> pd.DataFrame:
    cost = rng.uniform(5000, 30000, n)
    charges = rng.uniform(2000, 20000, n)
    share = rng.uniform(0.5, 1.0, n)
    cond = rng.choice(["hip-osteoarthritis", "knee-osteoarthritis", "chronic", "healthy"], n)
    return pd.DataFrame({
        "cycle_id": [f"c{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
        "condition": cond, "cycle_type": np.where(np.isin(cond, ["chronic", "healthy"]), "segment", "acute"),
        "organization_id": rng.choice(["a", "b", "c"], n), "year": rng.choice([2022, 2023, 2024], n),
        "cost": cost, "charges": charges, "consumables": 0.0,
        "cost_w91": cost * share, "charges_w91": charges * share, "cost_w30": cost * share * 0.9,
        "charges_w30": charges * share * 0.9, "asa": rng.choice([1.0, 2.0, 3.0, np.nan], n),
        "hcc_score": rng.uniform(0.1, 3.0, n),
        "excluded_cost": np.where(rng.random(n) < 0.2, cost * share * 0.1, 0.0),
        "excluded_charges": np.where(rng.random(n) < 0.2, charges * share * 0.1, 0.0),
        "eligibility_excluded": rng.random(n) < 0.1})


EMPTY_W = _events(0, True).iloc[:0]
EMPTY_C = pd.DataFrame(columns=["cycle_id", "organization_id", "event"])


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=15, max_value=80), st.integers(min_value=0, max_value=10_000))
def test_payments_non_negative_and_cycles_conserved(n: int, seed: int) -> None:
    cycles = _cycles(n, np.random.default_rng(seed))
    led = simulate(cycles, EMPTY_W, [BUNDLE], TB, TEAM, EMPTY_C).ledger
    assert len(led) == n and set(led.cycle_id) == set(cycles.cycle_id)
    for col in ("ffs_paid", "bundle_paid", "tb_paid", "capitation_paid"):
        assert led[col].notna().all() and (led[col] >= 0).all(), col
    assert led.episode_paid.notna().all()  # every model pays every cycle exactly once
    ineligible = led.bundle_eligible.eq(False)
    assert (led.loc[ineligible, "bundle_paid"] == led.loc[ineligible, "ffs_paid"]).all()
    # an eligibility exclusion always means FFS; carved-out care is paid on top of the price
    assert not led.loc[cycles.eligibility_excluded.to_numpy(), "bundle_eligible"].eq(True).any()
    paid = led.bundle_eligible.eq(True) & led.bundle_price.notna()  # no price (< 11 cycles): paid FFS
    assert (led.loc[paid, "bundle_paid"] >= led.loc[paid, "excluded_care_paid"] + led.loc[paid, "bundle_price"]
            - 1e-6).all()


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1, max_value=1e7), st.floats(min_value=0, max_value=1e7),
       st.sampled_from(["track-1", "track-2", "track-3"]), st.floats(min_value=0, max_value=1))
def test_reconciliation_never_exceeds_the_track_limits(target: float, spending: float, track: str,
                                                       quality: float) -> None:
    t = TEAM.track(track)
    r = reconcile(target, spending, t, quality)
    assert -t.stop_loss * target - 1e-6 <= r.capped <= t.stop_gain * target + 1e-6
    if t.stop_loss == 0:
        assert r.capped >= 0
