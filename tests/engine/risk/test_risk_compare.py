"""O/E and proportion intervals against formulas written out independently."""

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from carevalue.engine.risk.compare import (
    byar_ci,
    exact_binomial_ci,
    mean_difference,
    observed_expected,
    poisson_ci,
    provider_counts,
    wilson_ci,
)


def test_exact_poisson_ci_hand_cases():
    # Garwood: lower = chi2(0.025, 2O)/2, upper = chi2(0.975, 2O+2)/2; lower is 0 for O = 0.
    lo0, hi0 = poisson_ci(0)
    assert lo0 == 0.0
    assert hi0 == pytest.approx(-np.log(0.025))  # chi2(0.975, 2)/2 = -ln(0.025) = 3.6889
    lo5, hi5 = poisson_ci(5)
    assert lo5 == pytest.approx(stats.chi2.ppf(0.025, 10) / 2)
    assert hi5 == pytest.approx(stats.chi2.ppf(0.975, 12) / 2)
    assert (lo5, hi5) == pytest.approx((1.6235, 11.6683), abs=1e-4)  # standard tables
    counts = pd.DataFrame({"provider": ["a", "b"], "n": [40, 40], "observed": [0, 5],
                           "expected": [3.2, 3.2]})
    oe = observed_expected(counts).set_index("provider")
    assert oe.loc["b", "oe_ratio"] == pytest.approx(5 / 3.2)
    assert oe.loc["b", "oe_lower"] == pytest.approx(1.6235 / 3.2, abs=1e-4)
    assert oe.loc["b", "oe_upper"] == pytest.approx(11.6683 / 3.2, abs=1e-4)
    # zero events: ratio 0, finite upper limit 3.6889/3.2
    assert oe.loc["a", "oe_ratio"] == 0
    assert oe.loc["a", "oe_lower"] == 0
    assert oe.loc["a", "oe_upper"] == pytest.approx(3.6889 / 3.2, abs=1e-4)
    assert oe.loc["a", "rate_lower"] == pytest.approx(0, abs=1e-12)


def test_byar_is_close_to_exact():
    o = np.array([3, 10, 50])
    lo, hi = poisson_ci(o)
    blo, bhi = byar_ci(o)
    np.testing.assert_allclose(blo, lo, rtol=0.03)
    np.testing.assert_allclose(bhi, hi, rtol=0.01)


def test_proportion_intervals_match_statsmodels():
    x, n = np.array([0, 3, 17, 40]), np.array([25, 25, 80, 40])
    lo, hi = wilson_ci(x, n)
    slo, shi = proportion_confint(x, n, method="wilson")
    np.testing.assert_allclose(lo, slo, atol=1e-12)
    np.testing.assert_allclose(hi, shi, atol=1e-12)
    lo, hi = exact_binomial_ci(x, n)
    slo, shi = proportion_confint(x, n, method="beta")
    np.testing.assert_allclose(lo, slo, atol=1e-12)
    np.testing.assert_allclose(hi, shi, atol=1e-12)


def test_provider_counts_in_backend_and_empty():
    df = pd.DataFrame({"prov": ["a", "a", "b", "b", "b"], "y": [1, 0, 0, 0, 0],
                       "p": [0.2, 0.3, 0.1, 0.1, 0.1]})
    counts = provider_counts(ibis.memtable(df), "prov", "y", "p").to_pandas()
    assert counts.to_dict("list") == {"provider": ["a", "b"], "n": [2, 3], "observed": [1.0, 0.0],
                                      "expected": pytest.approx([0.5, 0.3])}
    oe = observed_expected(counts)
    assert oe["adjusted_rate"].tolist() == pytest.approx([2 * 0.2, 0.0])
    assert observed_expected(counts.iloc[:0]).empty


def test_mean_difference_for_continuous_measure():
    df = pd.DataFrame({"prov": ["a"] * 4 + ["b"] * 3, "obs": [10, 12, 14, 16, 5, 6, 7],
                       "exp": [11, 11, 11, 11, 6, 6, 6]})
    md = mean_difference(df, "prov", "obs", "exp").set_index("provider")
    assert md.loc["a", "difference"] == pytest.approx(2.0)
    se = np.std([-1, 1, 3, 5], ddof=1) / 2
    assert md.loc["a", "upper"] == pytest.approx(2 + stats.t.ppf(0.975, 3) * se)
