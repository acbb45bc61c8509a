"""Provider flags that agree with the interval printed beside them.

A provider is flagged at a level if and only if its stated interval for O/E (or O - E) excludes the
target at that level. For O/E the interval is the exact (Garwood) Poisson interval, so a provider
with 3 observed against 1.0 expected, interval [0.62, 8.77] at 95%, is never "worse" at 95%. When
there are enough providers and they are overdispersed (Spiegelhalter, Qual Saf Health Care
2005;14:347-51; as FunnelPlotR does), the interval is widened to the hull of the exact interval and
the overdispersed one on the square-root scale, so overdispersion only ever removes flags. When even
O = 0 (or a very large O) could not move the interval past the target, the level cannot be reached
with this provider's data: the flag says "not assessable at 99.8%" instead of "as expected".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from carevalue.engine.risk.funnel import additive_tau2, winsorised_phi

BETTER, WORSE, AS_EXPECTED = "better", "worse", "as expected"
LEVELS: tuple[float, ...] = (0.95, 0.998)
# Below this many providers, overdispersion cannot be told apart from the provider effects the
# comparison looks for, so intervals stay exact (Spiegelhalter 2005 estimates phi from the providers).
MIN_PROVIDERS_FOR_OVERDISPERSION = 20
Overdispersion = Literal["none", "multiplicative", "additive"]


def level_tag(level: float) -> str:
    """'95' for 0.95, '998' for 0.998: the suffix of the interval and flag columns."""
    return f"{level * 100:g}".replace(".", "")


def not_assessable(level: float) -> str:
    """The flag text for a provider whose data cannot reach `level` in one direction."""
    return f"not assessable at {level * 100:g}%"


@dataclass(frozen=True)
class Dispersion:
    """Overdispersion estimated from the providers' square-root z-scores, and whether it is used."""

    method: Overdispersion
    phi: float
    tau2: float
    n_providers: int
    applied: bool
    note: str


def estimate_dispersion(observed: np.ndarray, expected: np.ndarray, method: Overdispersion = "multiplicative",
                        *, min_providers: int = MIN_PROVIDERS_FOR_OVERDISPERSION,
                        winsor: float = 0.10) -> Dispersion:
    """phi = mean square of 10%-winsorised z = 2(sqrt(O) - sqrt(E)); applied only with at least
    `min_providers` providers and phi > 1 (additive: tau^2 by DerSimonian-Laird on sqrt(O/E))."""
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    keep = e > 0
    n = int(keep.sum())
    z = 2 * (np.sqrt(o[keep]) - np.sqrt(e[keep]))
    phi = winsorised_phi(z, winsor) if n else float("nan")
    tau2 = additive_tau2(phi, 1 / (2 * np.sqrt(e[keep]))) if n > 1 and method == "additive" else 0.0
    if method == "none":
        return Dispersion("none", phi, 0.0, n, False, "overdispersion not requested: exact intervals")
    if n < min_providers:
        return Dispersion(method, phi, 0.0, n, False, f"{n} providers (< {min_providers}): overdispersion "
                          "not estimable, exact intervals")
    if not phi > 1:
        return Dispersion(method, phi, 0.0, n, False, f"phi {phi:.2f} <= 1 over {n} providers: exact intervals")
    what = f"phi {phi:.2f}" if method == "multiplicative" else f"tau^2 {tau2:.4f} (phi {phi:.2f})"
    return Dispersion(method, phi, tau2, n, True,
                      f"{method} overdispersion applied, {what} over {n} providers (10% winsorised)")


def _od_interval(o: np.ndarray, e: np.ndarray, level: float, d: Dispersion) -> tuple[np.ndarray, np.ndarray]:
    """O/E +- z sqrt(phi s^2 + tau^2) on the square-root scale, s = 1/(2 sqrt(E)), squared back."""
    z = stats.norm.ppf(1 - (1 - level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = 1 / (4 * e)
        half = z * np.sqrt((d.phi if d.method == "multiplicative" else 1.0) * s2 + d.tau2)
        root = np.sqrt(o / e)
    low = np.clip(root - half, 0, None) ** 2
    return low, (root + half) ** 2


def exact_ratio_interval(o: np.ndarray, e: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Garwood interval for O/E: chi2(a/2, 2O)/2E .. chi2(1-a/2, 2O+2)/2E (null where E <= 0)."""
    alpha = 1 - level
    o, e = np.asarray(o, float), np.asarray(e, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(o > 0, stats.chi2.ppf(alpha / 2, 2 * o) / 2, 0.0) / e
        high = stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2 / e
    bad = ~(e > 0)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def ratio_intervals(o: np.ndarray, e: np.ndarray, level: float,
                    dispersion: Dispersion | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The stated interval for O/E at `level`: exact, or its hull with the overdispersed one."""
    low, high = exact_ratio_interval(o, e, level)
    if dispersion is not None and dispersion.applied:
        ol, oh = _od_interval(np.asarray(o, float), np.asarray(e, float), level, dispersion)
        low, high = np.fmin(low, ol), np.fmax(high, oh)
    return low, high


def _direction(low_hit: np.ndarray, high_hit: np.ndarray, higher_is_better: bool) -> np.ndarray:
    hi, lo = (BETTER, WORSE) if higher_is_better else (WORSE, BETTER)
    return np.where(low_hit, hi, np.where(high_hit, lo, AS_EXPECTED))


def ratio_flags(observed: Sequence[float] | np.ndarray | pd.Series, expected: Sequence[float] | np.ndarray | pd.Series, *,
                higher_is_better: bool = False, dispersion: Dispersion | None = None,
                levels: Sequence[float] = LEVELS, target: float = 1.0) -> pd.DataFrame:
    """Per provider and level: ci_low_<tag>, ci_high_<tag>, flag_<tag> and not_assessable.

    flag = worse (adverse event counted) when ci_low > target, better when ci_high < target; when
    neither and O = 0 would still leave ci_high >= target, the flag is "not assessable at L%"
    (too few expected events to ever show fewer events than expected at that level).
    """
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    out: dict[str, object] = {}
    unreachable: list[list[str]] = [[] for _ in range(len(o))]
    for level in levels:
        tag = level_tag(level)
        low, high = ratio_intervals(o, e, level, dispersion)
        _, zero_high = ratio_intervals(np.zeros_like(o), e, level, dispersion)
        flag = _direction(low > target, high < target, higher_is_better)
        blind = ~(zero_high < target) | ~(e > 0)
        flag = np.where((flag == AS_EXPECTED) & blind, not_assessable(level), flag)
        for i in np.flatnonzero(blind):
            unreachable[i].append(f"{level * 100:g}%")
        out[f"ci_low_{tag}"], out[f"ci_high_{tag}"], out[f"flag_{tag}"] = low, high, flag
    side = "better" if not higher_is_better else "worse"
    out["not_assessable"] = [f"{side} not reachable at {', '.join(u)}" if u else None for u in unreachable]
    return pd.DataFrame(out)


def mean_flags(difference: np.ndarray, se: np.ndarray, n: np.ndarray, *, higher_is_better: bool,
               levels: Sequence[float] = LEVELS) -> pd.DataFrame:
    """Continuous measures: t interval of the mean O - E per provider; flagged iff it excludes 0.
    A provider with fewer than 2 patients or no spread has no interval: "not assessable"."""
    d, s, m = (np.asarray(x, float) for x in (difference, se, n))
    out: dict[str, object] = {}
    blind = ~(m >= 2) | ~(s > 0)
    for level in levels:
        tag = level_tag(level)
        t = stats.t.ppf(1 - (1 - level) / 2, np.maximum(m - 1, 1))
        low, high = np.where(blind, np.nan, d - t * s), np.where(blind, np.nan, d + t * s)
        flag = _direction(low > 0, high < 0, higher_is_better)
        out[f"ci_low_{tag}"], out[f"ci_high_{tag}"] = low, high
        out[f"flag_{tag}"] = np.where(blind, not_assessable(level), flag)
    out["not_assessable"] = ["fewer than 2 patients or no spread: no interval" if b else None for b in blind]
    return pd.DataFrame(out)


def null_flag_rates(flags: pd.DataFrame, levels: Sequence[float] = LEVELS) -> dict[str, float]:
    """Share of providers flagged (better or worse) per level: the false-flag rate under the null."""
    return {level_tag(lv): float(flags[f"flag_{level_tag(lv)}"].isin([BETTER, WORSE]).mean()) for lv in levels}

