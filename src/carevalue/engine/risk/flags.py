"""Better/worse-than-expected flags: funnel limits, the transplant registries' Bayesian rule,
and empirical-Bayes shrinkage of O/E so small providers are not ranked on noise.

SRTR program-specific reports: the hazard ratio has a Gamma(2, 2) prior; with O observed and E
expected events the posterior is Gamma(2 + O, rate 2 + E), point estimate (O + 2)/(E + 2).
A program is flagged (worse) when P(HR > 1.2) > 0.75 or P(HR > 2.5) > 0.10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from carevalue.engine.risk.funnel import LEVELS, Funnel, _tag

BETTER, WORSE, AS_EXPECTED = "better", "worse", "as expected"


def funnel_flags(result: Funnel, *, higher_is_better: bool = False) -> pd.DataFrame:
    """One row per provider: flag_95 and flag_99_8 from the funnel's (overdispersed) limits.

    For adverse outcomes (deaths, complications, readmissions) above the upper limit is 'worse';
    pass higher_is_better=True for survival or PROM-improvement measures.
    """
    out = result.points.copy()
    for level in LEVELS:
        tag = _tag(level)
        above = out["value"] > out[f"upper_{tag}"]
        below = out["value"] < out[f"lower_{tag}"]
        hi, lo = (BETTER, WORSE) if higher_is_better else (WORSE, BETTER)
        out[f"flag_{tag}"] = np.where(above, hi, np.where(below, lo, AS_EXPECTED))
    return out


def srtr_flags(
    observed: np.ndarray | pd.Series,
    expected: np.ndarray | pd.Series,
    *,
    prior_shape: float = 2.0,
    prior_rate: float = 2.0,
    worse_thresholds: tuple[tuple[float, float], ...] = ((1.2, 0.75), (2.5, 0.10)),
    better_threshold: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """SRTR-style Bayesian flag per provider.

    Returns hr (posterior mean (O+a)/(E+b)), hr_lower/hr_upper (95% credible interval),
    p_hr_gt_<t> for each worse threshold, p_hr_lt_better, and flag. 'worse' follows the SRTR
    review criteria above. SRTR has no 'better' rule; better_threshold=(1/1.2, 0.75) adds a mirror
    of it, off by default because under no provider effect it fires for 7-21% of providers with
    1-10 expected events (tests/engine/risk/test_null_flag_rates.py). The SRTR rule is a review
    criterion, not a test at a nominal level: its measured null rate is pinned in that test.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    post = stats.gamma(a=prior_shape + o, scale=1.0 / (prior_rate + e))
    out = pd.DataFrame({"observed": o, "expected": e, "hr": (o + prior_shape) / (e + prior_rate),
                        "hr_lower": post.ppf(0.025), "hr_upper": post.ppf(0.975)})
    worse = np.zeros(len(o), dtype=bool)
    for hr, prob in worse_thresholds:
        p = post.sf(hr)
        out[f"p_hr_gt_{hr:g}"] = p
        worse |= p > prob
    better = np.zeros(len(o), dtype=bool)
    if better_threshold is not None:
        hr_b, prob_b = better_threshold
        p_b = post.cdf(hr_b)
        out["p_hr_lt_better"] = p_b
        better = p_b > prob_b
    out["flag"] = np.where(worse, WORSE, np.where(better, BETTER, AS_EXPECTED))
    return out


def empirical_bayes_ratio(
    observed: np.ndarray | pd.Series, expected: np.ndarray | pd.Series
) -> pd.DataFrame:
    """Poisson-gamma empirical-Bayes shrinkage of O/E (Marshall, Biometrics 1991;47:283-99).

    Prior mean m = sum O / sum E; prior variance v from the method of moments; each ratio moves
    toward m by the factor v / (v + m/E_i), so providers with few expected events move most.
    Also returns the equivalent gamma prior (shape m^2/v, rate m/v) as shrink_shape/shrink_rate.
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    keep = e > 0
    ok, ek = o[keep], e[keep]
    cols = ["observed", "expected", "oe_ratio", "shrunk_ratio", "weight", "shrunk_lower",
            "shrunk_upper"]
    if keep.sum() == 0:
        return pd.DataFrame(columns=cols)
    m = ok.sum() / ek.sum()
    r = ok / ek
    s2 = (ek * (r - m) ** 2).sum() / ek.sum()
    v = max(s2 - m / ek.mean(), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(keep, o / e, np.nan)
        weight = np.where(keep, v / (v + m / e), np.nan)
    shrunk = m + weight * (ratio - m)
    if v > 0:
        shape, rate = m * m / v, m / v
        post = stats.gamma(a=shape + o, scale=1.0 / (rate + e))
        lower, upper = post.ppf(0.025), post.ppf(0.975)
    else:
        lower = upper = np.full(len(o), m)
    return pd.DataFrame({"observed": o, "expected": e, "oe_ratio": ratio, "shrunk_ratio": shrunk,
                         "weight": weight, "shrunk_lower": np.where(keep, lower, np.nan),
                         "shrunk_upper": np.where(keep, upper, np.nan)})
