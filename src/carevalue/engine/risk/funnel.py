"""Spiegelhalter funnel plots: control limits around a target for proportions and O/E ratios.

Limits at 95% and 99.8% are drawn as a function of precision (patients n for a proportion,
expected events E for an indirectly standardised ratio). Overdispersion follows Spiegelhalter,
"Handling over-dispersion of performance indicators", Qual Saf Health Care 2005;14:347-51:
phi is the mean square of 10%-winsorised z-scores; limits widen by sqrt(phi) (multiplicative),
or a between-provider variance tau^2 is added (additive random effects). Exact limits for
small counts use the binomial/Poisson quantiles with interpolation (Spiegelhalter, Stat Med
2005;24:1185-1202, appendix A.1.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

FunnelKind = Literal["proportion", "ratio"]
Overdispersion = Literal["none", "multiplicative", "additive"]
LEVELS: tuple[float, ...] = (0.95, 0.998)

POINT_COLUMNS = ["provider", "precision", "value", "z", "z_adjusted"]


@dataclass(frozen=True)
class Funnel:
    """A funnel plot: one row per provider in `points` and the limit curves in `limits`."""

    kind: FunnelKind
    target: float
    overdispersion: Overdispersion
    phi: float
    tau2: float
    phi_p_value: float
    n_providers: int
    points: pd.DataFrame = field(repr=False)
    limits: pd.DataFrame = field(repr=False)

    def figure(self, title: str = ""):
        """A plotly figure of the funnel (points plus 95% and 99.8% limits)."""
        import plotly.graph_objects as go

        fig = go.Figure()
        for level, dash in zip(LEVELS, ("dash", "solid"), strict=True):
            cur = self.limits[self.limits["level"] == level]
            for side in ("lower", "upper"):
                fig.add_trace(go.Scatter(x=cur["precision"], y=cur[side], mode="lines",
                                         line={"dash": dash, "color": "grey"},
                                         name=f"{level:.1%} {side}", showlegend=side == "upper"))
        fig.add_hline(y=self.target, line_color="black")
        fig.add_trace(go.Scatter(x=self.points["precision"], y=self.points["value"],
                                 mode="markers", text=self.points["provider"], name="provider"))
        fig.update_layout(title=title, xaxis_title="expected events" if self.kind == "ratio"
                          else "patients", yaxis_title="O/E" if self.kind == "ratio" else "rate")
        return fig


def winsorised_phi(z: np.ndarray, fraction: float = 0.10) -> float:
    """Overdispersion factor: mean of squared z-scores after winsorising `fraction` at each end."""
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    if len(z) == 0:
        return float("nan")
    lo, hi = np.quantile(z, [fraction, 1 - fraction])
    return float(np.mean(np.clip(z, lo, hi) ** 2))


def additive_tau2(phi: float, s: np.ndarray) -> float:
    """Between-provider variance (DerSimonian-Laird form with the winsorised phi), 0 if phi small."""
    w = 1.0 / np.asarray(s, dtype=float) ** 2
    n = len(w)
    if n < 2 or n * phi <= n - 1:
        return 0.0
    return float((n * phi - (n - 1)) / (w.sum() - (w**2).sum() / w.sum()))


def _sd(kind: FunnelKind, target: float, precision: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        if kind == "proportion":
            return np.sqrt(target * (1 - target) / precision)
        return np.sqrt(target / precision)


def _exact_limit(kind: FunnelKind, target: float, precision: np.ndarray, p: float) -> np.ndarray:
    """Interpolated exact quantile limit (Spiegelhalter 2005 appendix) on the rate/ratio scale."""
    if kind == "proportion":
        nn = np.round(precision)
        dist = stats.binom(nn, target)
    else:
        nn = precision
        dist = stats.poisson(target * precision)
    r = dist.ppf(p)
    f_r, f_r1 = dist.cdf(r), dist.cdf(r - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(f_r > f_r1, (f_r - p) / (f_r - f_r1), 0.0)
        out = (r - a) / nn
    return np.where(precision > 0, out, np.nan)


def control_limits(
    kind: FunnelKind,
    target: float,
    precision: np.ndarray | Sequence[float],
    *,
    levels: Sequence[float] = LEVELS,
    phi: float = 1.0,
    tau2: float = 0.0,
    exact: bool = False,
) -> pd.DataFrame:
    """Limit curves: precision, level, lower, upper. Exact limits only without overdispersion."""
    prec = np.asarray(precision, dtype=float)
    s = _sd(kind, target, prec)
    rows = []
    for level in levels:
        z = stats.norm.ppf(1 - (1 - level) / 2)
        if exact and phi <= 1 and tau2 == 0:
            lower = _exact_limit(kind, target, prec, (1 - level) / 2)
            upper = _exact_limit(kind, target, prec, 1 - (1 - level) / 2)
        else:
            half = z * np.sqrt(max(phi, 1.0) * s**2 + tau2)
            lower, upper = target - half, target + half
        if kind == "proportion":
            lower, upper = np.clip(lower, 0, 1), np.clip(upper, 0, 1)
        else:
            lower = np.clip(lower, 0, None)
        rows.append(pd.DataFrame({"precision": prec, "level": level, "lower": lower,
                                  "upper": upper}))
    return pd.concat(rows, ignore_index=True)


def funnel(
    counts: pd.DataFrame,
    kind: FunnelKind = "ratio",
    *,
    overdispersion: Overdispersion = "multiplicative",
    target: float | None = None,
    winsor: float = 0.10,
    phi_test_alpha: float | None = None,
    exact: bool = False,
    grid_points: int = 200,
) -> Funnel:
    """Funnel plot data for per-provider counts (provider, n, observed[, expected]).

    kind='proportion': value = O/n, target = overall O/n unless given, precision = n.
    kind='ratio': value = O/E, target = 1, precision = E.
    `z` is the unadjusted z-score; `z_adjusted` accounts for overdispersion. phi is only applied
    when > 1 (and, if `phi_test_alpha` is given, only when I*phi exceeds the chi2(I-1) quantile).
    The per-provider limits at each level are columns lower_95/upper_95, lower_99_8/upper_99_8.
    """
    df = counts.copy()
    if kind == "ratio":
        df = df[df["expected"] > 0]
        precision = df["expected"].astype("float64").to_numpy()
        value = (df["observed"] / df["expected"]).astype("float64").to_numpy()
        tgt = 1.0 if target is None else target
    else:
        df = df[df["n"] > 0]
        precision = df["n"].astype("float64").to_numpy()
        value = (df["observed"] / df["n"]).astype("float64").to_numpy()
        total_n = precision.sum()
        tgt = target if target is not None else (
            float(df["observed"].sum() / total_n) if total_n else 0.0)
    s = _sd(kind, tgt, precision)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (value - tgt) / s
    n_prov = len(df)
    phi = winsorised_phi(z, winsor) if n_prov else float("nan")
    p_value = float(stats.chi2.sf(n_prov * phi, n_prov - 1)) if n_prov > 1 else float("nan")
    apply_phi = overdispersion != "none" and n_prov > 1 and phi > 1 and (
        phi_test_alpha is None or p_value < phi_test_alpha)
    use_phi, tau2 = 1.0, 0.0
    if apply_phi and overdispersion == "multiplicative":
        use_phi = phi
    elif apply_phi and overdispersion == "additive":
        tau2 = additive_tau2(phi, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_adj = (value - tgt) / np.sqrt(use_phi * s**2 + tau2)
    points = pd.DataFrame({"provider": df["provider"].to_numpy(), "precision": precision,
                           "value": value, "z": z, "z_adjusted": z_adj})
    own = control_limits(kind, tgt, precision, phi=use_phi, tau2=tau2, exact=exact)
    for level in LEVELS:
        tag = _tag(level)
        cur = own[own["level"] == level]
        points[f"lower_{tag}"] = cur["lower"].to_numpy()
        points[f"upper_{tag}"] = cur["upper"].to_numpy()
    if n_prov:
        lo_p = max(precision.min() * 0.8, 1e-9)
        grid = np.geomspace(lo_p, precision.max() * 1.1, grid_points)
    else:
        grid = np.array([])
    limits = control_limits(kind, tgt, grid, phi=use_phi, tau2=tau2, exact=exact)
    return Funnel(kind=kind, target=tgt, overdispersion=overdispersion if apply_phi else "none",
                  phi=phi, tau2=tau2, phi_p_value=p_value, n_providers=n_prov, points=points,
                  limits=limits)


def _tag(level: float) -> str:
    return f"{level * 100:g}".replace(".", "_")
