"""Issue 5 acceptance on the synthetic population (one seed; benchmarks/outcome_seeds.py runs many):
90-day complications after hip and knee replacement, pooled as CMS COMP-HIP-KNEE. Planted truth in
truth/provider_effects.csv: the academic centre has odds ratio 0.45 (better), CH2 2.3 (worse), CH3
1.0 but sicker patients (looks worse before adjustment only), CH1 and the ASC 1.0.

Population size: 50,000 patients give ~3,300 arthroplasties and ~120 complications; with fewer,
the better provider (E ~ 25 at this size) is not reliably separable from chance (see docs/outcomes.md).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PATIENTS, SEED = 50_000, 3
CONDITIONS = ("hip-osteoarthritis", "knee-osteoarthritis")


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from carevalue.engine import outcomes
    from carevalue.planted_truth import outcome_store, planted_odds_ratios

    warnings.filterwarnings("ignore")
    out = Path(tmp_path_factory.mktemp("synth-outcomes"))
    con, tpls = outcome_store(PATIENTS, SEED, out, CONDITIONS)
    table = outcomes.compare_measure(con, tpls, "complications-90d")
    con.disconnect()
    truth = planted_odds_ratios(out, CONDITIONS[0]).rename(columns={"odds_ratio": "value"})
    return table.merge(truth, on="organization_id")


def test_model_is_fitted_with_case_mix(compared) -> None:  # type: ignore[no-untyped-def]
    assert compared.status.eq("ok").all()
    assert {"age", "asa-class", "bmi"} <= set(compared.variables.iloc[0].split(","))
    assert compared.c_statistic.iloc[0] > 0.65


def test_planted_better_and_worse_providers_are_flagged(compared) -> None:  # type: ignore[no-untyped-def]
    better = compared[compared.value < 1]
    worse = compared[(compared.value > 1)].sort_values("n").iloc[-1:]  # the high-volume worse one
    assert (better.flag_95 == "better").all(), better
    assert (worse.flag_95 == "worse").all(), worse


def test_no_average_provider_flagged_at_99_8(compared) -> None:  # type: ignore[no-untyped-def]
    avg = compared[compared.value == 1]
    assert len(avg) >= 3
    # never flagged better or worse; "not assessable at 99.8%" (too few expected events) is no flag
    assert (~avg.flag_998.isin(["better", "worse"])).all(), avg


def test_sicker_case_mix_looks_worse_only_before_adjustment(compared) -> None:  # type: ignore[no-untyped-def]
    sicker = compared[compared.note.str.contains("sicker")]
    assert len(sicker) == 1
    assert sicker.crude_flag_95.iloc[0] == "worse"
    assert sicker.flag_95.iloc[0] == "as expected"
    assert sicker.oe.iloc[0] < sicker.observed.iloc[0] / (sicker.n.iloc[0] * compared.observed.sum() / compared.n.sum())
