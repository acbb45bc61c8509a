"""Cross-validated calibration of Cox models (issue 10): in-sample the Poisson recalibration is 0 / 1
by construction, so the slope and intercept are measured on 5-fold out-of-fold predictions — a
correct model stays near 1, an overfitted one falls below 1, and a fold without events reports
nothing rather than a number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carevalue.engine.risk.casemix import fit_casemix
from carevalue.engine.risk.validation import cross_validated_cox, fold_weights, validate_cox


def cohort(n: int, noise: int, seed: int, beta: float = 0.8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(0, 1, n)})
    for j in range(noise):
        df[f"z{j}"] = rng.normal(0, 1, n)
    t = rng.exponential(5.0 / np.exp(beta * df.x))
    c = rng.uniform(0, 4, n)
    df["e"] = (t <= c).astype(float)
    df["t"] = np.minimum(t, c)
    return df


def test_correct_model_is_calibrated_out_of_fold() -> None:
    df = cohort(3000, 0, 1)
    v = validate_cox(df[["x"]], df.t.to_numpy(), df.e.to_numpy(), np.ones(len(df)))
    assert v.method == "5-fold cross-validated"
    assert v.calibration_slope == pytest.approx(1.0, abs=0.1)
    assert v.calibration_intercept == pytest.approx(0.0, abs=0.05)
    assert 0.65 < v.c_statistic < 0.75  # Harrell's C of a log-hazard ratio of 0.8 per SD
    # every event scored once, out of fold (an event before the training folds' first event time
    # has expected 0 and cannot enter the Poisson recalibration: at most a handful)
    assert df.e.sum() - 3 <= sum(d[2] for d in v.deciles) <= df.e.sum()


def test_overfitted_model_has_slope_below_one() -> None:
    # 20 pure-noise variables and ~45 events: the in-sample slope would still be 1 by construction
    slopes = []
    for seed in range(3):
        df = cohort(160, 20, 10 + seed, beta=0.3)
        cols = ["x"] + [f"z{j}" for j in range(20)]
        v = validate_cox(df[cols], df.t.to_numpy(), df.e.to_numpy(), np.ones(len(df)))
        assert v.calibration_slope is not None
        slopes.append(v.calibration_slope)
    assert np.mean(slopes) < 0.7


def test_each_patient_is_scored_once_by_a_model_that_did_not_see_them() -> None:
    df = cohort(200, 0, 3)
    w = np.ones(len(df))
    o, ex, lp, t, ww = cross_validated_cox(df[["x"]], df.t.to_numpy(), df.e.to_numpy(), w)
    assert len(o) == len(df) and ww.sum() == len(df)
    assert (fold_weights(w, 5, 0).sum(axis=1) == 1).all()
    assert (ex >= 0).all() and (ex > 0).mean() > 0.95  # 0 only before the first training event time


def test_fold_without_events_reports_no_calibration() -> None:
    df = cohort(40, 0, 4)
    df["e"] = 0.0
    df.loc[0, "e"] = 1.0  # one event: some training fold has none
    v = validate_cox(df[["x"]], df.t.to_numpy(), df.e.to_numpy(), np.ones(len(df)))
    assert v.calibration_slope is None and v.calibration_intercept is None
    assert "calibration not reported" in v.method


def test_fit_casemix_reports_the_cross_validated_cox_calibration() -> None:
    df = cohort(1500, 0, 5)
    m = fit_casemix(df, "e", ["x"], kind="cox", duration="t", horizon=3.0)
    assert m.status == "ok" and m.validation.startswith("5-fold cross-validated")
    assert m.calibration_slope == pytest.approx(1.0, abs=0.15)
