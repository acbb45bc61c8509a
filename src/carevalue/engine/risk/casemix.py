"""Case-mix models: fit a patient-level risk model for one measure and report how good it is.

Logistic (binary), linear (continuous) or Cox (time-to-event) models are fitted on a pandas frame
(per patient, or aggregated with a frequency-weight column) from variable names given by the
measure's definition. A model that cannot be fitted is returned with a status and a readable
message instead of raising, so one bad measure never stops a whole run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from carevalue.engine.risk.validation import (
    harrell_c,
    validate_counts,
    validate_cox,
    validate_logistic,
)

ModelKind = Literal["logistic", "linear", "cox"]
ModelStatus = Literal["ok", "empty", "no-variation", "separation", "not-converged", "error"]

INTERCEPT = "const"


class RiskModelError(ValueError):
    """Raised when a model that is not usable (status != 'ok') is applied to data."""


@dataclass(frozen=True)
class CaseMixModel:
    """A fitted case-mix model: coefficients plus the encoding needed to score new rows.

    `terms` maps each design column to (variable, level): level is None for a numeric variable
    and the category value for an indicator of a categorical variable (reference level omitted).
    For Cox models the linear predictor is centred on `means` (lifelines' convention) and
    `baseline_cumhaz` holds the baseline cumulative hazard as (time, H0) pairs.
    """

    kind: ModelKind
    outcome: str
    variables: tuple[str, ...]
    status: ModelStatus
    message: str = ""
    coefficients: Mapping[str, float] = field(default_factory=dict)
    std_errors: Mapping[str, float] = field(default_factory=dict)
    terms: Mapping[str, tuple[str, object | None]] = field(default_factory=dict)
    means: Mapping[str, float] = field(default_factory=dict)
    baseline_cumhaz: tuple[tuple[float, float], ...] = ()
    horizon: float | None = None
    duration: str | None = None
    n: int = 0
    n_events: float = 0.0
    c_statistic: float | None = None
    calibration_in_the_large: float | None = None
    calibration_slope: float | None = None
    observed_total: float | None = None
    expected_total: float | None = None
    residual_sd: float | None = None
    c_low: float | None = None
    c_high: float | None = None
    parameters: int = 0
    validation: str = ""
    deciles: tuple[tuple[int, int, float, float, float], ...] = ()

    @property
    def usable(self) -> bool:
        return self.status == "ok"

    def summary(self) -> pd.DataFrame:
        """One tidy row per coefficient (term, estimate, std_error, odds/hazard ratio when apt)."""
        rows = []
        for term, est in self.coefficients.items():
            se = self.std_errors.get(term, float("nan"))
            row = {"term": term, "estimate": est, "std_error": se}
            if self.kind in ("logistic", "cox"):
                row["ratio"] = math.exp(est)
            rows.append(row)
        return pd.DataFrame(rows, columns=["term", "estimate", "std_error", "ratio"])

    def performance(self) -> dict[str, object]:
        """Discrimination and calibration, reported beside every comparison that uses the model."""
        return {
            "kind": self.kind,
            "outcome": self.outcome,
            "status": self.status,
            "message": self.message,
            "n": self.n,
            "n_events": self.n_events,
            "parameters": self.parameters,
            "c_statistic": self.c_statistic,
            "c_low": self.c_low,
            "c_high": self.c_high,
            "validation": self.validation,
            "calibration_in_the_large": self.calibration_in_the_large,
            "calibration_slope": self.calibration_slope,
            "observed_total": self.observed_total,
            "expected_total": self.expected_total,
        }


def _encode(
    frame: pd.DataFrame,
    variables: Sequence[str],
    categorical: Mapping[str, Sequence[object]] | None,
) -> tuple[pd.DataFrame, dict[str, tuple[str, object | None]]]:
    """Design matrix (no intercept) and the term map that `score_expression` replays in Ibis."""
    categorical = categorical or {}
    columns: dict[str, pd.Series] = {}
    terms: dict[str, tuple[str, object | None]] = {}
    for var in variables:
        if var in categorical:
            levels = list(categorical[var])
            for level in levels[1:]:
                name = f"{var}[{level}]"
                columns[name] = (frame[var] == level).astype("float64")
                terms[name] = (var, level)
        else:
            columns[var] = pd.to_numeric(frame[var], errors="coerce").astype("float64")
            terms[var] = (var, None)
    return pd.DataFrame(columns, index=frame.index), terms


def _levels(frame: pd.DataFrame, variables: Sequence[str], categorical: Sequence[str]) -> dict:
    out: dict[str, list[object]] = {}
    for var in variables:
        if var in categorical:
            # Reference level = the most frequent, so coefficients compare with the usual patient.
            counts = frame[var].dropna().value_counts()
            out[var] = list(counts.index)
    return out


def c_statistic(outcome: np.ndarray, score: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (Mann-Whitney), i.e. the c-statistic of a binary-outcome model."""
    y = np.asarray(outcome, dtype=float)
    s = np.asarray(score, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    pos, neg = y == 1, y == 0
    wp, wn = (w * pos).sum(), (w * neg).sum()
    if wp == 0 or wn == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    s_sorted, y_sorted, w_sorted = s[order], y[order], w[order]
    # Weighted mid-ranks over ties: for each distinct score, negatives strictly below plus half ties.
    uniq, start = np.unique(s_sorted, return_index=True)
    neg_w = np.add.reduceat(w_sorted * (y_sorted == 0), start)
    pos_w = np.add.reduceat(w_sorted * (y_sorted == 1), start)
    below = np.concatenate([[0.0], np.cumsum(neg_w)[:-1]])
    concordant = (pos_w * (below + 0.5 * neg_w)).sum()
    return float(concordant / (wp * wn))


def _empty(kind: ModelKind, outcome: str, variables: Sequence[str], status: ModelStatus, msg: str,
           n: int = 0, n_events: float = 0.0) -> CaseMixModel:
    return CaseMixModel(kind=kind, outcome=outcome, variables=tuple(variables), status=status,
                        message=msg, n=n, n_events=n_events)


def fit_casemix(
    frame: pd.DataFrame,
    outcome: str,
    variables: Sequence[str],
    kind: ModelKind = "logistic",
    *,
    categorical: Sequence[str] = (),
    weights: str | None = None,
    duration: str | None = None,
    horizon: float | None = None,
) -> CaseMixModel:
    """Fit a case-mix model for `outcome` on `variables`; never raises on data problems.

    kind='logistic' needs a 0/1 outcome; 'linear' a numeric one; 'cox' a 0/1 event column
    (`outcome`) plus a `duration` column, and `horizon` (the template's time point) for the
    expected probability of an event by then. `weights` names a frequency-weight column so an
    aggregated frame (one row per covariate pattern) fits the same model as per-patient rows.
    Rows with a missing outcome or variable are left out and counted in the message.
    """
    variables = list(variables)
    needed = [outcome, *variables] + ([weights] if weights else []) + ([duration] if duration else [])
    missing_cols = [c for c in needed if c not in frame.columns]
    if missing_cols:
        return _empty(kind, outcome, variables, "error", f"columns not in frame: {missing_cols}")
    data = _canonical(frame[needed].dropna())
    dropped = len(frame) - len(data)
    note = f"; {dropped} rows with missing values left out" if dropped else ""
    if data.empty:
        return _empty(kind, outcome, variables, "empty", "no eligible patients with complete data" + note)
    levels = _levels(data, variables, categorical)
    X, terms = _encode(data, variables, levels)
    y = pd.to_numeric(data[outcome], errors="coerce").astype("float64")
    w = data[weights].astype("float64") if weights else pd.Series(1.0, index=data.index)
    n = int(w.sum())
    if kind == "cox":
        return _fit_cox(data, X, terms, y, w, outcome, variables, duration, horizon, note)
    n_events = float((y * w).sum()) if kind == "logistic" else 0.0
    if kind == "logistic":
        if not set(np.unique(y)).issubset({0.0, 1.0}):
            return _empty(kind, outcome, variables, "error", f"outcome '{outcome}' is not 0/1", n)
        if n_events == 0 or n_events == n:
            return _empty(kind, outcome, variables, "no-variation",
                          f"outcome '{outcome}' is {'never' if n_events == 0 else 'always'} observed"
                          f" in {n} patients: nothing to model" + note, n, n_events)
    elif y.nunique() < 2:
        return _empty(kind, outcome, variables, "no-variation",
                      f"outcome '{outcome}' does not vary in {n} patients" + note, n)
    return _fit_glm(X, terms, y, w, kind, outcome, variables, n, n_events, note)


def _canonical(data: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by all their values: the cross-validation folds and the reference level of a
    tie are dealt by position, so this makes a fit independent of the order a backend returned the
    rows in (identical rows are interchangeable)."""
    return data.sort_values(list(data.columns), kind="mergesort") if len(data.columns) else data


def _fit_glm(X, terms, y, w, kind, outcome, variables, n, n_events, note) -> CaseMixModel:
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    from carevalue.engine.risk import glm as sm

    design = sm.add_constant(X, has_constant="add")
    family = sm.families.Binomial() if kind == "logistic" else sm.families.Gaussian()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.GLM(y, design, family=family, freq_weights=w).fit()
        except Exception as exc:  # statsmodels raises several types on singular designs
            return _empty(kind, outcome, variables, "error", f"model fit failed: {exc}", n, n_events)
    categories = {c.category for c in caught}
    params = result.params
    if not np.all(np.isfinite(params)):
        return _empty(kind, outcome, variables, "error",
                      "model fit gave non-finite coefficients (collinear or constant variables?)",
                      n, n_events)
    if kind == "logistic" and (PerfectSeparationWarning in categories or not result.converged
                               or ConvergenceWarning in categories):
        lp = np.asarray(design @ params, dtype=float)
        yv = y.to_numpy()
        if lp[yv == 1].min() >= lp[yv == 0].max() or lp[yv == 1].max() <= lp[yv == 0].min():
            categories.add(PerfectSeparationWarning)
    if PerfectSeparationWarning in categories:
        return _empty(kind, outcome, variables, "separation",
                      "perfect separation: some case-mix variable predicts the outcome exactly, so "
                      "the model cannot converge; drop or merge that variable" + note, n, n_events)
    if ConvergenceWarning in categories or not result.converged:
        return _empty(kind, outcome, variables, "not-converged",
                      "model did not converge" + note, n, n_events)
    coefs = {(INTERCEPT if k == "const" else str(k)): float(v) for k, v in params.items()}
    ses = {(INTERCEPT if k == "const" else str(k)): float(v) for k, v in result.bse.items()}
    fitted = np.asarray(result.fittedvalues, dtype=float)
    yv, wv = y.to_numpy(), w.to_numpy()
    obs_total, exp_total = float((yv * wv).sum()), float((fitted * wv).sum())
    cstat = citl = slope = resid_sd = c_lo = c_hi = None
    method = ""
    dec: tuple[tuple[int, int, float, float, float], ...] = ()
    if kind == "logistic":
        if X.shape[1] == 0:
            method = "crude rates: no case-mix model, so no discrimination or calibration to report"
        else:
            v = validate_logistic(np.asarray(design, float), yv, wv)
            cstat, c_lo, c_hi = v.c_statistic, v.c_low, v.c_high
            citl, slope, method, dec = v.calibration_intercept, v.calibration_slope, v.method, v.deciles
    else:
        resid_sd = float(np.sqrt(np.average((yv - fitted) ** 2, weights=wv)))
        citl = float((obs_total - exp_total) / wv.sum())
        method = "apparent (in-sample) mean residual"
    return CaseMixModel(
        kind=kind, outcome=outcome, variables=tuple(variables), status="ok",
        message="fitted" + note, coefficients=coefs, std_errors=ses, terms=terms, n=n,
        n_events=n_events, c_statistic=cstat, calibration_in_the_large=citl,
        calibration_slope=slope, observed_total=obs_total, expected_total=exp_total,
        residual_sd=resid_sd, c_low=c_lo, c_high=c_hi, parameters=X.shape[1], validation=method,
        deciles=dec,
    )


def _fit_cox(data, X, terms, events, w, outcome, variables, duration, horizon, note) -> CaseMixModel:
    from carevalue.engine.risk.coxph import CoxFitError, fit_cox

    kind: ModelKind = "cox"
    if duration is None:
        return _empty(kind, outcome, variables, "error", "a Cox model needs a duration column")
    n, n_events = int(w.sum()), float((events * w).sum())
    if horizon is not None:
        n_events = float((events * w * (data[duration] <= horizon)).sum())
    if n_events == 0:
        return _empty(kind, outcome, variables, "no-variation",
                      f"no events of '{outcome}' among {n} patients: nothing to model" + note,
                      n, n_events)
    t = data[duration].to_numpy(float)
    e = events.to_numpy(float)
    if horizon is not None:
        # Administrative censoring at the template's time point: the model is for that horizon.
        e = np.where(t > horizon, 0.0, e)
        t = np.minimum(t, horizon)
        n_events = float((e * w.to_numpy(float)).sum())
    x = X.to_numpy(float)
    try:
        cph = fit_cox(x, t, e, w.to_numpy(float))
    except CoxFitError as exc:
        return _empty(kind, outcome, variables, "not-converged",
                      f"Cox model did not converge: {exc}" + note, n, n_events)
    if not cph.converged or (np.abs(cph.params) > 15).any():
        return _empty(kind, outcome, variables, "separation",
                      "a case-mix variable predicts the event almost perfectly; the Cox model "
                      "cannot converge" + note, n, n_events)
    cumhaz = tuple((float(a), float(b)) for a, b in zip(cph.times, cph.cumhaz, strict=True))
    names = [str(c) for c in X.columns]
    model = CaseMixModel(
        kind=kind, outcome=outcome, variables=tuple(variables), status="ok", message="fitted" + note,
        coefficients=dict(zip(names, map(float, cph.params), strict=True)),
        std_errors=dict(zip(names, map(float, cph.std_errors), strict=True)),
        terms=terms, means=dict(zip(names, map(float, cph.means), strict=True)), baseline_cumhaz=cumhaz,
        horizon=horizon, duration=duration, n=n, n_events=n_events,
    )
    exp_events = expected_events(data, model)
    obs, exp = n_events, float((exp_events * w).sum())
    # In-sample, the Cox score equations make the Poisson recalibration intercept 0 and slope 1 by
    # construction, so calibration (and C) are measured on 5-fold cross-validated predictions
    # (each fold's fit starts from these coefficients: a warm start, same maximum).
    cv = validate_cox(x, t, e, w.to_numpy(float), start=cph.params)
    if cv.calibration_slope is None:
        lp = cph.linear_predictor(x)
        v = validate_counts(e * w.to_numpy(), exp_events.to_numpy() * w.to_numpy(), lp, "apparent")
        c = harrell_c(t, lp, e, w.to_numpy(float))
        return CaseMixModel(**{**model.__dict__, "c_statistic": float(c),
                               "calibration_in_the_large": None, "calibration_slope": None,
                               "validation": f"apparent (in-sample) Harrell's C; {cv.method}; deciles apparent",
                               "deciles": v.deciles, "parameters": X.shape[1],
                               "observed_total": obs, "expected_total": exp})
    return CaseMixModel(**{**model.__dict__, "c_statistic": cv.c_statistic,
                           "calibration_in_the_large": cv.calibration_intercept,
                           "calibration_slope": cv.calibration_slope,
                           "validation": f"{cv.method} (Harrell's C; Poisson recalibration of events "
                           "over each patient's follow-up; deciles of the linear predictor)",
                           "deciles": cv.deciles, "parameters": X.shape[1],
                           "observed_total": obs, "expected_total": exp})


def linear_predictor(frame: pd.DataFrame, model: CaseMixModel) -> pd.Series:
    """x'beta for each row (centred for Cox), computed in pandas."""
    _require(model)
    lp = pd.Series(model.coefficients.get(INTERCEPT, 0.0), index=frame.index, dtype="float64")
    for term, (var, level) in model.terms.items():
        col = (frame[var] == level).astype("float64") if level is not None else frame[var].astype(
            "float64")
        lp = lp + model.coefficients[term] * (col - model.means.get(term, 0.0))
    return lp


def cumulative_hazard_at(model: CaseMixModel, t: np.ndarray | float) -> np.ndarray:
    """Baseline cumulative hazard H0(t) (step function, right-continuous)."""
    times = np.array([p[0] for p in model.baseline_cumhaz])
    values = np.array([p[1] for p in model.baseline_cumhaz])
    idx = np.searchsorted(times, np.asarray(t, dtype=float), side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], 0.0)


def expected(frame: pd.DataFrame, model: CaseMixModel) -> pd.Series:
    """Expected value per row: probability (logistic), mean (linear), or for Cox the probability
    of the event by the model's horizon."""
    lp = linear_predictor(frame, model)
    if model.kind == "logistic":
        return 1.0 / (1.0 + np.exp(-lp))
    if model.kind == "linear":
        return lp
    if model.horizon is None:
        raise RiskModelError("Cox model has no horizon: use expected_events() or refit with horizon")
    return 1.0 - np.exp(-cumulative_hazard_at(model, model.horizon) * np.exp(lp))


def observed_events(frame: pd.DataFrame, model: CaseMixModel) -> pd.Series:
    """Cox: 1 where the event happened by the model's horizon (the O matching `expected_events`)."""
    if model.kind != "cox" or model.duration is None:
        raise RiskModelError("observed_events() is for Cox models")
    ev = frame[model.outcome].astype("float64")
    if model.horizon is None:
        return ev
    return ev * (frame[model.duration].astype("float64") <= model.horizon)


def expected_events(frame: pd.DataFrame, model: CaseMixModel) -> pd.Series:
    """Cox: expected number of events over each patient's own follow-up (capped at horizon),
    H0(min(t_i, horizon)) * exp(lp_i) — the registries' expected count for O/E under censoring."""
    if model.kind != "cox" or model.duration is None:
        raise RiskModelError("expected_events() is for Cox models; use expected()")
    lp = linear_predictor(frame, model)
    t = frame[model.duration].astype("float64").to_numpy()
    if model.horizon is not None:
        t = np.minimum(t, model.horizon)
    return pd.Series(cumulative_hazard_at(model, t) * np.exp(lp.to_numpy()), index=frame.index)


def _require(model: CaseMixModel) -> None:
    if not model.usable:
        raise RiskModelError(
            f"case-mix model for '{model.outcome}' is not usable ({model.status}): {model.message}"
        )


MIN_AT_RISK = 11


def kaplan_meier_at(
    frame: pd.DataFrame,
    duration: str,
    event: str,
    times: Sequence[float],
    *,
    by: str | None = None,
    alpha: float = 0.05,
    min_at_risk: int = MIN_AT_RISK,
) -> pd.DataFrame:
    """Kaplan-Meier survival at the template's time points, overall or per group, with log(-log)
    confidence limits; each patient counts in the risk set until their own follow-up ends.

    A time point with fewer than `min_at_risk` patients still at risk, or beyond the longest
    follow-up, is "not estimable": survival and limits are null and `at_risk` and `censored` (patients
    whose follow-up ended before it without the event) say why."""
    cols = ["group", "time", "n", "events", "censored", "at_risk", "survival", "lower", "upper",
            "status", "reason"]
    data = frame[[duration, event] + ([by] if by else [])].dropna()
    if data.empty:
        return pd.DataFrame(columns=cols)
    groups = data.groupby(by, sort=True) if by else [(None, data)]
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for key, g in groups:
        t = g[duration].to_numpy(dtype=float)
        e = g[event].to_numpy(dtype=float)
        all_times, inverse = np.unique(t, return_inverse=True)
        d_all = np.bincount(inverse, weights=e)
        n_all = np.bincount(inverse)
        r_all = len(t) - np.concatenate([[0], np.cumsum(n_all)[:-1]])
        keep = d_all > 0
        event_times, d, r = all_times[keep], d_all[keep], r_all[keep]
        surv = np.cumprod(1 - d / r)
        with np.errstate(divide="ignore", invalid="ignore"):
            gw = np.cumsum(d / (r * (r - d)))
        longest = float(t.max())
        for tp in times:
            k = np.searchsorted(event_times, tp, side="right") - 1
            s = float(surv[k]) if k >= 0 else 1.0
            var = float(gw[k]) if k >= 0 else 0.0
            if 0 < s < 1 and np.isfinite(var):
                se = math.sqrt(var) / abs(math.log(s))
                lo, hi = s ** math.exp(z * se), s ** math.exp(-z * se)
            else:
                lo = hi = s
            at_risk = int((t >= tp).sum())
            censored = int(((t < tp) & (e == 0)).sum())
            status, reason = "ok", None
            if tp > longest:
                status, reason = "not estimable", (f"beyond the data's follow-up (longest {longest:g}); "
                                                   f"{at_risk} at risk, {censored} censored before it")
            elif at_risk < min_at_risk:
                status, reason = "not estimable", (f"{at_risk} at risk (< {min_at_risk}); "
                                                   f"{censored} censored before it")
            if status != "ok":
                s = lo = hi = float("nan")
            rows.append({"group": key, "time": tp, "n": len(t), "events": int(e[t <= tp].sum()),
                         "censored": censored, "at_risk": at_risk, "survival": s, "lower": lo,
                         "upper": hi, "status": status, "reason": reason})
    return pd.DataFrame(rows, columns=cols)


MIN_EVENTS_PER_PARAMETER = 10


@dataclass(frozen=True)
class InformationCheck:
    """Which case-mix variables the data can support at MIN_EVENTS_PER_PARAMETER events each.

    `events` is the limiting count: the smaller of events and non-events for a binary outcome, the
    patients for a continuous one. `adjustment` is 'case-mix', 'reduced case-mix', 'crude' (no
    variable supported: expected = the overall rate) or 'insufficient data' (fewer events than one
    parameter needs)."""

    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    events: float
    parameters: int
    adjustment: str
    note: str


def check_information(frame: pd.DataFrame, variables: Sequence[str], categorical: Sequence[str],
                      events: float, *, min_epv: int = MIN_EVENTS_PER_PARAMETER) -> InformationCheck:
    """Drop variables from the end of the measure's list (its least important, by content order)
    until every case-mix parameter has at least `min_epv` events; say which were dropped."""
    from carevalue.engine.risk.validation import parameters_per_variable

    cost = parameters_per_variable(frame, variables, categorical)
    kept = list(variables)
    while kept and sum(cost[v] for v in kept) * min_epv > events:
        kept.pop()
    dropped = tuple(v for v in variables if v not in kept)
    params = sum(cost[v] for v in kept)
    ev = f"{events:g} events"
    if events < min_epv:
        return InformationCheck((), tuple(variables), events, 0, "insufficient data",
                                f"{ev}: fewer than {min_epv}, too few for any comparison")
    if not variables:
        return InformationCheck((), (), events, 0, "crude", "no case-mix variables: crude rates")
    if not kept:
        return InformationCheck((), dropped, events, 0, "crude",
                                f"{ev} support no case-mix parameter at {min_epv} per parameter: crude "
                                f"rates (left out: {', '.join(dropped)})")
    if dropped:
        return InformationCheck(tuple(kept), dropped, events, params, "reduced case-mix",
                                f"{ev} for {params} parameters ({min_epv} per parameter): left out "
                                f"{', '.join(dropped)}")
    return InformationCheck(tuple(kept), (), events, params, "case-mix",
                            f"{ev} for {params} case-mix parameters")
