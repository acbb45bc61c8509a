"""The fit sample cap (issue 12): a comparison fits its case-mix model on at most FIT_SAMPLE rows,
chosen independently of row order, and scores every row; on a planted population the capped
comparison agrees with the full fit and still finds the planted provider."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carevalue.engine import outcome_comparison
from carevalue.engine.outcome_comparison import compare_binary, compare_continuous
from carevalue.engine.risk.sampling import fit_rows

KEY = {"condition": "c", "measure": "m", "time_point": "1 year", "scale": None}


def planted(seed: int = 0, n_per: int = 800) -> pd.DataFrame:
    """Ten providers, one ("W") with twice the hazard; age raises the hazard; 30% censored early."""
    rng = np.random.default_rng(seed)
    parts = []
    for org in [f"P{i}" for i in range(9)] + ["W"]:
        age = rng.normal(70, 8, n_per)
        hazard = 0.001 * np.exp(0.04 * (age - 70)) * (2.0 if org == "W" else 1.0)
        t_event = rng.exponential(1 / hazard)
        t_cens = np.where(rng.random(n_per) < 0.3, rng.uniform(1, 365, n_per), 365.0)
        time_days = np.minimum(t_event, t_cens)
        event = (t_event <= t_cens).astype("int64")
        parts.append(pd.DataFrame({"organization_id": org, "age": age, "event": event,
                                   "time_days": time_days, "censored": (event == 0) & (t_cens < 365),
                                   "value": 50 - 0.3 * (age - 70) + (4.0 if org == "W" else 0.0)
                                   + rng.normal(0, 5, n_per)}))
    return pd.concat(parts, ignore_index=True)


def test_fit_rows_respects_the_cap_and_ignores_row_order() -> None:
    df = planted(1)
    sample = fit_rows(df, 1000)
    assert len(sample) == 1000 and fit_rows(df, len(df)) is df and fit_rows(df, None) is df
    shuffled = df.sample(frac=1.0, random_state=7)
    again = fit_rows(shuffled, 1000)
    assert sorted(again.index) == sorted(sample.index)  # same rows whatever order they came in
    other = fit_rows(df, 1000, seed=1)
    assert 0 < len(set(other.index) & set(sample.index)) < 1000  # another seed, another sample


@pytest.mark.parametrize("compare", ["cox", "linear"])
def test_capped_comparison_is_close_to_the_full_fit(monkeypatch: pytest.MonkeyPatch, compare: str) -> None:
    df = planted(2)
    assert df.censored.any()

    def run() -> pd.DataFrame:
        if compare == "cox":
            out = compare_binary(df, KEY, ["age"], [], False, 365.0)
        else:
            out = compare_continuous(df, KEY, ["age"], [], True)
        return out.set_index("organization_id")

    full = run()
    monkeypatch.setattr(outcome_comparison, "FIT_SAMPLE", 2000)
    capped = run()
    assert capped.status.eq("ok").all() and "sample of 2000 of 8000" in capped.message.iloc[0]
    assert full.model.iloc[0] == capped.model.iloc[0] == ("cox" if compare == "cox" else "linear")
    assert capped.n.sum() == full.n.sum() == len(df)  # every patient is scored, not only the sample
    assert capped.observed.equals(full.observed)
    if compare == "cox":  # O/E moves by sampling noise in the coefficients only: well under 5%
        assert np.allclose(capped.oe, full.oe, rtol=0.05)
    else:  # O-E (score points) moves by far less than the planted 4-point difference
        assert np.allclose(capped.oe, full.oe, atol=0.5)
    planted_flag = "worse" if compare == "cox" else "better"
    assert capped.loc["W", "flag_95"] == full.loc["W", "flag_95"] == planted_flag
    assert (capped.flag_998 == full.flag_998).all()
    assert capped.equals(run())  # deterministic: the same sample and numbers every time
