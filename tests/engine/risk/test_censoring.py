"""Censoring (issue 10, item 3): each patient's own follow-up; a time point beyond the data or with
fewer than 11 patients at risk is 'not estimable', with the number at risk shown."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from carevalue.engine.outcome_comparison import compare_binary
from carevalue.engine.risk.casemix import kaplan_meier_at


def follow_up_ends_at_914_days(seed: int = 0, n: int = 160) -> pd.DataFrame:
    """Like the demo's breast-cancer cohort: entry spread over 2.5 years, data end fixed, so
    follow-up runs 0-914 days; deaths at ~8% a year."""
    rng = np.random.default_rng(seed)
    follow = rng.uniform(30, 914, n)
    death = rng.exponential(365 / 0.08, n)
    t = np.minimum(follow, death)
    event = (death <= follow).astype(int)
    return pd.DataFrame({"organization_id": rng.choice(["A", "B", "C"], n), "t": t, "event": event})


def test_km_beyond_follow_up_is_not_estimable_with_at_risk_shown() -> None:
    df = follow_up_ends_at_914_days()
    km = kaplan_meier_at(df, "t", "event", [365, 730, 1825]).set_index("time")
    assert km.loc[365, "status"] == "ok" and 0 < km.loc[365, "survival"] < 1
    five = km.loc[1825]
    assert five.status == "not estimable" and np.isnan(five.survival) and np.isnan(five.lower)
    assert five.at_risk == 0 and "beyond the data's follow-up" in five.reason
    # every patient without a death is censored before 5 years
    assert five.censored == int((df.event == 0).sum())
    # the 5-year estimate is not the 2-year one carried forward
    assert km.loc[730, "survival"] != five.survival


def test_km_with_fewer_than_11_at_risk_is_not_estimable() -> None:
    # 20 patients; times 1..20, no events: at t = 11 there are 10 still at risk (t >= 11)
    df = pd.DataFrame({"t": np.arange(1, 21, dtype=float), "e": 0})
    df.loc[0, "e"] = 1
    km = kaplan_meier_at(df, "t", "e", [10, 11]).set_index("time")
    assert km.loc[10, "at_risk"] == 11 and km.loc[10, "status"] == "ok"
    assert km.loc[10, "survival"] == pytest.approx(19 / 20)
    assert km.loc[11, "at_risk"] == 10 and km.loc[11, "status"] == "not estimable"
    assert "10 at risk (< 11)" in km.loc[11, "reason"]


def test_comparison_at_a_time_point_beyond_follow_up_is_not_estimable() -> None:
    df = follow_up_ends_at_914_days(seed=2)
    horizon = 1825.0
    rows = df.assign(time_days=df.t.where(df.event == 1, np.minimum(df.t, horizon)),
                     censored=(df.event == 0) & (df.t < horizon),
                     value=np.where((df.event == 0) & (df.t < horizon), np.nan, df.event.astype(float)))
    key = {"condition": "c", "measure": "survival", "time_point": "5 years", "scale": None}
    out = compare_binary(ibis.memtable(rows), key, [], [], False, horizon)
    assert len(out) == 1 and out.status.iloc[0] == "not estimable"
    assert out.at_risk.iloc[0] == 0 and "0 of 160 patients still followed" in out.reason.iloc[0]
