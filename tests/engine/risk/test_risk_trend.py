"""A measure by period with intervals, computed in the backend."""

import ibis
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from carevalue.engine.risk.trend import measure_by_period


@pytest.fixture
def rows():
    return pd.DataFrame({
        "ts": pd.to_datetime(["2023-01-05", "2023-02-01", "2023-08-01", "2024-03-03", "2024-11-30",
                              "2024-12-01"]),
        "prov": ["a", "a", "b", "a", "b", "b"],
        "y": [1, 0, 0, 1, 1, 0], "p": [0.2, 0.3, 0.1, 0.4, 0.5, 0.5], "score": [10, 20, 30, 40, 50, 60],
    })


def test_year_proportion_with_wilson(rows):
    out = measure_by_period(ibis.memtable(rows), "ts", "y", expected="p")
    assert out["period"].tolist() == ["2023", "2024"]
    assert out["estimate"].tolist() == pytest.approx([1 / 3, 2 / 3])
    lo, hi = proportion_confint(1, 3, method="wilson")
    assert (out["lower"].iloc[0], out["upper"].iloc[0]) == pytest.approx((lo, hi))
    assert out["oe_ratio"].iloc[1] == pytest.approx(2 / 1.4)


def test_quarter_by_provider_mean(rows):
    out = measure_by_period(ibis.memtable(rows), "ts", "score", kind="mean", period="quarter",
                            by=["prov"])
    a23 = out[(out.prov == "a") & (out.period == "2023-Q1")].iloc[0]
    assert a23["n"] == 2 and a23["estimate"] == pytest.approx(15)
    assert a23["upper"] - a23["estimate"] == pytest.approx(12.706204736 * np.std([10, 20], ddof=1) / np.sqrt(2))
    assert "2024-Q4" in set(out.period)


def test_no_rows(rows):
    out = measure_by_period(ibis.memtable(rows.iloc[:0]), "ts", "y")
    assert out.empty and "estimate" in out.columns
