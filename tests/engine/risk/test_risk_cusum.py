"""Risk-adjusted Bernoulli CUSUM (Steiner et al. 2000) and VLAD on hand-computed sequences."""

import math

import numpy as np
import pandas as pd
import pytest

from carevalue.engine.risk.cusum import (
    bernoulli_cusum,
    choose_threshold,
    cusum_by_provider,
    cusum_weights,
    simulate_run_length,
)


def test_weights_and_path_by_hand():
    # Steiner 2000 with R0 = 1, RA = 2: y=1 -> log(RA/(1-p+RA p)); y=0 -> log(1/(1-p+RA p))
    y = [1, 0, 1, 1, 0]
    p = [0.1, 0.5, 0.2, 0.05, 0.3]
    w = [math.log(2 / 1.1), math.log(1 / 1.5), math.log(2 / 1.2), math.log(2 / 1.05),
         math.log(1 / 1.3)]
    np.testing.assert_allclose(cusum_weights(y, p, 2.0), w)
    s1 = w[0]                       # 0.5978
    s2 = max(0, s1 + w[1])          # 0.5978 - 0.4055 = 0.1924
    s3 = s2 + w[2]                  # 0.1924 + 0.5108 = 0.7032
    s4 = s3 + w[3]                  # 0.7032 + 0.6444 = 1.3476 -> signal at h = 1.2, reset
    s5 = max(0, 0 + w[4])           # reset to 0, then 0 + (-0.2624) -> 0
    chart = bernoulli_cusum(y, p, odds_ratio=2.0, h=1.2)
    np.testing.assert_allclose(chart["cusum"], [s1, s2, s3, s4, s5])
    assert chart["signal"].tolist() == [False, False, False, True, False]
    np.testing.assert_allclose(chart["vlad"], np.cumsum(np.array(p) - np.array(y)))
    no_reset = bernoulli_cusum(y, p, h=1.2, reset=False)
    assert no_reset["cusum"].iloc[4] == pytest.approx(s4 + w[4])


def test_improvement_chart_and_null_odds():
    # RA = 0.5 accumulates evidence of fewer events than expected
    w = cusum_weights([0, 1], [0.2, 0.2], odds_ratio=0.5)
    assert w[0] == pytest.approx(math.log(1 / 0.9)) and w[1] == pytest.approx(math.log(0.5 / 0.9))
    # general R0: y=1 -> log(RA (1-p+R0 p) / (R0 (1-p+RA p)))
    w = cusum_weights([1], [0.2], odds_ratio=3.0, null_odds_ratio=1.5)
    assert w[0] == pytest.approx(math.log(3 * 1.1 / (1.5 * 1.4)))


def test_by_provider_orders_by_time():
    df = pd.DataFrame({"prov": ["a", "a", "b", "a"], "ts": [3, 1, 1, 2], "y": [1, 0, 1, 0],
                       "p": [0.5, 0.1, 0.2, 0.2]})
    out = cusum_by_provider(df, "prov", "ts", "y", "p", h=10.0)
    a = out[out.provider == "a"]
    assert a["ts"].tolist() == [1, 2, 3]
    assert a["vlad"].iloc[-1] == pytest.approx(0.8 - 1)
    assert cusum_by_provider(df.iloc[:0], "prov", "ts", "y", "p").empty


def test_run_length_simulation_and_threshold_choice():
    risks = np.random.default_rng(0).uniform(0.02, 0.2, 200)
    in_control = simulate_run_length(risks, 3.0, n_runs=200, seed=1)
    out_control = simulate_run_length(risks, 3.0, true_odds_ratio=2.0, n_runs=200, seed=1)
    assert out_control.arl < in_control.arl / 3
    h, run = choose_threshold(risks, 500, n_runs=150, seed=2)
    assert 1.5 < h < 5
    assert run.arl == pytest.approx(500, rel=0.2)
    assert run.censored == 0
