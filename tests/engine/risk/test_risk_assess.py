"""End to end for one measure: planted providers flagged, case-mix confounding removed."""

import ibis
import numpy as np
import pandas as pd
import pytest

from carevalue.engine.risk.assess import compare_providers
from carevalue.engine.risk.flags import funnel_flags
from carevalue.engine.risk.funnel import funnel


def registry(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, providers = 16000, 30
    prov = rng.integers(0, providers, n)
    effect = np.zeros(providers)
    effect[0], effect[1] = 0.9, -1.0  # planted worse and better
    age = rng.normal(68, 8, n)
    age[prov == 2] += 12  # provider 2 treats much older patients, no provider effect
    asa = rng.choice(["1", "2", "3"], n, p=[0.3, 0.5, 0.2])
    lp = -2.6 + 0.07 * (age - 68) + np.where(asa == "3", 0.9, np.where(asa == "2", 0.3, 0)) + effect[prov]
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return pd.DataFrame({"provider_id": [f"H{i:02d}" for i in prov], "age": age, "asa": asa,
                         "complication": y})


@pytest.mark.parametrize("seed", [11, 12])
def test_planted_providers_flagged_and_confounded_one_cleared(seed):
    df = registry(seed)
    result = compare_providers(ibis.memtable(df), measure="complications-90d",
                               provider="provider_id", outcome="complication",
                               variables=["age", "asa"], categorical=["asa"])
    assert result.status == "ok", result.message
    p = result.providers.set_index("provider")
    assert p.loc["H00", "flag_99_8"] == "worse" and p.loc["H00", "srtr_flag"] == "worse"
    assert p.loc["H01", "flag_99_8"] == "better"
    assert p.loc["H02", "flag_99_8"] == "as expected"
    average = p.drop(index=["H00", "H01"])
    assert (average["flag_99_8"] == "as expected").all()
    # before risk adjustment (crude rates against the overall rate) H02 looks worse
    counts = df.groupby("provider_id")["complication"].agg(["size", "sum"]).reset_index()
    counts.columns = ["provider", "n", "observed"]
    crude = funnel_flags(funnel(counts, "proportion", overdispersion="none")).set_index("provider")
    assert crude.loc["H02", "flag_99_8"] == "worse"
    perf = result.performance()
    assert perf["c_statistic"] > 0.6 and abs(perf["calibration_in_the_large"]) < 0.1
    assert 0.8 < perf["calibration_slope"] < 1.2 and perf["adjustment"] == "case-mix"


def test_measure_with_no_eligible_patients():
    df = registry(1).iloc[:0]
    result = compare_providers(ibis.memtable(df), measure="none", provider="provider_id",
                               outcome="complication", variables=["age"])
    assert result.status == "empty"
    assert "no eligible patients" in result.message
    assert result.providers.empty and "flag_99_8" in result.providers.columns


def test_model_that_cannot_converge_reports_status():
    df = registry(1)
    df["complication"] = (df["age"] > 75).astype(int)  # perfectly separated by age
    result = compare_providers(ibis.memtable(df), measure="sep", provider="provider_id",
                               outcome="complication", variables=["age"])
    assert result.status == "separation"
    assert "perfect separation" in result.message
    assert result.providers.empty


def test_provider_with_zero_events():
    df = registry(3)
    df.loc[df.provider_id == "H05", "complication"] = 0
    result = compare_providers(ibis.memtable(df), measure="m", provider="provider_id",
                               outcome="complication", variables=["age", "asa"], categorical=["asa"])
    h5 = result.providers.set_index("provider").loc["H05"]
    assert h5["observed"] == 0 and h5["oe_ratio"] == 0 and h5["oe_lower"] == 0
    assert np.isfinite(h5["oe_upper"]) and h5["oe_upper"] > 0
    assert 0 < h5["shrunk_ratio"] < 1


def test_model_fitted_on_a_sample_scores_everyone():
    df = registry(11)
    result = compare_providers(ibis.memtable(df), measure="m", provider="provider_id",
                               outcome="complication", variables=["age", "asa"],
                               categorical=["asa"], fit_sample=5000)
    assert result.model is not None and result.model.n == 5000
    assert result.providers["n"].sum() == len(df)
    assert result.providers.set_index("provider").loc["H00", "flag_99_8"] == "worse"
