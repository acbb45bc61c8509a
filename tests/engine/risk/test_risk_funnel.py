"""Funnel plot limits and overdispersion (Spiegelhalter 2005) against hand-written formulas."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from carevalue.engine.risk.funnel import additive_tau2, control_limits, funnel, winsorised_phi


def test_winsorised_phi_by_hand():
    z = np.arange(-10, 10, dtype=float)  # 20 values; 10th/90th percentiles by linear interpolation
    lo, hi = np.quantile(z, [0.1, 0.9])
    want = np.mean(np.clip(z, lo, hi) ** 2)
    assert winsorised_phi(z) == pytest.approx(want)
    assert lo == pytest.approx(-8.1)


def test_normal_limits_for_ratio_and_proportion():
    lim = control_limits("ratio", 1.0, [25.0], levels=(0.95, 0.998))
    r95 = lim[lim.level == 0.95].iloc[0]
    assert r95.upper == pytest.approx(1 + 1.959964 / 5, rel=1e-6)
    r998 = lim[lim.level == 0.998].iloc[0]
    assert r998.lower == pytest.approx(1 - stats.norm.ppf(0.999) / 5, rel=1e-9)
    p = control_limits("proportion", 0.1, [100.0], levels=(0.95,)).iloc[0]
    assert p.upper == pytest.approx(0.1 + 1.959964 * np.sqrt(0.09 / 100), rel=1e-6)
    # multiplicative overdispersion widens by sqrt(phi); additive adds tau^2 to the variance
    w = control_limits("ratio", 1.0, [25.0], levels=(0.95,), phi=4.0).iloc[0]
    assert w.upper - 1 == pytest.approx(2 * 1.959964 / 5, rel=1e-6)
    a = control_limits("ratio", 1.0, [25.0], levels=(0.95,), tau2=0.01).iloc[0]
    assert a.upper - 1 == pytest.approx(1.959964 * np.sqrt(1 / 25 + 0.01), rel=1e-6)


def test_exact_limits_interpolate_binomial_quantiles():
    # Spiegelhalter 2005 appendix: r_p = binomial p-quantile, alpha = (F(r_p) - p)/(F(r_p) - F(r_p - 1))
    n, theta, p = 50, 0.1, 0.975
    r = stats.binom.ppf(p, n, theta)
    alpha = (stats.binom.cdf(r, n, theta) - p) / (stats.binom.cdf(r, n, theta) - stats.binom.cdf(r - 1, n, theta))
    lim = control_limits("proportion", theta, [n], levels=(0.95,), exact=True).iloc[0]
    assert lim.upper == pytest.approx((r - alpha) / n)


def test_funnel_estimates_phi_and_applies_it():
    rng = np.random.default_rng(5)
    e = rng.uniform(10, 200, 150)
    true = np.exp(rng.normal(0, 0.3, 150))  # overdispersed providers
    o = rng.poisson(e * true)
    counts = pd.DataFrame({"provider": np.arange(150), "n": (e * 10).astype(int), "observed": o,
                           "expected": e})
    plain = funnel(counts, "ratio", overdispersion="none")
    multi = funnel(counts, "ratio", overdispersion="multiplicative")
    add = funnel(counts, "ratio", overdispersion="additive")
    z = (o / e - 1) * np.sqrt(e)
    assert multi.phi == pytest.approx(winsorised_phi(z))
    assert multi.phi > 2 and multi.phi_p_value < 0.001
    np.testing.assert_allclose(multi.points["z_adjusted"], z / np.sqrt(multi.phi))
    assert add.tau2 == pytest.approx(additive_tau2(add.phi, 1 / np.sqrt(e)))
    assert add.tau2 > 0
    np.testing.assert_allclose(add.points["z_adjusted"], (o / e - 1) / np.sqrt(1 / e + add.tau2))
    outside = lambda f: ((f.points.value > f.points.upper_99_8) | (f.points.value < f.points.lower_99_8)).sum()  # noqa: E731
    assert outside(plain) > outside(multi)
    assert plain.overdispersion == "none" and multi.overdispersion == "multiplicative"
    assert set(multi.limits.level) == {0.95, 0.998}


def test_phi_below_one_is_not_applied_and_empty_input():
    counts = pd.DataFrame({"provider": list("abcd"), "n": [100] * 4, "observed": [10, 10, 10, 11],
                           "expected": [10.0] * 4})
    f = funnel(counts, "ratio")
    assert f.phi < 1 and f.overdispersion == "none"
    empty = funnel(counts.iloc[:0], "ratio")
    assert empty.n_providers == 0 and empty.points.empty


def test_proportion_funnel_target_and_figure():
    counts = pd.DataFrame({"provider": list("abc"), "n": [100, 200, 300], "observed": [10, 20, 60]})
    f = funnel(counts, "proportion")
    assert f.target == pytest.approx(90 / 600)
    fig = f.figure("complications")
    assert len(fig.data) == 5  # 4 limit curves + providers
