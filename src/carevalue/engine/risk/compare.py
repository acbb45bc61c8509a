"""Observed versus expected per provider, with confidence intervals a registry would publish.

Counts are aggregated in the backend (`provider_counts`, an Ibis expression); intervals are then
computed on the small per-provider frame: exact (Garwood) Poisson or Byar intervals for O/E
ratios and Wilson or exact (Clopper-Pearson) intervals for proportions.
"""

from __future__ import annotations

from typing import Literal

import ibis
import numpy as np
import pandas as pd
from scipy import stats

RatioMethod = Literal["exact", "byar", "score"]
ProportionMethod = Literal["wilson", "exact"]

COMPARISON_COLUMNS = [
    "provider", "n", "observed", "expected", "oe_ratio", "oe_lower", "oe_upper",
    "observed_rate", "rate_lower", "rate_upper", "expected_rate", "adjusted_rate",
    "adjusted_lower", "adjusted_upper",
]


def poisson_ci(observed: np.ndarray | float, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson count: chi2(a/2, 2O)/2 .. chi2(1-a/2, 2O+2)/2."""
    o = np.asarray(observed, dtype=float)
    lower = np.where(o > 0, stats.chi2.ppf(alpha / 2, 2 * o) / 2, 0.0)
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2
    return lower, upper


def byar_ci(observed: np.ndarray | float, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximation to the exact Poisson interval (Breslow & Day 1987)."""
    o = np.asarray(observed, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(o > 0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3, 0.0)
    o1 = o + 1
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
    return lower, upper


def score_poisson_ci(observed: np.ndarray | float, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Score (Wilson-type) interval for a Poisson mean: O + z^2/2 -/+ z*sqrt(O + z^2/4)."""
    o = np.asarray(observed, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    half = z * np.sqrt(o + z * z / 4)
    return o + z * z / 2 - half, o + z * z / 2 + half


def wilson_ci(events: np.ndarray | float, n: np.ndarray | float, alpha: float = 0.05):
    """Wilson score interval for a proportion; (nan, nan) where n = 0."""
    x, m = np.asarray(events, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        centre = (p + z * z / (2 * m)) / (1 + z * z / m)
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
    return centre - half, centre + half


def exact_binomial_ci(events: np.ndarray | float, n: np.ndarray | float, alpha: float = 0.05):
    """Clopper-Pearson interval from beta quantiles."""
    x, m = np.asarray(events, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(x > 0, stats.beta.ppf(alpha / 2, x, m - x + 1), 0.0)
        upper = np.where(x < m, stats.beta.ppf(1 - alpha / 2, x + 1, m - x), 1.0)
    bad = m <= 0
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


_RATIO = {"exact": poisson_ci, "byar": byar_ci, "score": score_poisson_ci}


def provider_counts(
    table: ibis.Table, provider: str, observed: str, expected: str
) -> ibis.Table:
    """Per-provider n, observed and expected totals, as a backend aggregation."""
    return (
        table.filter(table[observed].notnull() & table[expected].notnull())
        .group_by(table[provider].name("provider"))
        .aggregate(
            n=ibis._.count(),
            observed=table[observed].cast("float64").sum(),
            expected=table[expected].cast("float64").sum(),
        )
        .order_by("provider")
    )


def observed_expected(
    counts: pd.DataFrame,
    *,
    alpha: float = 0.05,
    method: RatioMethod = "exact",
    proportion_method: ProportionMethod = "wilson",
    overall_rate: float | None = None,
) -> pd.DataFrame:
    """O/E ratio with CI per provider, plus crude and indirectly standardised (adjusted) rates.

    `counts` has columns provider, n, observed, expected (from `provider_counts` or pandas).
    adjusted_rate = O/E x overall rate (the whole population's O/n unless given). A provider
    with E = 0 gets a null ratio; one with O = 0 gets ratio 0 and a finite upper limit.
    """
    if counts.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    df = counts[["provider", "n", "observed", "expected"]].copy()
    o, e, n = (df[c].astype("float64").to_numpy() for c in ("observed", "expected", "n"))
    lo, hi = _RATIO[method](o, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos_e = e > 0
        df["oe_ratio"] = np.where(pos_e, o / e, np.nan)
        df["oe_lower"] = np.where(pos_e, lo / e, np.nan)
        df["oe_upper"] = np.where(pos_e, hi / e, np.nan)
        df["observed_rate"] = np.where(n > 0, o / n, np.nan)
        df["expected_rate"] = np.where(n > 0, e / n, np.nan)
    ci = wilson_ci if proportion_method == "wilson" else exact_binomial_ci
    df["rate_lower"], df["rate_upper"] = ci(o, n, alpha)
    rate = overall_rate if overall_rate is not None else float(o.sum() / n.sum()) if n.sum() else 0.0
    df["adjusted_rate"] = df["oe_ratio"] * rate
    df["adjusted_lower"] = df["oe_lower"] * rate
    df["adjusted_upper"] = df["oe_upper"] * rate
    return df[COMPARISON_COLUMNS].reset_index(drop=True)


def mean_difference(
    frame: pd.DataFrame, provider: str, observed: str, expected: str, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Continuous measures (e.g. a PROM score): mean observed minus expected per provider, t CI."""
    cols = ["provider", "n", "observed_mean", "expected_mean", "difference", "lower", "upper"]
    data = frame[[provider, observed, expected]].dropna()
    if data.empty:
        return pd.DataFrame(columns=cols)
    resid = (data[observed] - data[expected]).rename("r")
    g = pd.concat([data, resid], axis=1).groupby(provider, sort=True)
    out = pd.DataFrame({
        "n": g.size(), "observed_mean": g[observed].mean(), "expected_mean": g[expected].mean(),
        "difference": g["r"].mean(), "sd": g["r"].std(ddof=1),
    })
    se = out["sd"] / np.sqrt(out["n"])
    t = stats.t.ppf(1 - alpha / 2, np.maximum(out["n"] - 1, 1))
    out["lower"], out["upper"] = out["difference"] - t * se, out["difference"] + t * se
    return out.reset_index(names="provider")[cols]
