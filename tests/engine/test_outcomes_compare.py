"""Provider comparison edge cases (issue 5): a provider with zero events, a measure with no
eligible patients, a model that cannot converge, censoring for time-to-event measures, and
small-cell suppression. Simulated rows with known structure; expected numbers derived in comments."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from carevalue.engine.outcome_comparison import compare_binary, compare_continuous
from carevalue.queries.privacy import suppress

KEY = {"condition": "c", "measure": "m", "time_point": "90 days", "scale": None}


def _rows(n_per: dict[str, int], rate: dict[str, float], seed: int = 0, censor: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for org, n in n_per.items():
        age = rng.normal(70, 8, n)
        p = 1 / (1 + np.exp(-(np.log(rate[org] / (1 - rate[org])) + 0.05 * (age - 70))))
        event = (rng.random(n) < p).astype("int64")
        t_event = rng.uniform(1, 90, n)
        cens = rng.random(n) < censor
        t_cens = rng.uniform(1, 90, n)
        # a censored patient without an event before the censoring time: unknown at 90 days
        censored = cens & ~((event == 1) & (t_event <= t_cens))
        time_days = np.where(event == 1, t_event, 90.0)
        time_days = np.where(censored, t_cens, time_days)
        event = np.where(censored, 0, event)
        parts.append(pd.DataFrame({"organization_id": org, "age": age, "event": event,
                                   "value": np.where(censored, np.nan, event.astype(float)),
                                   "time_days": time_days, "censored": censored}))
    return pd.concat(parts, ignore_index=True)


def test_provider_with_zero_events_gets_ratio_zero_and_finite_upper_limit() -> None:
    df = _rows({"A": 300, "B": 300, "Z": 60}, {"A": 0.1, "B": 0.1, "Z": 0.1})
    df.loc[df.organization_id == "Z", ["event", "value"]] = 0
    out = compare_binary(ibis.memtable(df), KEY, ["age"], [], False, 90.0)
    z = out.set_index("organization_id").loc["Z"]
    assert out.status.eq("ok").all()
    assert z.observed == 0 and z.oe == 0 and z.ci_low == 0
    # exact Poisson upper limit for O = 0 is -ln(0.025) = 3.689 expected events, divided by E
    assert z.ci_high == pytest.approx(3.6889 / z.expected, rel=1e-3)
    # E ~ 6 < -ln(0.001) = 6.91: even 0 events leaves the 99.8% upper limit above 1, so 'better'
    # cannot be reached at 99.8% -- the flag says so instead of 'as expected'
    assert z.expected < 6.91 and z.flag_998 == "not assessable at 99.8%"
    assert z.ci_high_998 == pytest.approx(6.9078 / z.expected, rel=1e-3) and z.ci_high_998 > 1
    assert "better not reachable at 99.8%" in z.not_assessable


def test_measure_with_no_eligible_patients_is_a_status_row() -> None:
    empty = ibis.memtable(_rows({"A": 5}, {"A": 0.5}).iloc[0:0])
    for out in (compare_binary(empty, KEY, ["age"], [], False, 90.0),
                compare_continuous(empty, KEY, ["age"], [], True)):
        assert len(out) == 1 and out.status.iloc[0] == "empty"
        assert "no eligible patients" in out.message.iloc[0]
        assert pd.isna(out.organization_id.iloc[0])


def test_model_that_cannot_converge_reports_why() -> None:
    df = _rows({"A": 200, "B": 200}, {"A": 0.2, "B": 0.2})
    df["marker"] = df["event"].astype(float)  # predicts the outcome perfectly
    out = compare_binary(ibis.memtable(df), KEY, ["age", "marker"], [], False, 90.0)
    assert len(out) == 1 and out.status.iloc[0] == "separation"
    assert "perfect separation" in out.message.iloc[0]


def test_outcome_that_never_happens_is_no_variation() -> None:
    df = _rows({"A": 50, "B": 50}, {"A": 0.2, "B": 0.2})
    df["event"] = 0
    out = compare_binary(ibis.memtable(df), KEY, ["age"], [], False, 90.0)
    assert out.status.iloc[0] == "insufficient data" and "0 events" in out.reason.iloc[0]


def test_censored_follow_up_uses_cox_and_counts_only_observed_time() -> None:
    df = _rows({"A": 400, "B": 400, "W": 400}, {"A": 0.15, "B": 0.15, "W": 0.45}, seed=3, censor=0.3)
    assert df.censored.any()
    out = compare_binary(ibis.memtable(df), KEY, ["age"], [], False, 90.0)
    assert out.status.eq("ok").all()
    assert out.statistic.iloc[0] == "O/E events (Cox)" and out.model.iloc[0] == "cox"
    assert "censored" in out.message.iloc[0]
    by = out.set_index("organization_id")
    # every patient is counted, censored ones contribute expected events only for their own time
    assert by.n.sum() == len(df)
    assert by.observed.sum() == df.event.sum()
    assert by.expected.sum() == pytest.approx(df.event.sum(), rel=0.02)  # Cox: sum E = sum O
    assert by.loc["W", "flag_95"] == "worse" and by.loc["A", "flag_998"] == "as expected"


def test_uncensored_binary_uses_logistic_and_flags_planted_provider() -> None:
    # Nine average providers and one planted worse one (rate 0.3 vs 0.1): with few providers a
    # large outlier would shift everyone's expected count (indirect standardisation), so use ten.
    orgs = [f"P{i}" for i in range(9)] + ["W"]
    df = _rows({o: 300 for o in orgs}, {o: 0.3 if o == "W" else 0.1 for o in orgs}, seed=5)
    out = compare_binary(ibis.memtable(df), KEY, ["age"], [], False, 90.0).set_index("organization_id")
    assert (out.model == "logistic").all()
    assert out.loc["W", "flag_998"] == "worse"
    assert (out.drop(index="W").flag_998 == "as expected").all()
    assert out.c_statistic.notna().all() and out.observed.sum() == df.event.sum()


def test_continuous_measure_adjusts_for_case_mix() -> None:
    rng = np.random.default_rng(1)
    n = 300
    frames = []
    for org, shift, age_mean in (("A", 0.0, 60), ("B", 0.0, 75), ("G", 5.0, 65)):
        age = rng.normal(age_mean, 5, n)
        frames.append(pd.DataFrame({"organization_id": org, "age": age,
                                    "value": 80 - 0.8 * (age - 65) + shift + rng.normal(0, 6, n)}))
    df = pd.concat(frames, ignore_index=True)
    out = compare_continuous(ibis.memtable(df), KEY, ["age"], [], True).set_index("organization_id")
    # B's patients are older: crude 12 points below A (0.8 x 15 years), adjusted level with A;
    # G is planted 5 points better than both
    assert out.loc["B", "crude_flag_95"] == "worse"
    assert out.loc["A", "observed"] - out.loc["B", "observed"] == pytest.approx(12, abs=2)
    assert out.loc["B", "oe"] - out.loc["A", "oe"] == pytest.approx(0, abs=1.5)
    assert out.loc["G", "flag_998"] == "better"
    assert out.loc["G", "oe"] - out.loc["A", "oe"] == pytest.approx(5, abs=1.5)


def test_suppress_small_cells_hides_counts_below_eleven() -> None:
    rows = [{"organization_id": "a", "n": 10, "observed": 3, "oe": 1.2, "flag_95": "worse"},
            {"organization_id": "b", "n": 11, "observed": 4, "oe": 0.8, "flag_95": "x"},
            {"organization_id": "c", "n": None, "observed": None, "oe": None, "flag_95": None}]
    out = suppress(rows, ("n",), values=["observed", "oe"])
    assert out[0]["n"] == "<11" and out[0]["observed"] is None and out[0]["oe"] is None
    assert out[0]["flag_95"] == "worse"  # not listed: kept
    assert out[1]["n"] == 11 and out[1]["observed"] == 4
    assert rows[0]["n"] == 10  # the input is not changed
