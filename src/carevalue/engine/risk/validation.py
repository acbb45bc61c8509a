"""How good a case-mix model is, measured honestly: discrimination with a confidence interval and
calibration on predictions the model did not see while fitting.

A logistic model's calibration slope and intercept on its own training data are 1 and 0 by
construction, so they are computed on K-fold cross-validated predictions (each patient scored by a
model fitted without them); the c-statistic and its DeLong interval use the same predictions.
Cox models are validated the same way (:func:`validate_cox`): each patient's expected events over
their own follow-up come from a model fitted on the other folds. Observed versus expected by decile
of predicted risk is what a calibration plot draws.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

FOLDS = 5
DECILE_COLUMNS = ("decile", "n", "observed", "expected", "mean_predicted")


@dataclass(frozen=True)
class Validation:
    """Discrimination and calibration of one model, with how they were obtained."""

    method: str
    c_statistic: float | None
    c_low: float | None
    c_high: float | None
    calibration_intercept: float | None
    calibration_slope: float | None
    deciles: tuple[tuple[int, int, float, float, float], ...] = ()

    def decile_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.deciles), columns=list(DECILE_COLUMNS))


def delong_ci(outcome: np.ndarray, score: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """c-statistic with the DeLong (1988) variance, computed from mid-ranks (Sun & Xu 2014)."""
    y = np.asarray(outcome, float)
    s = np.asarray(score, float)
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return float("nan"), float("nan"), float("nan")
    tz = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (tz[:m] - stats.rankdata(pos)) / n
    v01 = 1 - (tz[m:] - stats.rankdata(neg)) / m
    auc = float(v10.mean())
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    z = stats.norm.ppf(1 - alpha / 2)
    half = z * math.sqrt(max(var, 0.0))
    return auc, max(0.0, auc - half), min(1.0, auc + half)


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, float), 1e-12, 1 - 1e-12)
    return np.log(q / (1 - q))


def recalibration(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """Logistic recalibration: intercept with logit(p) as offset (calibration-in-the-large) and the
    slope of logit(p) (Cox 1958; Steyerberg, Clinical Prediction Models, ch. 15)."""
    from carevalue.engine.risk import glm as sm

    lp = logit(p)
    wt = np.ones_like(lp) if w is None else np.asarray(w, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp,
                   freq_weights=wt).fit().params[0]
        b = sm.GLM(y, sm.add_constant(lp, has_constant="add"), family=sm.families.Binomial(),
                   freq_weights=wt).fit().params[1]
    return float(a), float(b)


def deciles(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None, groups: int = 10,
            key: np.ndarray | None = None) -> tuple[tuple[int, int, float, float, float], ...]:
    """Observed and expected events by group of predicted risk (equal-size groups by rank of
    `key`, default the prediction itself)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    wt = np.ones_like(p) if w is None else np.asarray(w, float)
    order = np.argsort(p if key is None else np.asarray(key, float), kind="mergesort")
    cum = np.cumsum(wt[order])
    g = np.minimum((groups * (cum - wt[order]) / cum[-1]).astype(int), groups - 1)
    rows = []
    for k in range(groups):
        idx = order[g == k]
        if len(idx) == 0:
            continue
        n = float(wt[idx].sum())
        rows.append((k + 1, int(round(n)), float((y[idx] * wt[idx]).sum()),
                     float((p[idx] * wt[idx]).sum()), float((p[idx] * wt[idx]).sum() / n)))
    return tuple(rows)


def fold_weights(w: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(rows, folds) weights: each row's patients dealt to the folds. For unit weights each row is in
    one random fold; an aggregated row (w patients with one covariate pattern) is split as evenly as
    its count allows, so cross-validating the aggregated frame is cross-validating its patients."""
    rng = np.random.default_rng(seed)
    n = len(w)
    wi = np.rint(w).astype(np.int64)
    start = rng.permutation(np.arange(n) % folds)
    out = np.zeros((n, folds))
    for k in range(folds):
        out[:, k] = wi // folds + (((np.arange(folds)[k] - start) % folds) < (wi % folds))
    return out


def cross_validated_logistic(design: np.ndarray, y: np.ndarray, w: np.ndarray, *, folds: int = FOLDS,
                             seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Out-of-fold probabilities: (y, weight, p) per (row, fold) with weight > 0, each scored by a
    logistic model fitted on the other folds (None if a fold has no events or fails)."""
    from carevalue.engine.risk import glm as sm

    fw = fold_weights(w, folds, seed)
    ys, ws, ps = [], [], []
    for k in range(folds):
        test_w = fw[:, k]
        train_w = w - test_w
        train = train_w > 0
        yt = y[train]
        if len(yt) == 0 or yt.min() == yt.max():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = sm.GLM(yt, design[train], family=sm.families.Binomial(),
                             freq_weights=train_w[train]).fit()
            except Exception:  # a singular fold: no honest estimate
                return None
        if not np.all(np.isfinite(res.params)):
            return None
        test = test_w > 0
        ys.append(y[test])
        ws.append(test_w[test])
        ps.append(1 / (1 + np.exp(-(design[test] @ np.asarray(res.params)))))
    return np.concatenate(ys), np.concatenate(ws), np.concatenate(ps)


def validate_logistic(design: np.ndarray, y: np.ndarray, w: np.ndarray, *, folds: int = FOLDS,
                      seed: int = 0) -> Validation:
    """c-statistic (DeLong CI), calibration slope/intercept and deciles on cross-validated predictions."""
    cv = cross_validated_logistic(design, y, w, folds=folds, seed=seed)
    if cv is None:
        return Validation(f"{folds}-fold cross-validation failed (a fold had no events)", None, None,
                          None, None, None)
    yv, wv, p = cv
    if np.all(wv == 1):
        c, lo, hi = delong_ci(yv, p)
    else:
        c, lo, hi = delong_ci(np.repeat(yv, wv.astype(np.int64)), np.repeat(p, wv.astype(np.int64)))
    a, b = recalibration(yv, p, wv)
    return Validation(f"{folds}-fold cross-validated", _num(c), _num(lo), _num(hi), a, b, deciles(yv, p, wv))


def validate_counts(observed: np.ndarray, expected: np.ndarray, lp: np.ndarray, method: str) -> Validation:
    """Cox models: Poisson recalibration of each patient's observed events on expected events over
    their own follow-up (Crowson, Atkinson & Therneau, Stat Methods Med Res 2016;25:1692-706):
    intercept with log E as offset; slope of the linear predictor with log H0(t) as offset."""
    from carevalue.engine.risk import glm as sm

    o, e, x = (np.asarray(v, float) for v in (observed, expected, lp))
    keep = e > 0
    o, e, x = o[keep], e[keep], x[keep]
    if len(o) == 0 or o.sum() == 0:
        return Validation(method, None, None, None, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = sm.GLM(o, np.ones((len(o), 1)), family=sm.families.Poisson(), offset=np.log(e)).fit().params[0]
        b = sm.GLM(o, sm.add_constant(x, has_constant="add"), family=sm.families.Poisson(),
                   offset=np.log(e) - x).fit().params[1]
    return Validation(method, None, None, None, float(a), float(b), deciles(o, e, key=x))


def cross_validated_cox(design: pd.DataFrame | np.ndarray, t: np.ndarray, e: np.ndarray, w: np.ndarray, *,
                        folds: int = FOLDS, seed: int = 0, start: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Out-of-fold Cox predictions: (observed, expected, linear predictor, time, weight) per (row,
    fold) with weight > 0, each row's expected events H0(t)·exp(x'β) from a model fitted on the
    other folds (None, with nothing guessed, if a training fold has no events or does not fit).
    ``start``: coefficients each fold's Newton iterations start from (the full-data fit: a warm
    start reaches the same maximum in fewer steps)."""
    from carevalue.engine.risk.coxph import CoxFitError, fit_cox

    x = np.asarray(design, float).reshape(len(t), -1)
    t, e, w = np.asarray(t, float), np.asarray(e, float), np.asarray(w, float)
    fw = fold_weights(w, folds, seed)
    out: list[list[np.ndarray]] = [[], [], [], [], []]
    for k in range(folds):
        test_w = fw[:, k]
        train_w = w - test_w
        train = train_w > 0
        if (e[train] * train_w[train]).sum() == 0:
            return None
        try:
            fit = fit_cox(x[train], t[train], e[train], train_w[train], start=start)
        except CoxFitError:
            return None
        if not fit.converged or (np.abs(fit.params) > 15).any():
            return None
        test = test_w > 0
        lp = fit.linear_predictor(x[test])
        h0 = fit.cumulative_hazard(t[test])
        for acc, v in zip(out, (e[test], h0 * np.exp(lp), lp, t[test], test_w[test]), strict=True):
            acc.append(np.asarray(v, float))
    o, ex, lp, tt, ww = (np.concatenate(a) for a in out)
    return o, ex, lp, tt, ww


def validate_cox(design: pd.DataFrame | np.ndarray, t: np.ndarray, e: np.ndarray, w: np.ndarray, *,
                 folds: int = FOLDS, seed: int = 0, start: np.ndarray | None = None) -> Validation:
    """Harrell's C, calibration intercept/slope (Poisson recalibration, as :func:`validate_counts`)
    and deciles on K-fold cross-validated Cox predictions; nothing reported when a fold fails."""
    cv = cross_validated_cox(design, t, e, w, folds=folds, seed=seed, start=start)
    if cv is None:
        return Validation(f"{folds}-fold cross-validation failed (a training fold had no events or "
                          "did not converge): calibration not reported", None, None, None, None, None)
    o, ex, lp, tt, ww = cv
    v = validate_counts(o * ww, ex * ww, lp, f"{folds}-fold cross-validated")
    c = harrell_c(tt, lp, o, ww)
    return Validation(v.method, _num(c), None, None, v.calibration_intercept, v.calibration_slope, v.deciles)


def harrell_c(t: np.ndarray, lp: np.ndarray, e: np.ndarray, w: np.ndarray | None = None) -> float:
    """Harrell's C of a risk score ``lp`` (higher = earlier event) for times ``t`` and events ``e``,
    with frequency weights: over pairs where patient i had the event before j left follow-up (a
    patient censored at i's event time counts as followed longer; tied event times do not pair),
    the share where lp_i > lp_j, ties in lp counting one half — lifelines' ``concordance_index``
    convention, computed in O(n log² n) with numpy (bitwise rank counting) instead of a Python tree."""
    t, lp, e = np.asarray(t, float), np.asarray(lp, float), np.asarray(e, float) > 0
    w = np.ones(len(t)) if w is None else np.asarray(w, float)
    # order by exit, latest first; at one time the censored before the events (they outlast them)
    order = np.lexsort((e, -t))
    t, lp, e, w = t[order], lp[order], e[order], w[order]
    n = len(t)
    if n == 0 or not e.any():
        return float("nan")
    new_group = np.concatenate([[True], (t[1:] != t[:-1]) | (e[1:] != e[:-1])])
    gstart = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))  # first row of the tie group
    cumw = np.concatenate([[0.0], np.cumsum(w)])
    rank = np.unique(lp, return_inverse=True)[1].astype(np.int64)
    below = _weight_before(rank, rank, gstart, w)  # earlier rows (longer follow-up) with lower lp
    upto = _weight_before(rank, rank + 1, gstart, w)
    pairs = float((w * cumw[gstart])[e].sum())
    if pairs == 0:
        return float("nan")
    return float((w * (below + 0.5 * (upto - below)))[e].sum() / pairs)


def _weight_before(rank: np.ndarray, q: np.ndarray, stop: np.ndarray, w: np.ndarray) -> np.ndarray:
    """For each row i: total weight of rows j < stop[i] with rank[j] < q[i], by counting, for every
    bit b set in q[i], the rows sharing q[i]'s bits above b whose bit b is 0."""
    n = len(rank)
    pos = np.arange(n)
    out = np.zeros(n)
    for b in range(int(max(q.max(), 1)).bit_length()):
        prefix = rank >> (b + 1)
        zero = ((rank >> b) & 1) == 0
        key = prefix[zero] * n + pos[zero]
        srt = np.argsort(key, kind="mergesort")
        key, cw = key[srt], np.concatenate([[0.0], np.cumsum(w[zero][srt])])
        hit = ((q >> b) & 1) == 1
        base = (q >> (b + 1)) * n
        lo, hi = np.searchsorted(key, base), np.searchsorted(key, base + stop)
        out += np.where(hit, cw[hi] - cw[lo], 0.0)
    return out


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def parameters_per_variable(frame: pd.DataFrame, variables: Sequence[str],
                            categorical: Sequence[str]) -> dict[str, int]:
    """Design columns each variable costs: 1 if numeric, levels - 1 if categorical."""
    out = {}
    for v in variables:
        out[v] = max(int(frame[v].dropna().nunique()) - 1, 0) if v in categorical else 1
    return out
