"""CUSUM in the null simulation (issue 10): with no provider effect, how often does a provider's
risk-adjusted CUSUM signal? Stated with the control limit used, and checked against the very chart
function the platform draws (cusum_by_provider), not only the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carevalue.engine.risk.cusum import choose_threshold, cusum_by_provider, false_alarm_rate

PATIENTS = 500
DEFAULT_H = 4.5  # bernoulli_cusum's default control limit


def risk_pool(seed: int = 1) -> np.ndarray:
    """Predicted risks shaped like a hip/knee complication model (mean ~3.6%, long right tail)."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(np.log(0.03), 0.6, 5000), 0.002, 0.5)


def null_registry(pool: np.ndarray, providers: int, seed: int, odds_ratio: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = pool[rng.integers(0, len(pool), providers * PATIENTS)]
    odds = odds_ratio * p / (1 - p)
    y = (rng.random(len(p)) < odds / (1 + odds)).astype(float)
    return pd.DataFrame({"provider": np.repeat(np.arange(providers), PATIENTS),
                         "seq": np.tile(np.arange(PATIENTS), providers), "y": y, "p": p})


def _share_signalling(frame: pd.DataFrame, h: float) -> float:
    chart = cusum_by_provider(frame, "provider", "seq", "y", "p", odds_ratio=2.0, h=h)
    return float(chart.groupby("provider")["signal"].any().mean())


def test_false_alarm_rate_at_the_default_limit_is_stated_and_matches_the_charts() -> None:
    pool = risk_pool()
    fa = false_alarm_rate(pool, DEFAULT_H, PATIENTS, n_runs=4000, seed=5)
    # measured: 3.2% (± 0.3%) of in-control providers signal within 500 patients at h = 4.5
    assert 0.02 <= fa.rate <= 0.06
    assert "within 500 patients at h = 4.5" in fa.statement()
    providers = 600
    observed = _share_signalling(null_registry(pool, providers, seed=11), DEFAULT_H)
    se = np.sqrt(fa.rate * (1 - fa.rate) / providers + fa.std_error ** 2)
    assert abs(observed - fa.rate) <= 3 * se, (observed, fa.rate)


def test_threshold_chosen_for_an_in_control_arl_keeps_false_alarms_near_geometric() -> None:
    pool = risk_pool()
    h, run = choose_threshold(pool, 2000, n_runs=300, seed=1)
    fa = false_alarm_rate(pool, h, PATIENTS, n_runs=2000, seed=9)
    # run lengths are roughly geometric: P(signal within N) ~ 1 - exp(-N / ARL0) (21.8% here)
    bound = 1 - np.exp(-PATIENTS / run.arl)
    assert fa.rate <= bound + 3 * fa.std_error, (h, fa.rate, bound)
    assert h < DEFAULT_H  # a shorter in-control ARL needs a lower limit, and alarms more often
    assert fa.rate > false_alarm_rate(pool, DEFAULT_H, PATIENTS, n_runs=2000, seed=9).rate


def test_a_true_doubling_of_odds_is_detected_far_more_often_than_a_false_alarm() -> None:
    pool = risk_pool()
    worse = _share_signalling(null_registry(pool, 200, seed=13, odds_ratio=2.0), DEFAULT_H)
    null = false_alarm_rate(pool, DEFAULT_H, PATIENTS, n_runs=2000, seed=5).rate
    assert worse > 0.5 and worse > 8 * null
