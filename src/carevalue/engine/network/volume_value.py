"""Volume and value: does a provider's volume go with better risk-adjusted outcomes and lower cost
per cycle in this store? A random-effects meta-regression (DerSimonian-Laird between-provider
variance, weighted least squares) of each provider's effect on log2(annual volume), so the slope
reads "change per doubling of volume", with a 95% interval. Written with numpy: statsmodels has
random-effects pooling but no meta-regression.

Effects: event measures log((O+0.5)/(E+0.5)) with variance 1/(O+0.5); means O-E with the variance
from its interval; cost log(mean cost per cycle) with variance sd^2/(n mean^2)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from carevalue.engine.network.projection import Z95

VV_COLUMNS = ("condition", "target", "measure", "time_point", "scale", "providers", "slope_per_doubling",
              "ci_low", "ci_high", "tau2", "direction", "finding", "status", "message")
MIN_PROVIDERS = 3


def meta_regression(y: np.ndarray, v: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """(slope, its standard error, tau^2) of y = a + b x with within-variances v (method of moments)."""
    X = np.column_stack([np.ones_like(x), x])
    w = 1.0 / v
    W = np.diag(w)
    xtwx_inv = np.linalg.inv(X.T @ W @ X)
    beta = xtwx_inv @ X.T @ W @ y
    q = float(((y - X @ beta) ** 2 * w).sum())
    k, p = len(y), X.shape[1]
    denom = float(w.sum() - np.trace(xtwx_inv @ X.T @ np.diag(w ** 2) @ X))
    tau2 = max(0.0, (q - (k - p)) / denom) if denom > 0 else 0.0
    ws = 1.0 / (v + tau2)
    cov = np.linalg.inv(X.T @ np.diag(ws) @ X)
    b = cov @ X.T @ np.diag(ws) @ y
    return float(b[1]), math.sqrt(float(cov[1, 1])), tau2


def _finding(slope: float, lo: float, hi: float, lower_better: bool, target: str) -> str:
    if lo <= 0 <= hi:
        return "no clear relationship with volume"
    good = (slope < 0) == lower_better
    what = "lower cost" if target == "cost" else "better outcomes"
    return f"higher volume goes with {what}" if good else f"higher volume goes with {'higher cost' if target == 'cost' else 'worse outcomes'}"


def _fit(key: dict[str, object], df: pd.DataFrame, lower_better: bool) -> dict[str, object]:
    df = df.replace([np.inf, -np.inf], np.nan).dropna(subset=["x", "y", "v"])
    df = df[df.v > 0]
    row = {**key, "providers": len(df), "slope_per_doubling": None, "ci_low": None, "ci_high": None, "tau2": None,
           "direction": "lower-better" if lower_better else "higher-better"}
    if len(df) < MIN_PROVIDERS or df.x.nunique() < 2:
        return {**row, "finding": None, "status": "not estimable",
                "message": f"{len(df)} providers with volume and an estimate; at least {MIN_PROVIDERS} with different volumes needed"}
    b, se, tau2 = meta_regression(df.y.to_numpy(float), df.v.to_numpy(float), df.x.to_numpy(float))
    lo, hi = b - Z95 * se, b + Z95 * se
    return {**row, "slope_per_doubling": b, "ci_low": lo, "ci_high": hi, "tau2": tau2,
            "finding": _finding(b, lo, hi, lower_better, str(key["target"])), "status": "ok", "message": ""}


def volume_value(volume: pd.DataFrame, outcomes: pd.DataFrame, costs: pd.DataFrame,
                 directions: Mapping[str, str]) -> pd.DataFrame:
    """``volume``: condition, organization_id, mean_per_year. One row per condition x measure x time
    point (target 'outcome') and per condition (target 'cost')."""
    rows: list[dict[str, object]] = []
    vol = volume.assign(x=np.log2(volume["mean_per_year"].astype(float)))
    for key, g in costs.groupby("condition"):
        cond = str(key)
        d = g.merge(vol[vol.condition == cond][["organization_id", "x"]], on="organization_id")
        d = d.assign(y=np.log(d["mean_cost"].astype(float)),
                     v=(d["sd_cost"].astype(float) ** 2) / (d["n"].astype(float) * d["mean_cost"].astype(float) ** 2))
        rows.append(_fit({"condition": cond, "target": "cost", "measure": None, "time_point": None, "scale": None},
                         d, lower_better=True))
    # Volume joined to every outcome row once (not one merge per measure); a measure without any
    # provider volume still gets its (not estimable) row.
    keys_of = ["condition", "measure", "time_point", "_scale"]
    oc = outcomes.assign(_scale=outcomes["scale"].fillna(""))
    with_x = oc.merge(vol[["condition", "organization_id", "x"]], on=["condition", "organization_id"])
    by_key = dict(iter(with_x.groupby(keys_of)))
    for keys, _g in oc.groupby(keys_of):
        cond, measure, tp, scale = (str(k) for k in keys)
        d = by_key.get(keys, with_x.iloc[0:0])
        if str(d["statistic"].iloc[0] if len(d) else "").startswith("O/E"):
            o, e = d["observed"].astype(float), d["expected"].astype(float)
            d = d.assign(y=np.log((o + 0.5) / (e + 0.5)), v=1.0 / (o + 0.5))
        else:
            d = d.assign(y=d["oe"].astype(float),
                         v=((d["ci_high"].astype(float) - d["ci_low"].astype(float)) / (2 * Z95)) ** 2)
        rows.append(_fit({"condition": cond, "target": "outcome", "measure": measure, "time_point": tp,
                          "scale": scale or None}, d, directions.get(measure) == "lower-better"))
    return pd.DataFrame(rows, columns=list(VV_COLUMNS))
