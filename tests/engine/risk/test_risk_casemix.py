"""Case-mix models: coefficients, backend scoring, performance, failure statuses, censoring."""

import ibis
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from lifelines import KaplanMeierFitter
from scipy import stats

from carevalue.engine.risk.casemix import (
    RiskModelError,
    c_statistic,
    expected,
    expected_events,
    fit_casemix,
    kaplan_meier_at,
    observed_events,
)
from carevalue.engine.risk.scoring import score_expression


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 4000
    df = pd.DataFrame({
        "age": rng.normal(70, 8, n),
        "asa": rng.choice(["1", "2", "3"], n, p=[0.3, 0.5, 0.2]),
        "female": rng.integers(0, 2, n),
    })
    lp = -2.5 + 0.05 * (df.age - 70) + np.where(df.asa == "3", 1.0, np.where(df.asa == "2", 0.4, 0))
    df["event"] = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    df["score"] = 50 - 0.3 * (df.age - 70) + rng.normal(0, 5, n)
    t = rng.exponential(8 / np.exp(lp + 2.5))
    c = rng.uniform(0, 12, n)
    df["died"] = (t <= c).astype(int)
    df["years"] = np.minimum(t, c)
    return df


def test_logistic_recovers_planted_coefficients(patients):
    m = fit_casemix(patients, "event", ["age", "asa", "female"], categorical=["asa"])
    assert m.status == "ok"
    # reference level is the most frequent ('2'); asa 3 vs 2 planted at 0.6, age at 0.05
    assert m.coefficients["age"] == pytest.approx(0.05, abs=0.015)
    # same fit as an independent statsmodels formula fit with the same reference level
    ref = smf.logit("event ~ age + C(asa, Treatment('2')) + female", patients).fit(disp=0).params
    assert m.coefficients["asa[3]"] == pytest.approx(ref["C(asa, Treatment('2'))[T.3]"], rel=1e-6)
    assert m.coefficients["asa[1]"] == pytest.approx(ref["C(asa, Treatment('2'))[T.1]"], rel=1e-6)
    assert m.coefficients["const"] == pytest.approx(ref["Intercept"], rel=1e-6)
    assert m.observed_total == pytest.approx(m.expected_total, rel=1e-6)
    # calibration on 5-fold cross-validated predictions (in-sample it would be 0 and 1 by
    # construction): a correctly specified model is close to, not exactly at, perfect calibration
    assert m.validation == "5-fold cross-validated"
    assert abs(m.calibration_in_the_large) < 0.2 and 0.7 < m.calibration_slope < 1.3
    assert 0.55 < m.c_statistic < 0.8 and m.c_low < m.c_statistic < m.c_high
    assert m.parameters == 4 and len(m.deciles) == 10
    assert sum(d[2] for d in m.deciles) == pytest.approx(m.observed_total)
    assert set(m.summary()["term"]) == {"const", "age", "asa[1]", "asa[3]", "female"}


def test_score_expression_in_duckdb_equals_pandas(patients):
    m = fit_casemix(patients, "event", ["age", "asa", "female"], categorical=["asa"])
    con = ibis.duckdb.connect()
    t = con.create_table("p", ibis.memtable(patients))
    scored = t.mutate(p=score_expression(t, m)).to_pandas()
    np.testing.assert_allclose(scored["p"].to_numpy(), expected(patients, m).to_numpy(), rtol=1e-12)


def test_linear_model_and_scoring(patients):
    m = fit_casemix(patients, "score", ["age"], kind="linear")
    assert m.status == "ok"
    assert m.coefficients["age"] == pytest.approx(-0.3, abs=0.05)
    assert m.residual_sd == pytest.approx(5, abs=0.3)
    t = ibis.memtable(patients)
    got = t.select(e=score_expression(t, m)).to_pandas()["e"].to_numpy()
    np.testing.assert_allclose(got, expected(patients, m).to_numpy(), rtol=1e-12)


def test_aggregated_frame_with_weights_fits_same_model(patients):
    df = patients.assign(old=(patients.age > 70).astype(int))
    per_patient = fit_casemix(df, "event", ["old", "female"])
    agg = df.groupby(["old", "female", "event"]).size().rename("count").reset_index()
    aggregated = fit_casemix(agg, "event", ["old", "female"], weights="count")
    for k, v in per_patient.coefficients.items():
        assert aggregated.coefficients[k] == pytest.approx(v, rel=1e-6)
    # cross-validation deals an aggregated row's patients to the folds, so both validate alike
    assert aggregated.c_statistic == pytest.approx(per_patient.c_statistic, abs=0.03)
    assert aggregated.calibration_slope == pytest.approx(per_patient.calibration_slope, abs=0.5)
    assert aggregated.n == len(df)


def test_c_statistic_equals_mann_whitney():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y * 0.5, 1), 1)  # rounding creates ties
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert c_statistic(y, s) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))


def test_perfect_separation_gives_status_not_crash():
    df = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6, 7, 8.0], "y": [0, 0, 0, 0, 1, 1, 1, 1]})
    m = fit_casemix(df, "y", ["x"])
    assert m.status == "separation"
    assert "perfect separation" in m.message
    assert not m.usable
    with pytest.raises(RiskModelError, match="not usable"):
        expected(df, m)


def test_no_eligible_patients_and_no_variation():
    empty = pd.DataFrame({"x": pd.Series([], dtype=float), "y": pd.Series([], dtype=float)})
    m = fit_casemix(empty, "y", ["x"])
    assert m.status == "empty" and "no eligible patients" in m.message
    flat = pd.DataFrame({"x": [1.0, 2, 3], "y": [0, 0, 0]})
    assert fit_casemix(flat, "y", ["x"]).status == "no-variation"
    missing = fit_casemix(flat, "y", ["nope"])
    assert missing.status == "error" and "nope" in missing.message


def test_rows_with_missing_values_are_counted(patients):
    df = patients.copy()
    df.loc[:9, "age"] = np.nan
    m = fit_casemix(df, "event", ["age"])
    assert m.n == len(df) - 10
    assert "10 rows with missing values" in m.message


def test_cox_model_with_censoring_and_horizon(patients):
    m = fit_casemix(patients, "died", ["age", "asa"], kind="cox", categorical=["asa"],
                    duration="years", horizon=5.0)
    assert m.status == "ok"
    assert m.coefficients["age"] == pytest.approx(0.05, abs=0.015)
    # sum of expected events over own follow-up equals observed events (Cox score equations)
    o = observed_events(patients, m).sum()
    e = expected_events(patients, m).sum()
    assert e == pytest.approx(o, rel=1e-3)
    # in-sample the Poisson recalibration is 0 / 1 by construction, so calibration is reported on
    # 5-fold cross-validated predictions: a correctly specified model stays near 0 / 1 out of sample
    assert m.validation.startswith("5-fold cross-validated") and len(m.deciles) == 10
    assert m.calibration_slope == pytest.approx(1, abs=0.2)
    assert m.calibration_in_the_large == pytest.approx(0, abs=0.1)
    # the recalibration itself, checked on the same fit: intercept 0 and slope 1 in-sample
    from carevalue.engine.risk.casemix import linear_predictor
    from carevalue.engine.risk.validation import validate_counts
    v = validate_counts(observed_events(patients, m), expected_events(patients, m),
                        linear_predictor(patients, m), "apparent")
    assert v.calibration_intercept == pytest.approx(0, abs=1e-3)
    assert v.calibration_slope == pytest.approx(1, abs=0.05)
    t = ibis.memtable(patients)
    got = t.select(p=score_expression(t, m)).to_pandas()["p"].to_numpy()
    np.testing.assert_allclose(got, expected(patients, m).to_numpy(), rtol=1e-10)
    assert 0.55 < m.c_statistic < 0.8


def test_kaplan_meier_with_censoring_matches_lifelines(patients):
    assert patients["died"].mean() < 0.95  # there is censoring
    got = kaplan_meier_at(patients, "years", "died", [1.0, 3.0, 5.0], by="asa")
    for asa, g in patients.groupby("asa"):
        km = KaplanMeierFitter().fit(g["years"], g["died"])
        want = km.survival_function_at_times([1.0, 3.0, 5.0]).to_numpy()
        mine = got[got["group"] == asa]
        np.testing.assert_allclose(mine["survival"].to_numpy(), want, rtol=1e-12)
        ci = km.confidence_interval_survival_function_
        for tp, lo in zip(mine["time"], mine["lower"], strict=True):
            idx = ci.index[ci.index <= tp].max()
            assert lo == pytest.approx(ci.loc[idx].iloc[0], rel=1e-6)


def test_kaplan_meier_small_hand_case():
    # times 1,2+,3,4+,5: S(3) = (1 - 1/5)(1 - 1/3) = 0.5333
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5], "e": [1, 0, 1, 0, 1]})
    got = kaplan_meier_at(df, "t", "e", [3], min_at_risk=1)
    assert got["survival"].iloc[0] == pytest.approx(0.8 * (2 / 3))
    # with the default rule (>= 11 at risk) five patients are too few to estimate anything
    assert kaplan_meier_at(df, "t", "e", [3]).status.iloc[0] == "not estimable"
    assert kaplan_meier_at(df.iloc[:0], "t", "e", [3]).empty
