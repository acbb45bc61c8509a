"""A measure by period (year or quarter), optionally per provider, with confidence intervals.

The grouping and sums run in the backend (Ibis); intervals are computed on the small result:
Wilson for proportions, t for means, exact Poisson for O/E when an expected column is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from carevalue.engine.risk.compare import poisson_ci, wilson_ci

Period = Literal["year", "quarter", "month"]
TrendKind = Literal["proportion", "mean"]


def period_label(ts: ibis.Value, period: Period) -> ibis.Value:
    """'2024', '2024-Q3' or '2024-07' from a timestamp/date expression."""
    year = ts.year().cast("string")
    if period == "year":
        return year
    if period == "quarter":
        return year.concat("-Q", ts.quarter().cast("string"))
    return year.concat("-", ts.month().cast("string").lpad(2, "0"))


def trend_counts(
    table: ibis.Table,
    timestamp: str,
    value: str,
    *,
    period: Period = "year",
    by: Sequence[str] = (),
    expected: str | None = None,
) -> ibis.Table:
    """Backend aggregation: n, sum, sum of squares (and expected sum) per period and group."""
    t = table.filter(table[value].notnull() & table[timestamp].notnull())
    v = t[value].cast("float64")
    aggs = {"n": t.count(), "total": v.sum(), "total_sq": (v * v).sum()}
    if expected is not None:
        aggs["expected"] = t[expected].cast("float64").sum()
    keys = [*(t[c] for c in by), period_label(t[timestamp], period).name("period")]
    return t.group_by(keys).aggregate(**aggs).order_by([*by, "period"])


def measure_by_period(
    table: ibis.Table,
    timestamp: str,
    value: str,
    *,
    kind: TrendKind = "proportion",
    period: Period = "year",
    by: Sequence[str] = (),
    expected: str | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Tidy frame: [by..., period, n, estimate, lower, upper] (+ observed, expected, oe_* ).

    kind='proportion' expects a 0/1 value (estimate = rate, Wilson CI); 'mean' gives the mean
    with a t interval. With `expected`, O/E per period with an exact Poisson interval is added.
    """
    counts = trend_counts(table, timestamp, value, period=period, by=by,
                          expected=expected).to_pandas()
    cols = [*by, "period", "n", "estimate", "lower", "upper"]
    if expected is not None:
        cols += ["observed", "expected", "oe_ratio", "oe_lower", "oe_upper"]
    if counts.empty:
        return pd.DataFrame(columns=cols)
    n = counts["n"].astype("float64").to_numpy()
    total = counts["total"].astype("float64").to_numpy()
    counts["estimate"] = total / n
    if kind == "proportion":
        counts["lower"], counts["upper"] = wilson_ci(total, n, alpha)
    else:
        var = np.where(n > 1, (counts["total_sq"] - total * total / n) / np.maximum(n - 1, 1), np.nan)
        se = np.sqrt(np.clip(var, 0, None) / n)
        t = stats.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1))
        counts["lower"] = counts["estimate"] - t * se
        counts["upper"] = counts["estimate"] + t * se
    if expected is not None:
        e = counts["expected"].astype("float64").to_numpy()
        lo, hi = poisson_ci(total, alpha)
        counts["observed"] = total
        with np.errstate(divide="ignore", invalid="ignore"):
            counts["oe_ratio"] = np.where(e > 0, total / e, np.nan)
            counts["oe_lower"] = np.where(e > 0, lo / e, np.nan)
            counts["oe_upper"] = np.where(e > 0, hi / e, np.nan)
    return counts[cols].reset_index(drop=True)
